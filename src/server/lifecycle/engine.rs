//! The refresh engine: one refresh per account at a time, refreshes before
//! expiry, backs off when X has trouble, and recovers refreshes whose answer
//! was lost.
//!
//! Three layers keep a refresh single, because X's refresh tokens are single
//! use and a second concurrent refresh burns the chain:
//! 1. in this process, a single-flight map: concurrent callers for one
//!    account share one refresh and all get its result;
//! 2. across processes, a lease in the database (`refresh_state`), taken with
//!    a conditional upsert and released only by its owner; a caller that
//!    finds another process's lease waits for it and reports what it saved;
//! 3. when saving, a compare-and-swap on the token generation.

use super::check::{check, Proof};
use super::refresh::{self, Refreshed};
use super::AccountError;
use crate::domain::health::{AttemptResult, Cause};
use crate::server::config::EngineSettings;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::{accounts, reads, refresh_state};
use crate::server::secret::Secret;
use crate::server::x::now_ms;
use crate::server::AppState;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{self, StreamExt};
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A shared result: every waiting caller gets a clone.
pub type RefreshResult = Result<Refreshed, Arc<AccountError>>;

/// A refresh in flight, shared by its callers.
struct Flight {
    id: u64,
    /// What it was started with: `None` refreshes whatever the expiry.
    due_before: Option<i64>,
    shared: Shared<BoxFuture<'static, RefreshResult>>,
}

/// Whether a caller with `wanted` asks for a refresh that a flight started
/// with `flight` may have skipped as not due.
fn asks_more(wanted: Option<i64>, flight: Option<i64>) -> bool {
    match (wanted, flight) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(wanted), Some(flight)) => wanted > flight,
    }
}

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub due: usize,
    pub saved: usize,
    pub not_due: usize,
    pub lost_race: usize,
    pub failed: usize,
    pub errors: usize,
}

/// Accounts a sweep claims at a time per refresh worker: enough to keep the
/// workers busy, few enough that other replicas get their share and that a
/// claimed lease does not wait long for its refresh.
const CLAIM_PER_WORKER: usize = 8;

/// The refresh engine of one process.
pub struct Engine {
    /// This process's name in leases: unique per process.
    owner: String,
    settings: EngineSettings,
    flights: Arc<Mutex<HashMap<String, Flight>>>,
    next_flight: AtomicU64,
    /// Access tokens X refused lately (by fingerprint, when): evidence a
    /// verdict can reuse instead of asking X again about the same token.
    refused: std::sync::Mutex<HashMap<String, i64>>,
}

