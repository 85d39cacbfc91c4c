//! The token lifecycle: connecting an account (the code exchange behind the
//! OAuth callback), refreshing it, and checking it against X. Each step
//! writes its event and its new tokens in one transaction.

pub mod check;
pub mod connect;
pub mod engine;
pub mod probe;
pub mod refresh;

use crate::domain::health::Cause;
use crate::server::db;
use crate::server::db::accounts::TokenStoreError;
use crate::server::x::XError;
use crate::server::AppState;

/// Why a refresh or a check could not run or be recorded (X's own refusals
/// are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no account {0}")]
    UnknownAccount(String),
    #[error(transparent)]
    Store(#[from] TokenStoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Records X's clock against ours, from an answer's `date` header.
async fn observe_clock(state: &AppState, offset_ms: Option<i64>, at: i64) {
    let Some(offset) = offset_ms else { return };
    let client_id = &state.x.app().client_id;
    if let Err(e) = db::apps::clock_measured(&state.pool, client_id, offset, at).await {
        tracing::warn!(error = %e, "could not record the measured clock offset");
    }
}

/// X refused a call for the app's billing (402 "credits depleted"): the
/// app's incident, in X's words — never the account's.
pub(crate) async fn observe_billing(state: &AppState, error: &XError, at: i64) {
    if error.cause() != Cause::CreditsDepleted {
        return;
    }
    let client_id = &state.x.app().client_id;
    match db::apps::credits_depleted(&state.pool, client_id, &error.body(), at).await {
        Ok(()) => tracing::warn!("X refuses the app's calls: credits depleted (402)"),
        Err(e) => tracing::warn!(error = %e, "could not record the app's depleted credits"),
    }
}
