//! A health check: ask X whose token this is (`GET /2/users/me`).

use super::{observe_billing, observe_clock, AccountError};
use crate::domain::checks::must_ask;
use crate::domain::health::{AttemptResult, Cause};
use crate::server::db::accounts;
use crate::server::db::apps;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::reads;
use crate::server::x::now_ms;
use crate::server::AppState;

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Alive,
    Failed { cause: Cause },
}

/// What counts as a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// Ask X (`GET /2/users/me`), whatever else is known.
    AskX,
    /// A proof of life — a connect, a refresh, a publish or a check that X
    /// answered — this UTC day or within this many ms is proof enough: X
    /// bills a user read per user and day, and such a proof costs nothing.
    ProvedToday(i64),
}

/// Checks `account_id` against X now (or, with [`Proof::ProvedToday`],
/// takes today's proof of life as the answer).
pub async fn check(state: &AppState, account_id: &str, actor: &str, proof: Proof) -> Result<Checked, AccountError> {
    let tokens = accounts::tokens(&state.pool, &state.keyring, account_id)
        .await?
        .ok_or_else(|| AccountError::UnknownAccount(account_id.to_owned()))?;
    if let Proof::ProvedToday(window) = proof {
        let summary = accounts::summary(&state.pool, account_id).await?;
        if let Some(at) = summary.and_then(|s| s.last_verified_at) {
            let now = now_ms();
            if !must_ask(Some(at), now, window) {
                let ok = NewEvent {
                    kind: EventKind::Check,
                    generation_before: Some(tokens.generation),
                    generation_after: Some(tokens.generation),
                    actor: actor.to_owned(),
                    detail: Some(format!("proof of life: X proved the grant alive at {}; X was not asked", crate::app::format::utc(at))),
                    ..NewEvent::default()
                };
                events::append(&state.pool, account_id, now, &ok, AttemptResult::Verified).await?;
                return Ok(Checked::Alive);
            }
        }
    }
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
            if let Err(e) = reads::record(&state.pool, account_id, now).await {
                tracing::warn!(account_id, error = %e, "could not count the billed user read");
            }
            let ok = NewEvent { detail: Some(format!("X says this token is @{}", me.user.username)), ..base };
            events::append(&state.pool, account_id, now, &ok, AttemptResult::Verified).await?;
            if let Err(e) = crate::server::notify::settle_account(state, account_id, now).await {
                tracing::warn!(account_id, error = %e, "could not close the recovered account's prompt");
            }
            Ok(Checked::Alive)
        }
        Err(error) => {
            let now = now_ms();
            observe_clock(state, error.clock_offset_ms(), now).await;
            observe_billing(state, &error, now).await;
            let mut cause = error.cause();
            // A 401 for a token we believe valid: revoked — unless our clock
            // is so far off that "valid" is wrong.
            if cause == Cause::UserRevoked && now >= tokens.expires_at {
                cause = Cause::AccessTokenExpired;
            } else if cause == Cause::UserRevoked {
                let offset = apps::facts(&state.pool, &state.x.app().client_id).await?.clock_offset_ms.unwrap_or(0);
                if offset.abs() > state.policy.clock_drift_threshold_ms && now + offset >= tokens.expires_at {
                    // Expired by X's clock, valid by ours: the clock, not the grant.
                    cause = Cause::ClockDrift;
                }
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
