//! Asking X whether an incident that is not the accounts' is over, at most
//! once per probe interval (`AUTHWATCH_PROBE_INTERVAL_SECS`), and acting on
//! the answer:
//! - depleted credits (402): one cheap `GET /2/users/me`, with the token of
//!   an account X already answered a user read for today when there is one
//!   (X bills one per user and day). Credits back: the billing incident and
//!   its prompt close, and the posts it held are published, once.
//! - an X incident ([`crate::domain::incidents`]): the call that failed,
//!   again, for one held account. X answers normally: every held account is
//!   verified with one refresh through the engine (and the posts held for
//!   it go out); those still refused are genuine and get their own prompt at
//!   the next reconcile.
//!
//! It uses the lifecycle (checks, refreshes), the pipeline (held posts) and
//! the prompts, so it sits above all three; the server starts it beside the
//! notifier.

use crate::domain::health::{diagnose, Cause};
use crate::domain::incidents::{probe_for, ProbeKind};
use crate::domain::prompts::{APP_BILLING, APP_X_INCIDENT};
use crate::server::db::{apps, posts, reads};
use crate::server::lifecycle::check::{check, Checked, Proof};
use crate::server::lifecycle::refresh::Refreshed;
use crate::server::lifecycle::AccountError;
use crate::server::notify::correlation;
use crate::server::x::now_ms;
use crate::server::AppState;
use futures::stream::{self, StreamExt};

/// What one probe run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probed {
    /// A credits probe asked X.
    pub credits_probed: bool,
    /// X accepts the app's calls again: the billing incident closed.
    pub credits_back: bool,
    /// Held posts published after the credits came back.
    pub released: usize,
    /// An X incident probe asked X.
    pub x_probed: bool,
    /// Accounts verified with a refresh after X answered normally again.
    pub verified: usize,
}

/// Runs the probes every `every`, on a task of its own, so a slow X delays
/// neither prompts nor refreshes.
pub fn spawn(state: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = run(&state, now_ms()).await {
                tracing::error!(error = %e, "probing X failed");
            }
        }
    });
}

/// Runs the probes that are due at `now`.
pub async fn run(state: &AppState, now: i64) -> Result<Probed, AccountError> {
    let mut probed = Probed::default();
    credits(state, now, &mut probed).await?;
    x_incident(state, now, &mut probed).await?;
    Ok(probed)
}

async fn credits(state: &AppState, now: i64, probed: &mut Probed) -> Result<(), AccountError> {
    let client_id = &state.x.app().client_id;
    let app = apps::facts(&state.pool, client_id).await?;
    if app.credits_depleted_since.is_none() {
        return Ok(());
    }
    let interval = state.config.probe_every.as_millis() as i64;
    if !apps::take_credits_probe(&state.pool, client_id, now, now - interval).await? {
        return Ok(());
    }
    // An account whose token works as far as authwatch knows; one X has
    // answered a user read for today costs nothing more today.
    let entries = state.snapshot.get(&state.pool).await?;
    let required = &state.x.app().required_scopes;
    let live = now_ms() + state.pipeline.min_token_lifetime_ms();
    let mut candidates: Vec<&str> = entries
        .iter()
        .filter(|(s, facts)| {
            &s.client_id == client_id
                && s.expires_at > live
                && !diagnose(facts, &app, required, now, &state.policy).health.needs_person()
        })
        .map(|(s, _)| s.id.as_str())
        .collect();
    let mut read_today = Vec::new();
    for id in &candidates {
        if reads::read_on(&state.pool, id, now).await? {
            read_today.push(*id);
        }
    }
    candidates.sort_by_key(|id| (!read_today.contains(id), *id));
    let Some(account_id) = candidates.first() else {
        tracing::info!("credits probe: no account with a live token to ask X with; trying again later");
        return Ok(());
    };
    probed.credits_probed = true;
    match check(state, account_id, "credits probe", Proof::AskX).await? {
        Checked::Alive => {}
        Checked::Failed { cause: Cause::CreditsDepleted } => {
            tracing::info!("credits probe: X still answers 402 credits depleted");
            return Ok(());
        }
        Checked::Failed { cause } => {
            tracing::info!(cause = cause.as_str(), "credits probe: inconclusive; trying again later");
            return Ok(());
        }
    }
    if !apps::credits_restored(&state.pool, client_id).await? {
        return Ok(());
    }
    probed.credits_back = true;
    tracing::info!("X accepts the app's calls again: credits are back");
    crate::server::notify::close_subject(state, APP_BILLING, now_ms()).await?;
    for account_id in posts::accounts_holding(&state.pool, Cause::CreditsDepleted.as_str()).await? {
        state.pipeline.forget(&account_id);
        match crate::server::pipeline::posts::release_held(state, &account_id, "held-post release: credits are back")
            .await
        {
            Ok(released) => probed.released += released.published,
            Err(e) => tracing::error!(account_id, error = ?e, "releasing the posts held for credits failed"),
        }
    }
    Ok(())
}

