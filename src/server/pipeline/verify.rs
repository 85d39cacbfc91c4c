//! Verifying a report at X before any verdict on the account. A report is a
//! program's word that X refused it; any key scoped to the account can send
//! one, so it is a hint, never a verdict. Before a report may stop an
//! account, authwatch asks X itself with the account's current token
//! (`GET /2/users/me`) and, when X refuses that token, refreshes through the
//! engine's single flight — the way every refusal is handled (docs/x-behaviour.md: a
//! 401 on a token that should be valid is not yet a verdict; a reconnect
//! only when the refresh token itself is refused). Whatever X answers goes
//! on the timeline as X's words; the account's verdict comes only from that.
//!
//! Verifications are few: concurrent reports about one account share one
//! (a single flight per account), and its result is kept for
//! [`VERIFICATION_TTL`] per account and token generation.

use super::broker;
use super::problem::ApiError;
use crate::domain::health::{AttemptResult, Cause, Who};
use crate::domain::scopes::{Scopes, PUBLISHING};
use crate::server::db::apps;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::lifecycle::refresh::Refreshed;
use crate::server::x::now_ms;
use crate::server::AppState;
use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a verification of one token generation stands: reports within
/// it are answered from it, without asking X again.
pub const VERIFICATION_TTL: Duration = Duration::from_secs(60);

/// What X said about an account's current token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// X accepts the token (or, after refusing it, accepted the refresh token
    /// and a fresh one was saved): the grant is alive.
    Alive,
    /// X refused, with this cause; X's answer is on the account, which now
    /// waits for a person.
    Refused(Cause),
    /// X could not say (unavailable, rate limiting): nothing was decided.
    Unanswered(Cause),
}

type Flight = Shared<BoxFuture<'static, Result<Verification, Arc<String>>>>;

/// The verifications in flight and the recent ones, per account.
#[derive(Default)]
pub struct Verifier {
    flights: Mutex<HashMap<String, Flight>>,
    /// account → (when, generation verified, what X said).
    recent: Mutex<HashMap<String, (Instant, i64, Verification)>>,
}

impl Verifier {
    fn recent(&self, account_id: &str, generation: i64) -> Option<Verification> {
        let recent = lock(&self.recent);
        let (at, verified_generation, verification) = recent.get(account_id)?;
        (*verified_generation == generation && at.elapsed() < VERIFICATION_TTL).then_some(*verification)
    }