impl Engine {
    pub fn new(settings: EngineSettings) -> Self {
        let suffix: u64 = rand::thread_rng().gen();
        Self {
            owner: format!("{}-{suffix:016x}", std::process::id()),
            settings,
            flights: Arc::new(Mutex::new(HashMap::new())),
            next_flight: AtomicU64::new(0),
            refused: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Remembers that X refused `access` at `at` (forgetting refusals older
    /// than `keep_ms`, so the map stays small).
    pub fn note_refused(&self, access: &Secret, at: i64, keep_ms: i64) {
        let mut refused = self.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        refused.retain(|_, seen| at - *seen < keep_ms);
        refused.insert(access.fingerprint(), at);
    }

    /// When X last refused `access`, if at or after `since`.
    pub fn refused_since(&self, access: &Secret, since: i64) -> Option<i64> {
        let refused = self.refused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        refused.get(&access.fingerprint()).copied().filter(|at| *at >= since)
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Refreshes `account_id` now (or, with `due_before`, only if it expires
    /// before then). Concurrent callers share one refresh, which runs on a
    /// task of its own: a caller that goes away (a browser closed on
    /// "Refresh now") neither stops it nor stalls it while it holds the
    /// lease. A caller that wants a refresh now and meets a flight that
    /// refreshes only if due (the scheduler's) waits for it and reports what
    /// it did — or, if it found the token not due, refreshes after it.
    pub async fn refresh(
        &self,
        state: &AppState,
        account_id: &str,
        actor: &str,
        due_before: Option<i64>,
    ) -> RefreshResult {
        let (joined, result) = self.fly(state, account_id, actor, due_before).await;
        match (joined, &result) {
            // Nothing was sent to X: this caller's refresh is still to do.
            (Some(flight_due_before), Ok(Refreshed::NotDue { .. })) if asks_more(due_before, flight_due_before) => {
                self.fly(state, account_id, actor, due_before).await.1
            }
            _ => result,
        }
    }

    /// Joins the account's flight, or starts one. Returns, for a joined
    /// flight, the `due_before` it was started with.
    async fn fly(
        &self,
        state: &AppState,
        account_id: &str,
        actor: &str,
        due_before: Option<i64>,
    ) -> (Option<Option<i64>>, RefreshResult) {
        let (joined, flight) = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(f) = flights.get(account_id) {
                (Some(f.due_before), f.shared.clone())
            } else {
                let lease_ms = self.settings.lease.as_millis() as i64;
                let id = self.next_flight.fetch_add(1, Ordering::Relaxed);
                let run = leased_refresh(
                    state.clone(),
                    self.owner.clone(),
                    lease_ms,
                    account_id.to_owned(),
                    actor.to_owned(),
                    due_before,
                );
                let flights_map = self.flights.clone();
                let account = account_id.to_owned();
                let task = tokio::spawn(async move {
                    let result = run.await;
                    // The flight ends here, whoever still waits for it.
                    let mut flights = flights_map.lock().unwrap_or_else(|p| p.into_inner());
                    if flights.get(&account).is_some_and(|f| f.id == id) {
                        flights.remove(&account);
                    }
                    result
                });
                let shared = async move {
                    task.await.unwrap_or_else(|e| Err(Arc::new(AccountError::Interrupted(e.to_string()))))
                }
                .boxed()
                .shared();
                flights.insert(account_id.to_owned(), Flight { id, due_before, shared: shared.clone() });
                (None, shared)
            }
        };
        (joined, flight.await)
    }

    /// Flags refreshes left unfinished (see [`Engine::recover`]), then
    /// refreshes every due account that no other replica has claimed, a few
    /// at a time.
    pub async fn sweep(&self, state: &AppState) -> Sweep {
        self.recover(state).await;
        let lease_ms = self.settings.lease.as_millis() as i64;
        let batch = (self.settings.concurrency.max(1) * CLAIM_PER_WORKER) as i64;
        let mut report = Sweep::default();
        let mut seen = std::collections::HashSet::new();
        let mut results: Vec<RefreshResult> = Vec::new();
        // Claimed a batch at a time, so replicas sweeping at once share the
        // due accounts out, and a lease never waits long for its refresh.
        loop {
            let now = now_ms();
            let due_before = now + state.policy.refresh_lead_ms;
            let claimed = match refresh_state::claim_due(
                &state.pool,
                &self.owner,
                due_before,
                now,
                now + lease_ms,
                batch,
            )
            .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::error!(error = %e, "sweep: claiming due accounts failed");
                    report.errors += 1;
                    break;
                }
            };
            // An account this sweep already tried (and left due: an error)
            // waits for the next sweep, so a sweep always ends.
            let (fresh, again): (Vec<String>, Vec<String>) = claimed.into_iter().partition(|id| !seen.contains(id));
            for id in &again {
                let _ = refresh_state::release(&state.pool, id, &self.owner).await;
            }
            if fresh.is_empty() {
                break;
            }
            report.due += fresh.len();
            seen.extend(fresh.iter().cloned());
            let batch_results: Vec<RefreshResult> = stream::iter(fresh)
                .map(|id| async move {
                    let result =
                        self.refresh(state, &id, "scheduler", Some(now_ms() + state.policy.refresh_lead_ms)).await;
                    self.after(state, &id, &result).await;
                    result
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
            results.extend(batch_results);
        }
        for r in results {
            match r {
                Ok(Refreshed::Saved { .. }) => report.saved += 1,
                Ok(Refreshed::NotDue { .. }) => report.not_due += 1,
                Ok(Refreshed::LostRace { .. }) => report.lost_race += 1,
                Ok(Refreshed::Failed { .. }) => report.failed += 1,
                Err(_) => report.errors += 1,
            }
        }
        if report.due > 0 {
            tracing::info!(?report, "sweep done");
        }
        report
    }

    /// Bookkeeping after a scheduled refresh: backoff for X's passing trouble.
    async fn after(&self, state: &AppState, account_id: &str, result: &RefreshResult) {
        let outcome = match result {
            Ok(Refreshed::Failed { cause, retry_at }) if cause.refresh_can_help() => {
                let failures = refresh_state::transient_failures(&state.pool, account_id).await.unwrap_or(0);
                let wait = backoff(&self.settings, failures as u32);
                let mut next = now_ms() + wait.as_millis() as i64;
                if let Some(reset) = retry_at {
                    next = next.max(*reset);
                }
                refresh_state::back_off(&state.pool, account_id, next).await
            }
            Ok(Refreshed::Saved { .. }) | Ok(Refreshed::Failed { .. }) => {
                refresh_state::clear_backoff(&state.pool, account_id).await
            }
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(account_id, error = %e, "could not record the refresh backoff");
        }
    }

    /// Finds refreshes whose answer never arrived (the process died, or the
    /// answer was lost) and flags them, so the next sweep verifies them
    /// instead of guessing.
    pub async fn recover(&self, state: &AppState) -> usize {
        let orphans = match refresh_state::orphaned_intents(&state.pool, now_ms()).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "recovery: listing unfinished refreshes failed");
                return 0;
            }
        };
        for (account_id, generation) in &orphans {
            let current = accounts::summary(&state.pool, account_id).await.ok().flatten().map(|s| s.generation);
            let cause = Cause::RefreshAnswerLost;
            let event = NewEvent {
                kind: EventKind::Refresh,
                outcome: Outcome::Failed,
                cause: Some(cause),
                generation_before: Some(*generation),
                generation_after: current,
                actor: "recovery".into(),
                detail: Some(format!(
                    "a refresh of generation {generation} started and never recorded an answer: X may have rotated the refresh token"
                )),
                ..NewEvent::default()
            };
            if let Err(e) =
                events::append(&state.pool, account_id, now_ms(), &event, AttemptResult::Failed(cause)).await
            {
                tracing::error!(account_id, error = %e, "recovery: could not flag the lost refresh");
            } else {
                tracing::warn!(account_id, generation, "refresh answer lost: flagged for verification");
            }
        }
        orphans.len()
    }

    /// Checks every account a check can tell something about (not those
    /// already waiting for a person), a few at a time. X bills a user read
    /// per account and UTC day, so an account proved alive this UTC day (or
    /// within the proof-of-life window) by a connect, refresh, publish or
    /// earlier check is not asked: at most one billed `users/me` per account
    /// and day, and none for an account in use.
    pub async fn check_all(&self, state: &AppState) -> usize {
        let summaries = match accounts::summaries(&state.pool).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "daily check: listing accounts failed");
                return 0;
            }
        };
        let ids: Vec<String> = summaries
            .into_iter()
            .filter(|s| s.incident().is_none_or(|i| i.cause.cleared_by_check()))
            .map(|s| s.id)
            .collect();
        let proof = Proof::ProvedToday(self.settings.proof_of_life.as_millis() as i64);
        let checked = ids.len();
        stream::iter(ids)
            .for_each_concurrent(self.settings.concurrency.max(1), |id| async move {
                if let Err(e) = check(state, &id, "daily check", proof).await {
                    tracing::warn!(account_id = %id, error = %e, "daily check failed to run");
                }
            })
            .await;
        tracing::info!(checked, "daily check done");
        checked
    }

    /// The scheduled daily check of the UTC day of `now`: run by the replica
    /// that claims that day first, skipped by the others. Returns how many
    /// accounts it went through, or `None` when another replica claimed it.
    pub async fn daily_check(&self, state: &AppState, now: i64) -> Option<usize> {
        let day = crate::domain::checks::utc_day(now);
        match reads::claim_daily_run(&state.pool, day, &self.owner, now).await {
            Ok(true) => Some(self.check_all(state).await),
            Ok(false) => {
                tracing::info!(day, "daily check: another replica runs today's");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "daily check: claiming today's run failed");
                None
            }
        }
    }

    /// Sweeps forever, and runs the daily check at its time of day.
    pub fn spawn(self: Arc<Self>, state: AppState) -> tokio::task::JoinHandle<()> {
        let daily = {
            let engine = self.clone();
            let state = state.clone();
            async move {
                loop {
                    let now = now_ms();
                    let at = next_daily(now, engine.settings.daily_check_at_minute);
                    tokio::time::sleep(Duration::from_millis((at - now).max(0) as u64)).await;
                    engine.daily_check(&state, now_ms()).await;
                }
            }
        };
        tokio::spawn(daily);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.settings.sweep_every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                self.sweep(&state).await;
            }
        })
    }
}

