//! The state every handler and server function shares.

use crate::emulator::Emulator;
use crate::server::config::Config;
use crate::server::db::Pool;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Handed to the router and provided as context to server functions.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub pool: crate::server::db::Pool,
    /// The in-process X emulator, present in demo mode only.
    pub emulator: Option<Emulator>,
}

impl AppState {
    pub fn new(config: Config, leptos_options: LeptosOptions, pool: Pool, emulator: Option<Emulator>) -> Self {
        Self { leptos_options, config: Arc::new(config), pool, emulator }
    }
}
