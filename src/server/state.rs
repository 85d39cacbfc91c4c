//! The state every handler and server function shares.

use crate::domain::health::Policy;
use crate::emulator::Emulator;
use crate::server::config::Config;
use crate::server::crypto::Keyring;
use crate::server::db::Pool;
use crate::server::x::XClient;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Handed to the router and provided as context to server functions.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub pool: Pool,
    pub keyring: Arc<Keyring>,
    /// The client for the X app authwatch runs with (the emulator's in demo mode).
    pub x: XClient,
    pub policy: Policy,
    /// Every account's summary, kept in memory while unchanged.
    pub snapshot: Arc<crate::server::snapshot::AccountsSnapshot>,
    /// The refresh engine: every refresh goes through it.
    pub engine: Arc<crate::server::lifecycle::engine::Engine>,
    /// Browser sessions (the OAuth attempts in flight, result messages).
    pub sessions: crate::server::db::sessions::Store,
    /// Prompts' notification channels (webhook, Slack, email).
    pub notifier: Arc<crate::server::notify::Notifier>,
    /// The in-process X emulator, present in demo mode only.
    pub emulator: Option<Emulator>,
    /// The publishing pipeline's API: settings and its short-lived memory.
    pub pipeline: Arc<crate::server::pipeline::Pipeline>,
    /// Password hashing and verification: bounded slots and the dummy hash.
    pub passwords: Arc<crate::server::auth::password::Passwords>,
    /// The change feed behind live updates (`/live`).
    pub changes: Arc<crate::server::changes::Changes>,
}
