//! Prompts and notifications: raising one prompt per incident, escalating
//! it to the admins when nobody acts, closing it with a recovery notice, and
//! delivering the queued messages (webhook, Slack, email) with retries.
//!
//! Both halves run on their own task, apart from the refresh engine: the
//! engine only records what happened, and a slow or failing receiver can
//! never hold up a refresh. Both take the time as an argument, so tests
//! drive them with a clock of their choosing.

pub mod channels;

use crate::domain::health::{app_warnings, diagnose};
use crate::domain::incidents::{correlate, Correlation, Observed, Ongoing};
use crate::domain::prompts::{
    account_subject, needs, plan_holding, x_incident_need, Audience, Change, Need, OpenPrompt, APP_X_INCIDENT,
};
use crate::server::db::accounts::{self, AccountSummary};
use crate::server::db::apps;
use crate::server::db::prompts::{self, Prompt};
use crate::server::db::users::{self, User};
use crate::server::snapshot::Entry;
use crate::server::x::now_ms;
use crate::server::AppState;
use channels::{Channels, Message};
use std::sync::Arc;
use std::time::Duration;

/// Delivery attempts before a message is given up (about 1 h 40 min in all).
pub const MAX_ATTEMPTS: i64 = 6;

/// How long to wait after the `attempts`-th failure: 30 s, 2 min, 8 min, 32 min, then hourly.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 10) as u32 - 1;
    (30_000i64 * 4i64.pow(exp)).min(3_600_000)
}

/// What one reconcile did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub raised: usize,
    pub escalated: usize,
    pub closed: usize,
}

/// Brings the prompts in line with every account's health at `now`, and
/// queues the messages each change sends. Many accounts failing the same way
/// at once are one X incident: one prompt for the admins, and the accounts'
/// own prompts held until each is verified (see `domain::incidents`).
pub async fn reconcile(state: &AppState, now: i64) -> Result<Reconciled, sqlx::Error> {
    // The open prompts first: a prompt closed by a reconnect after this read
    // is closed again harmlessly, while one closed before the accounts are
    // read below could otherwise be raised again for a healthy account.
    let open = prompts::open(&state.pool).await?;
    let app = apps::facts(&state.pool, &state.x.app().client_id).await?;
    let required = &state.x.app().required_scopes;
    let entries = state.snapshot.get(&state.pool).await?;
    let diagnosed: Vec<(&AccountSummary, _)> =
        entries.iter().map(|(s, facts)| (s, diagnose(facts, &app, required, now, &state.policy))).collect();
    let mut needs = needs(diagnosed.iter().map(|(s, d)| (s.id.as_str(), d)), &app_warnings(&app, &state.policy));
    let correlation = correlation(state, &entries, &open, now).await?;
    if let Some(incident) = &correlation.incident {
        needs.push(x_incident_need(incident.cause));
    }
    let held: Vec<String> = correlation.held.iter().map(|id| account_subject(id)).collect();
    let open_view: Vec<OpenPrompt> = open
        .iter()
        .map(|p| OpenPrompt {
            id: p.id,
            subject: p.subject.clone(),
            opened_at: p.opened_at,
            escalated: p.escalated_at.is_some(),
        })
        .collect();
    let escalate_after = state.config.people.escalate_after.as_millis() as i64;
    let changes = plan_holding(&needs, &open_view, now, escalate_after, &held);
    if changes.is_empty() {
        return Ok(Reconciled::default());
    }
    let admins = users::admins(&state.pool).await?;
    let account =
        |id: &Option<String>| id.as_deref().and_then(|id| diagnosed.iter().find(|(s, _)| s.id == id).map(|(s, _)| *s));
    let mut done = Reconciled::default();
    for change in changes {
        match change {
            Change::Raise(need) => {
                let summary = account(&need.account_id);
                let recipients = first_recipients(state, &need, summary, &admins).await?;
                let message = Message::opened(state, &need, summary, &recipients, now);
                let queued = state.notifier.channels.queue("opened", &message, &recipients);
                if prompts::raise(&state.pool, &need.subject, need.account_id.as_deref(), need.cause, now, &queued)
                    .await?
                    .is_some()
                {
                    tracing::info!(subject = %need.subject, cause = need.cause.as_str(), "prompt raised");
                    done.raised += 1;
                    // Prompts record no event: the change feed would not see them.
                    state.changes.announce();
                }
            }
            Change::Escalate { prompt_id } => {
                let Some(p) = open.iter().find(|p| p.id == prompt_id) else { continue };
                let message = Message::escalated(state, p, account(&p.account_id), &admins, now);
                let queued = state.notifier.channels.queue("escalated", &message, &admins);
                if prompts::escalate(&state.pool, prompt_id, now, &queued).await? {
                    tracing::info!(subject = %p.subject, "prompt escalated to the admins");
                    done.escalated += 1;
                    state.changes.announce();
                }
            }
            Change::Close { prompt_id } => {
                let Some(p) = open.iter().find(|p| p.id == prompt_id) else { continue };
                if close(state, p, &admins, now).await? {
                    done.closed += 1;
                }
            }
        }
    }
    Ok(done)
}