    fn remember(&self, account_id: &str, generation: i64, verification: Verification) {
        lock(&self.recent).insert(account_id.to_owned(), (Instant::now(), generation, verification));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Verifies the account's current token at X, on behalf of a report about
/// `generation`: from the recent verification of that generation if there
/// is one, else by joining (or starting) the account's verification.
pub async fn verify(
    state: &AppState,
    account_id: &str,
    generation: i64,
    reporter: &str,
) -> Result<Verification, ApiError> {
    let verifier = &state.pipeline.verifier;
    if let Some(known) = verifier.recent(account_id, generation) {
        return Ok(known);
    }
    let flight = {
        let mut flights = lock(&verifier.flights);
        match flights.get(account_id) {
            Some(f) => f.clone(),
            None => {
                let run = at_x(state.clone(), account_id.to_owned(), reporter.to_owned());
                let f = run.boxed().shared();
                flights.insert(account_id.to_owned(), f.clone());
                f
            }
        }
    };
    let result = flight.clone().await;
    {
        let mut flights = lock(&verifier.flights);
        if flights.get(account_id).is_some_and(|f| f.ptr_eq(&flight)) {
            flights.remove(account_id);
        }
    }
    result.map_err(|context| ApiError::Internal(context.to_string()))
}

/// One verification: `users/me` with the current token, then, if X refuses
/// it, a refresh through the engine.
async fn at_x(state: AppState, account_id: String, reporter: String) -> Result<Verification, Arc<String>> {
    let current =
        broker::load(&state, &account_id).await.map_err(|r| Arc::new(format!("loading the account failed: {r:?}")))?;
    let generation = current.token.generation;
    // A flight that started just after another one finished.
    if let Some(known) = state.pipeline.verifier.recent(&account_id, generation) {
        return Ok(known);
    }
    let actor = format!("verifying a report by {reporter}");
    let base = NewEvent {
        kind: EventKind::Check,
        generation_before: Some(generation),
        generation_after: Some(generation),
        actor: actor.clone(),
        ..NewEvent::default()
    };
    let record = |event: NewEvent, result: AttemptResult| {
        let state = state.clone();
        let account_id = account_id.clone();
        async move {
            events::append(&state.pool, &account_id, now_ms(), &event, result)
                .await
                .map_err(|e| Arc::new(format!("recording the verification failed: {e}")))
        }
    };
    if current.token.flow == crate::domain::flow::Flow::OAuth1 {
        // A 1.0a token is verified as a check verifies it: a signed users/me,
        // and a second signed call before any verdict.
        use crate::server::lifecycle::check::{check, Checked, Proof};
        let checked = check(&state, &account_id, &actor, Proof::AskX)
            .await
            .map_err(|e| Arc::new(format!("checking the OAuth 1.0a token failed: {e}")))?;
        let verification = match checked {
            Checked::Alive => Verification::Alive,
            Checked::Failed { cause } if matches!(cause.who(), Who::System | Who::Nobody) => {
                Verification::Unanswered(cause)
            }
            Checked::Failed { cause } => Verification::Refused(cause),
        };
        state.pipeline.forget(&account_id);
        state.pipeline.verifier.remember(&account_id, generation, verification);
        return Ok(verification);
    }
    let verification = match crate::server::lifecycle::users_me(&state, &current.token.access).await {
        Ok(me) => {
            observe_clock(&state, me.clock_offset_ms).await;
            if let Err(e) = crate::server::db::reads::record(&state.pool, &account_id, now_ms()).await {
                tracing::warn!(account_id = %account_id, error = %e, "could not count the billed user read");
            }
            match missing_for_posting(&current.token.scopes) {
                // X accepts the token, and the grant lacks what posting needs:
                // authwatch's own record of the grant is the evidence.
                Some(missing) => {
                    let cause = Cause::ScopeMissing;
                    let detail = format!(
                        "X accepts the token (@{}), but the grant lacks {missing}, which posting needs: X refuses every post",
                        me.user.username
                    );
                    let event = NewEvent { outcome: Outcome::Failed, cause: Some(cause), detail: Some(detail), ..base };
                    record(event, AttemptResult::Failed(cause)).await?;
                    Verification::Refused(cause)
                }
                None => {
                    let detail =
                        format!("asked X: it accepts the current token (@{}); the account is fine", me.user.username);
                    record(NewEvent { detail: Some(detail), ..base }, AttemptResult::Verified).await?;
                    Verification::Alive
                }
            }
        }
        Err(error) => {
            observe_clock(&state, error.clock_offset_ms()).await;
            crate::server::lifecycle::observe_billing(&state, &error, now_ms()).await;
            let cause = error.cause();
            let refused = NewEvent {
                outcome: Outcome::Failed,
                cause: Some(cause),
                http_status: error.status(),
                x_error: Some(error.body()),
                ..base
            };
            if cause.is_transient() {
                record(
                    NewEvent { detail: Some("X could not answer; nothing is decided".into()), ..refused },
                    AttemptResult::Inconclusive,
                )
                .await?;
                Verification::Unanswered(cause)
            } else if cause == Cause::UserRevoked {
                // X refuses the token itself: not yet a verdict. Refresh, as
                // for any refused token; only X refusing the refresh token
                // (which the refresh records) sends the account to a person.
                let detail = "X refused the current token; refreshing: only a refused refresh token needs a reconnect";
                record(NewEvent { detail: Some(detail.into()), ..refused }, AttemptResult::Inconclusive).await?;
                after_refresh(&state, &account_id, generation, &actor).await?
            } else {
                // X's own refusal of the token (a scope, the app): the verdict.
                let detail = "asked X: it refuses the current token";
                record(NewEvent { detail: Some(detail.into()), ..refused }, AttemptResult::Failed(cause)).await?;
                Verification::Refused(cause)
            }
        }
    };
    state.pipeline.forget(&account_id);
    state.pipeline.verifier.remember(&account_id, generation, verification);
    tracing::info!(account_id, generation, ?verification, "report verified at X");
    Ok(verification)
}

/// After X refused the current token of `generation`: refresh through the
/// engine (joining a refresh already in flight), unless someone replaced
/// the token meanwhile.
async fn after_refresh(
    state: &AppState,
    account_id: &str,
    generation: i64,
    actor: &str,
) -> Result<Verification, Arc<String>> {
    let now =
        broker::load(state, account_id).await.map_err(|r| Arc::new(format!("loading the account failed: {r:?}")))?;
    if now.token.generation != generation {
        return Ok(Verification::Alive);
    }
    let refreshed = state.engine.refresh(state, account_id, actor, None).await;
    Ok(match refreshed.map_err(|e| Arc::new(format!("refreshing failed: {e}")))? {
        Refreshed::Saved { .. } | Refreshed::LostRace { .. } | Refreshed::NotDue { .. } => Verification::Alive,
        // X's trouble, or a lost answer the next sweep verifies: nobody must act yet.
        Refreshed::Failed { cause, .. } if matches!(cause.who(), Who::System | Who::Nobody) => {
            Verification::Unanswered(cause)
        }
        Refreshed::Failed { cause, .. } => Verification::Refused(cause),
    })
}

/// The scopes posting needs that `granted` lacks, in words; `None` if none.
fn missing_for_posting(granted: &Scopes) -> Option<String> {
    let missing = granted.missing_from(&Scopes::from_names(PUBLISHING.iter().copied()));
    (!missing.is_empty()).then(|| missing.join(", "))
}

async fn observe_clock(state: &AppState, offset_ms: Option<i64>) {
    let Some(offset) = offset_ms else { return };
    if let Err(e) = apps::clock_measured(&state.pool, &state.x.app().client_id, offset, now_ms()).await {
        tracing::warn!(error = %e, "could not record the measured clock offset");
    }
}
