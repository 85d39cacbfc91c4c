//! One refresh of one account: write the intent, call X, then save the new
//! access token and the rotated refresh token atomically — or classify why
//! not. Callers go through [`super::engine::Engine`], which makes sure only
//! one refresh per account runs at a time, across processes.

use super::{observe_clock, try_access, AccountError};
use crate::domain::health::{AttemptResult, Cause};
use crate::domain::verdict::{after_rejected_refresh, RejectedRefresh};
use crate::server::db::accounts::{self, TokenGrant};
use crate::server::db::apps;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::x::{now_ms, XError};
use crate::server::AppState;
use std::time::Duration;

/// How a refresh ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// New tokens saved as this generation.
    Saved { generation: i64 },
    /// Another writer (a reconnect, another process) handled it meanwhile:
    /// its tokens and outcome stand.
    LostRace { generation: i64 },
    /// The token was not due (the scheduler's second look, under the lease).
    NotDue { generation: i64 },
    /// X refused or failed; the cause is recorded on the account.
    Failed { cause: Cause, retry_at: Option<i64> },
}

/// Refreshes `account_id` now, unless `due_before` is given and the access
/// token lives past it. The caller holds the account's refresh lease.
pub async fn refresh(
    state: &AppState,
    account_id: &str,
    actor: &str,
    due_before: Option<i64>,
) -> Result<Refreshed, AccountError> {
    let tokens = accounts::tokens(&state.pool, &state.keyring, account_id)
        .await?
        .ok_or_else(|| AccountError::UnknownAccount(account_id.to_owned()))?;
    let generation = tokens.generation;
    // An OAuth 1.0a token never expires and has nothing to refresh with:
    // never a refresh, and never a "no refresh token" verdict.
    if !tokens.flow.expires() {
        return Ok(Refreshed::NotDue { generation });
    }
    let summary = accounts::summary(&state.pool, account_id).await?;
    let answer_lost_before =
        summary.as_ref().and_then(|s| s.incident()).is_some_and(|i| i.cause == Cause::RefreshAnswerLost);
    if let Some(due_before) = due_before {
        // A lost answer is verified whatever the expiry says.
        if tokens.expires_at > due_before && !answer_lost_before {
            return Ok(Refreshed::NotDue { generation });
        }
    }
    let event = |outcome, cause: Option<Cause>| NewEvent {
        kind: EventKind::Refresh,
        outcome,
        cause,
        generation_before: Some(generation),
        actor: actor.to_owned(),
        ..NewEvent::default()
    };

    let Some(refresh_token) = tokens.refresh else {
        let cause = Cause::NoRefreshToken;
        events::append(
            &state.pool,
            account_id,
            now_ms(),
            &event(Outcome::Failed, Some(cause)),
            AttemptResult::Failed(cause),
        )
        .await?;
        return Ok(Refreshed::Failed { cause, retry_at: None });
    };

    // Read before this refresh writes its own intent: an earlier one that
    // was never answered means X may have rotated away the stored token.
    let unanswered_refresh_at = match summary.as_ref().and_then(|s| s.incident()) {
        Some(i) if i.cause == Cause::RefreshAnswerLost => Some(i.since),
        _ => events::unanswered_refresh(&state.pool, account_id, generation).await?,
    };

    // Write-ahead: if the answer is lost from here on, the log says a refresh
    // of this generation was in flight.
    events::append(&state.pool, account_id, now_ms(), &event(Outcome::Started, None), AttemptResult::Inconclusive)
        .await?;

    let started = std::time::Instant::now();
    let result = state.x.refresh(&refresh_token).await;
    metrics::histogram!("authwatch_refresh_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(granted) => {
            observe_clock(state, granted.clock_offset_ms, granted.received_at).await;
            let issued_at = granted.received_at;
            let expires_at = issued_at
                + i64::try_from(granted.expires_in.min(Duration::from_secs(86_400 * 365)).as_millis()).unwrap_or(0);
            // X omits refresh_token without offline.access: keep the old one
            // rather than store nothing.
            let kept_old = granted.refresh.is_none();
            let refresh = granted.refresh.unwrap_or(refresh_token);
            let grant = TokenGrant::new(granted.access, Some(refresh), granted.scopes, issued_at, expires_at)?;
            let mut tx = state.pool.begin().await?;
            let Some(next) = accounts::replace_tokens(&mut tx, &state.keyring, account_id, generation, &grant).await?
            else {
                tx.rollback().await?;
                let now = current_generation(state, account_id).await?.unwrap_or(generation);
                tracing::warn!(account_id, generation, now, "refresh lost a race: another writer saved first");
                return Ok(Refreshed::LostRace { generation: now });
            };
            let detail = if kept_old {
                "X sent no new refresh token (offline.access missing?): the previous one was kept".to_owned()
            } else {
                format!("rotated refresh token saved; X answered in {} ms", started.elapsed().as_millis())
            };
            let ok = NewEvent {
                generation_after: Some(next),
                kept_refresh_token: kept_old,
                detail: Some(detail),
                ..event(Outcome::Ok, None)
            };
            events::record(&mut tx, account_id, issued_at, &ok, AttemptResult::Renewed).await?;
            tx.commit().await?;
            if let Err(e) = apps::credentials_accepted(&state.pool, &state.x.app().client_id).await {
                tracing::warn!(error = %e, "could not clear the app credentials incident");
            }
            tracing::info!(account_id, generation = next, "refreshed");
            Ok(Refreshed::Saved { generation: next })
        }
        Err(error) => {
            let now = now_ms();
            observe_clock(state, error.clock_offset_ms(), now).await;
            let mut cause = error.cause();
            let mut why = None;
            if cause == Cause::RefreshTokenRejected {
                // Before declaring the grant dead: did another worker refresh
                // it meanwhile? Then this was a lost race, not a dead account.
                let current = current_generation(state, account_id).await?.unwrap_or(generation);
                if current != generation {
                    tracing::warn!(account_id, generation, current, "refresh token already rotated by another worker");
                    return Ok(Refreshed::LostRace { generation: current });
                }
                // X says the same for every dead refresh token: gather what
                // tells the stories apart, and let the domain decide.
                let connected_at = summary.as_ref().map_or(now, |s| s.connected_at);
                let facts = RejectedRefresh {
                    refused_at: now,
                    generation,
                    granted_at: events::granted_at(&state.pool, account_id).await?.unwrap_or(connected_at),
                    unanswered_refresh_at,
                    access: try_access(state, &tokens.access, tokens.expires_at).await?,
                };
                let verdict = after_rejected_refresh(&facts);
                cause = verdict.cause;
                why = Some(verdict.why);
            }
            if cause == Cause::AppCredentialsRejected {
                apps::credentials_rejected(&state.pool, &state.x.app().client_id, &error.body(), now).await?;
            }
            if error.maybe_processed() {
                // The request may have reached X: the refresh token may have rotated.
                cause = Cause::RefreshAnswerLost;
            }
            let failed = NewEvent {
                http_status: error.status(),
                x_error: Some(error.body()),
                detail: why,
                ..event(Outcome::Failed, Some(cause))
            };
            events::append(&state.pool, account_id, now, &failed, AttemptResult::Failed(cause)).await?;
            tracing::warn!(account_id, generation, cause = cause.as_str(), "refresh failed");
            let retry_at = match &error {
                XError::Rejected { retry_at, .. } => *retry_at,
                _ => None,
            };
            Ok(Refreshed::Failed { cause, retry_at })
        }
    }
}

async fn current_generation(state: &AppState, account_id: &str) -> Result<Option<i64>, sqlx::Error> {
    Ok(accounts::summary(&state.pool, account_id).await?.map(|s| s.generation))
}