/// Closes `p` with its recovery notice; `false` if it was closed meanwhile.
async fn close(state: &AppState, p: &Prompt, admins: &[User], now: i64) -> Result<bool, sqlx::Error> {
    let summary = match &p.account_id {
        Some(id) => accounts::summary(&state.pool, id).await?,
        None => None,
    };
    let recipients = recovery_recipients(state, p, summary.as_ref(), admins).await?;
    let message = Message::recovered(state, p, summary.as_ref(), &recipients, now);
    let queued = state.notifier.channels.queue("recovered", &message, &recipients);
    let closed = prompts::close(&state.pool, p.id, now, &queued).await?;
    if closed {
        tracing::info!(subject = %p.subject, "prompt closed: recovered");
        state.changes.announce();
    }
    Ok(closed)
}

/// Closes the open prompt of `subject`, if any, with its recovery notice:
/// for the step that ended what it was about (credits back), so that no
/// page shows it open a moment longer. Whether one closed.
pub async fn close_subject(state: &AppState, subject: &str, now: i64) -> Result<bool, sqlx::Error> {
    let Some(p) = prompts::open_for_subject(&state.pool, subject).await? else { return Ok(false) };
    let admins = users::admins(&state.pool).await?;
    close(state, &p, &admins, now).await
}

/// The X incident of this app at `now`, if any: every account's facts,
/// the incident prompt open already, and when X last answered normally.
pub async fn correlation(
    state: &AppState,
    entries: &[Entry],
    open: &[Prompt],
    now: i64,
) -> Result<Correlation, sqlx::Error> {
    let client_id = &state.x.app().client_id;
    let recovered_at = apps::probes(&state.pool, client_id).await?.x_recovered_at;
    let ongoing = open.iter().find(|p| p.subject == APP_X_INCIDENT).map(|p| Ongoing {
        cause: p.cause,
        opened_at: p.opened_at,
        recovered_at,
    });
    let observed: Vec<Observed<'_>> = entries
        .iter()
        .filter(|(s, _)| &s.client_id == client_id)
        .map(|(s, facts)| Observed {
            account_id: &s.id,
            incident: facts.incident.clone(),
            last_asked_at: [s.last_refresh_at, s.last_check_at, s.incident_at, s.last_verified_at]
                .into_iter()
                .flatten()
                .max(),
            last_refresh_at: s.last_refresh_at,
        })
        .collect();
    Ok(correlate(&observed, ongoing.as_ref(), &state.config.incidents, now))
}

/// Closes the account's prompt if the account no longer needs a person:
/// called by the reconnect, refresh or check that made it healthy, in the
/// same request, so that "needs you" never contradicts the accounts table.
pub async fn settle_account(state: &AppState, account_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let subject = account_subject(account_id);
    let Some(p) = prompts::open_for_subject(&state.pool, &subject).await? else { return Ok(false) };
    let Some(summary) = accounts::summary(&state.pool, account_id).await? else { return Ok(false) };
    let app = apps::facts(&state.pool, &summary.client_id).await?;
    let d = diagnose(&summary.facts(), &app, &state.x.app().required_scopes, now, &state.policy);
    if needs([(account_id, &d)], &[]).iter().any(|n| n.subject == subject) {
        return Ok(false);
    }
    let admins = users::admins(&state.pool).await?;
    close(state, &p, &admins, now).await
}

/// The owner and backup owner; the admins for app-level needs and for
/// accounts nobody owns.
async fn first_recipients(
    state: &AppState,
    need: &Need,
    account: Option<&AccountSummary>,
    admins: &[User],
) -> Result<Vec<User>, sqlx::Error> {
    if need.audience == Audience::Admins {
        return Ok(admins.to_vec());
    }
    owners_or_admins(state, account, admins).await
}

