//! The token lifecycle: connecting an account (the code exchange behind the
//! OAuth callback), refreshing it, and checking it against X. Each step
//! writes its event and its new tokens in one transaction.

pub mod check;
pub mod connect;
pub mod engine;
pub mod refresh;

use crate::domain::health::Cause;
use crate::domain::verdict::Probe;
use crate::server::db;
use crate::server::db::accounts::TokenStoreError;
use crate::server::secret::Secret;
use crate::server::x::{now_ms, XError};
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
    /// A failure of a refresh this call waited for, shared with the other
    /// callers of the same flight.
    #[error(transparent)]
    Refresh(std::sync::Arc<AccountError>),
    /// The refresh's task stopped before it finished (it panicked, or the
    /// runtime is shutting down). Its lease expires on its own.
    #[error("the refresh stopped before it finished ({0}); it can be tried again once its lease expires")]
    Interrupted(String),
}

impl AccountError {
    /// The error of a shared refresh, as this caller's own.
    pub fn shared(e: std::sync::Arc<AccountError>) -> Self {
        match &*e {
            AccountError::UnknownAccount(id) => AccountError::UnknownAccount(id.clone()),
            _ => AccountError::Refresh(e),
        }
    }
}

/// Records X's clock against ours, from an answer's `date` header.
async fn observe_clock(state: &AppState, offset_ms: Option<i64>, at: i64) {
    let Some(offset) = offset_ms else { return };
    let client_id = &state.x.app().client_id;
    if let Err(e) = db::apps::clock_measured(&state.pool, client_id, offset, at).await {
        tracing::warn!(error = %e, "could not record the measured clock offset");
    }
}

/// How long X's refusal of an access token stands as evidence for a verdict
/// without asking X again.
const REFUSAL_STANDS_MS: i64 = 60_000;

/// `GET /2/users/me` with `access`, remembering a refusal (401) so that the
/// verdict that may follow does not ask X about the same token twice.
pub async fn users_me(state: &AppState, access: &Secret) -> Result<crate::server::x::Me, XError> {
    let result = state.x.users_me(access).await;
    if let Err(XError::Rejected { status: 401, .. }) = &result {
        state.engine.note_refused(access, now_ms(), REFUSAL_STANDS_MS);
    }
    result
}

/// Tries an access token at X (`GET /2/users/me`) to learn whether it still
/// works, as evidence for a verdict. A token expired by our clock or by X's
/// (as last measured) is not tried: its refusal would prove nothing.
async fn try_access(state: &AppState, access: &Secret, expires_at: i64) -> Result<Probe, sqlx::Error> {
    let offset = db::apps::facts(&state.pool, &state.x.app().client_id).await?.clock_offset_ms.unwrap_or(0);
    let now = now_ms();
    if now >= expires_at || now + offset >= expires_at {
        return Ok(Probe::Untested);
    }
    // A check or a report's verification just had this very token refused:
    // that is the evidence; asking again would only cost a billed call.
    if let Some(at) = state.engine.refused_since(access, now - REFUSAL_STANDS_MS) {
        return Ok(Probe::Refused { at });
    }
    let result = users_me(state, access).await;
    let at = now_ms();
    Ok(match result {
        Ok(me) => {
            observe_clock(state, me.clock_offset_ms, at).await;
            Probe::Works { at }
        }
        Err(error) => {
            observe_clock(state, error.clock_offset_ms(), at).await;
            match error {
                XError::Rejected { status: 401, .. } => Probe::Refused { at },
                // X knew the token: it lacks a scope for this call, but it lives.
                XError::Rejected { status: 403, cause: Cause::ScopeMissing, .. } => Probe::Works { at },
                _ => Probe::Untested,
            }
        }
    })
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
