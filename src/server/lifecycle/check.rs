//! A health check: ask X whose token this is (`GET /2/users/me`).

use super::observe_clock;
use crate::domain::health::{AttemptResult, Cause};
use crate::server::db::accounts::{self, TokenStoreError};
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::x::now_ms;
use crate::server::AppState;

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Alive,
    Failed { cause: Cause },
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no account {0}")]
    UnknownAccount(String),
    #[error(transparent)]
    Store(#[from] TokenStoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Checks `account_id`'s access token against X now.
pub async fn check(state: &AppState, account_id: &str, actor: &str) -> Result<Checked, CheckError> {
    let tokens = accounts::tokens(&state.pool, &state.keyring, account_id)
        .await?
        .ok_or_else(|| CheckError::UnknownAccount(account_id.to_owned()))?;
    let base = NewEvent {
        kind: EventKind::Check,
        generation_before: Some(tokens.generation),
        generation_after: Some(tokens.generation),
        actor: actor.to_owned(),
        ..NewEvent::default()
    };
    match state.x.users_me(&tokens.access).await {
        Ok(me) => {
            let now = now_ms();
            observe_clock(state, me.clock_offset_ms, now).await;
            let ok = NewEvent { detail: Some(format!("X says this token is @{}", me.user.username)), ..base };
            events::append(&state.pool, account_id, now, &ok, AttemptResult::Verified).await?;
            Ok(Checked::Alive)
        }
        Err(error) => {
            let now = now_ms();
            let mut cause = error.cause();
            // A 401 for a token we believe valid: revoked — unless our clock
            // is so far off that "valid" is wrong.
            if cause == Cause::UserRevoked && now >= tokens.expires_at {
                cause = Cause::AccessTokenExpired;
            }
            let failed = NewEvent {
                outcome: Outcome::Failed,
                cause: Some(cause),
                http_status: error.status(),
                x_error: Some(error.body()),
                ..base
            };
            let result = if cause == Cause::AccessTokenExpired { AttemptResult::Inconclusive } else { AttemptResult::Failed(cause) };
            events::append(&state.pool, account_id, now, &failed, result).await?;
            Ok(Checked::Failed { cause })
        }
    }
}