/// The next time (ms since the epoch, UTC) that is `minute` minutes after
/// midnight and later than `now`.
pub fn next_daily(now: i64, minute: u32) -> i64 {
    const DAY: i64 = 86_400_000;
    let today = now - now.rem_euclid(DAY) + i64::from(minute) * 60_000;
    if today > now {
        today
    } else {
        today + DAY
    }
}

/// Exponential backoff with ±20 % jitter, so many accounts that failed
/// together do not all come back together.
fn backoff(settings: &EngineSettings, failures: u32) -> Duration {
    let exp = settings.backoff_base.saturating_mul(2u32.saturating_pow(failures.min(16)));
    let capped = exp.min(settings.backoff_max);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    capped.mul_f64(jitter)
}

async fn leased_refresh(
    state: AppState,
    owner: String,
    lease_ms: i64,
    account_id: String,
    actor: String,
    due_before: Option<i64>,
) -> RefreshResult {
    let now = now_ms();
    let held = refresh_state::acquire(&state.pool, &account_id, &owner, now, now + lease_ms)
        .await
        .map_err(|e| Arc::new(AccountError::from(e)))?;
    if !held {
        // Another process is refreshing this account: wait for it rather
        // than burn the chain with a second refresh, then report what it
        // left (its outcome, saved or failed, is on the account).
        while refresh_state::leased(&state.pool, &account_id, now_ms()).await.map_err(|e| Arc::new(e.into()))? {
            if now_ms() - now > lease_ms {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let generation = accounts::summary(&state.pool, &account_id)
            .await
            .map_err(|e| Arc::new(e.into()))?
            .ok_or_else(|| Arc::new(AccountError::UnknownAccount(account_id.clone())))?
            .generation;
        metrics::counter!("authwatch_refreshes_total", "outcome" => "lost_race", "cause" => "").increment(1);
        return Ok(Refreshed::LostRace { generation });
    }
    let result = refresh::refresh(&state, &account_id, &actor, due_before).await.map_err(Arc::new);
    if let Err(e) = refresh_state::release(&state.pool, &account_id, &owner).await {
        // The lease expires on its own; log and move on.
        tracing::warn!(account_id, error = %e, "could not release the refresh lease");
    }
    if matches!(result, Ok(Refreshed::Saved { .. })) {
        // The refresh that healed the account closes its prompt too.
        if let Err(e) = crate::server::notify::settle_account(&state, &account_id, now_ms()).await {
            tracing::warn!(account_id, error = %e, "could not close the recovered account's prompt");
        }
    }
    let label = match &result {
        Ok(Refreshed::Saved { .. }) => "saved",
        Ok(Refreshed::NotDue { .. }) => "not_due",
        Ok(Refreshed::LostRace { .. }) => "lost_race",
        Ok(Refreshed::Failed { .. }) => "failed",
        Err(_) => "error",
    };
    let cause = match &result {
        Ok(Refreshed::Failed { cause, .. }) => cause.as_str(),
        _ => "",
    };
    metrics::counter!("authwatch_refreshes_total", "outcome" => label, "cause" => cause).increment(1);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_check_comes_at_its_time_of_day() {
        let midnight = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000;
        assert_eq!(next_daily(midnight, 360), midnight + 6 * 3_600_000);
        assert_eq!(next_daily(midnight + 6 * 3_600_000, 360), midnight + 30 * 3_600_000, "not twice at once");
        assert_eq!(next_daily(midnight + 7 * 3_600_000, 360), midnight + 30 * 3_600_000);
    }

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let s = EngineSettings::default();
        for failures in 0..20 {
            let b = backoff(&s, failures);
            let nominal = s.backoff_base.saturating_mul(2u32.saturating_pow(failures.min(16))).min(s.backoff_max);
            assert!(b >= nominal.mul_f64(0.8) && b <= nominal.mul_f64(1.2), "{failures}: {b:?}");
        }
    }
}