async fn x_incident(state: &AppState, now: i64, probed: &mut Probed) -> Result<(), AccountError> {
    let open = crate::server::db::prompts::open(&state.pool).await?;
    if !open.iter().any(|p| p.subject == APP_X_INCIDENT) {
        return Ok(());
    }
    let entries = state.snapshot.get(&state.pool).await?;
    let Some(incident) = correlation(state, &entries, &open, now).await?.incident else { return Ok(()) };
    let client_id = &state.x.app().client_id;
    let recovered_at = match incident.recovered_at {
        // X answered normally already: verify what is left to verify.
        Some(at) => at,
        None => {
            let interval = state.config.probe_every.as_millis() as i64;
            if !apps::take_x_incident_probe(&state.pool, client_id, now, now - interval).await? {
                return Ok(());
            }
            // The held account X was asked about least recently, so that one
            // account genuinely dead does not hide X's recovery.
            let summary = |id: &str| entries.iter().find(|(s, _)| s.id == id).map(|(s, _)| s);
            let Some(account_id) = incident
                .held
                .iter()
                .min_by_key(|id| summary(id).map(|s| (s.last_check_at.max(s.last_refresh_at), s.id.clone())))
                .cloned()
            else {
                return Ok(());
            };
            probed.x_probed = true;
            // A refresh made by the probe counts as that account's verification.
            let started = now_ms();
            if !answers_normally(state, &account_id, probe_for(incident.cause)).await? {
                tracing::info!(cause = incident.cause.as_str(), "X incident probe: X still fails the same way");
                return Ok(());
            }
            tracing::info!(
                cause = incident.cause.as_str(),
                held = incident.held.len(),
                "X answers normally again: verifying the held accounts"
            );
            apps::x_recovered(&state.pool, client_id, started).await?;
            started
        }
    };
    let summary = |id: &str| entries.iter().find(|(s, _)| s.id == id).map(|(s, _)| s);
    let to_verify: Vec<String> = incident
        .held
        .iter()
        .filter(|id| summary(id).is_none_or(|s| s.last_refresh_at.is_none_or(|at| at < recovered_at)))
        .cloned()
        .collect();
    let verified: Vec<bool> = stream::iter(to_verify)
        .map(|id| async move {
            let result = state.engine.refresh(state, &id, "X incident verification", None).await;
            match &result {
                // The grant is fine: posts the incident held can go out.
                Ok(Refreshed::Saved { .. }) => crate::server::pipeline::after_reconnect(state, &id),
                Ok(_) => {}
                Err(e) => tracing::warn!(account_id = %id, error = %e, "X incident verification could not refresh"),
            }
            result.is_ok()
        })
        .buffer_unordered(state.engine.settings().concurrency.max(1))
        .collect()
        .await;
    probed.verified += verified.into_iter().filter(|ok| *ok).count();
    Ok(())
}

/// Asks X for `account_id` what failed: whether it answers normally again.
async fn answers_normally(state: &AppState, account_id: &str, kind: ProbeKind) -> Result<bool, AccountError> {
    let refreshed = |r: &Result<Refreshed, std::sync::Arc<AccountError>>| {
        matches!(r, Ok(Refreshed::Saved { .. } | Refreshed::LostRace { .. }))
    };
    match kind {
        ProbeKind::Refresh => Ok(refreshed(&state.engine.refresh(state, account_id, "X incident probe", None).await)),
        ProbeKind::UsersMe => {
            let expires_at =
                crate::server::db::accounts::summary(&state.pool, account_id).await?.map_or(0, |s| s.expires_at);
            if expires_at <= now_ms() + state.pipeline.min_token_lifetime_ms()
                && !refreshed(&state.engine.refresh(state, account_id, "X incident probe", None).await)
            {
                return Ok(false);
            }
            Ok(check(state, account_id, "X incident probe", Proof::AskX).await? == Checked::Alive)
        }
    }
}