async fn owners_or_admins(
    state: &AppState,
    account: Option<&AccountSummary>,
    admins: &[User],
) -> Result<Vec<User>, sqlx::Error> {
    let mut out: Vec<User> = Vec::new();
    if let Some(a) = account {
        for id in [&a.owner_id, &a.backup_owner_id].into_iter().flatten() {
            if let Some(u) = users::by_id(&state.pool, id).await? {
                if !out.contains(&u) {
                    out.push(u);
                }
            }
        }
    }
    Ok(if out.is_empty() { admins.to_vec() } else { out })
}

/// Whoever was asked to act: the owners (or admins), and the admins too
/// once it was escalated.
async fn recovery_recipients(
    state: &AppState,
    p: &Prompt,
    account: Option<&AccountSummary>,
    admins: &[User],
) -> Result<Vec<User>, sqlx::Error> {
    let mut out =
        if p.account_id.is_some() { owners_or_admins(state, account, admins).await? } else { admins.to_vec() };
    if p.escalated_at.is_some() {
        for a in admins {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
    }
    Ok(out)
}

/// How long a claimed message is this replica's to send: twice a channel's
/// timeout. One message is claimed at a time, so a replica that dies while
/// sending keeps at most one message waiting, and for no longer than this.
const DELIVERY_LEASE_MS: i64 = 2 * channels::DELIVERY_TIMEOUT.as_millis() as i64;

/// Messages one round tries at most.
const DELIVERIES_PER_ROUND: usize = 100;

/// Claims and tries, one at a time, every queued message that is due at
/// `now` (each once, whichever replica claims it); returns how many were
/// delivered.
pub async fn deliver_due(state: &AppState, now: i64) -> Result<usize, sqlx::Error> {
    let mut delivered = 0;
    for _ in 0..DELIVERIES_PER_ROUND {
        let Some(n) = prompts::claim_due(&state.pool, now, now + DELIVERY_LEASE_MS, 1).await?.pop() else {
            break;
        };
        match state.notifier.channels.send(&n).await {
            Ok(()) => {
                prompts::delivered(&state.pool, n.id, now).await?;
                metrics::counter!("authwatch_notifications_total", "channel" => n.channel.clone(), "outcome" => "delivered").increment(1);
                delivered += 1;
            }
            Err(e) => {
                let attempts = n.attempts + 1;
                let retry_at = (attempts < MAX_ATTEMPTS).then(|| now + retry_delay_ms(attempts));
                tracing::warn!(notification = n.id, channel = %n.channel, attempts, error = %e, gave_up = retry_at.is_none(), "notification not delivered");
                prompts::failed(&state.pool, n.id, now, &e.to_string(), retry_at).await?;
                let outcome = if retry_at.is_some() { "failed" } else { "gave_up" };
                metrics::counter!("authwatch_notifications_total", "channel" => n.channel.clone(), "outcome" => outcome).increment(1);
            }
        }
    }
    Ok(delivered)
}

/// The notification channels and the background tasks that use them.
pub struct Notifier {
    pub channels: Channels,
}

impl Notifier {
    pub fn new(config: &crate::server::config::PeopleConfig) -> Result<Self, channels::ChannelError> {
        Ok(Self { channels: Channels::new(config)? })
    }

    /// Runs reconcile and delivery every `every`, each on its own task, so a
    /// slow receiver delays neither prompts nor refreshes.
    pub fn spawn(self: Arc<Self>, state: AppState, every: Duration) {
        let reconciling = state.clone();
        repeat(every, "reconciling prompts", move || {
            let state = reconciling.clone();
            async move { reconcile(&state, now_ms()).await.map(|_| ()) }
        });
        repeat(every, "delivering notifications", move || {
            let state = state.clone();
            async move { deliver_due(&state, now_ms()).await.map(|_| ()) }
        });
    }
}

/// Runs `job` every `every` on a task of its own, logging its failures.
fn repeat<F, Fut>(every: Duration, what: &'static str, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = job().await {
                tracing::error!(error = %e, "{what}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    #[test]
    fn retries_back_off_to_an_hour() {
        let delays: Vec<i64> = (1..=6).map(retry_delay_ms).collect();
        assert_eq!(delays, vec![30_000, 120_000, 480_000, 1_920_000, 3_600_000, 3_600_000]);
    }
}
