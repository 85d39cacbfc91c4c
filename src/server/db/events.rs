//! The `events` table: what happened to each account, and the summary
//! columns of `accounts` kept in step with it.

use super::Pool;
use crate::domain::health::{next_incident, AttemptResult, Cause, OpenIncident};
use sqlx::{Sqlite, Transaction};

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventKind {
    #[default]
    Connect,
    Reconnect,
    Refresh,
    Check,
    /// The owners changed.
    Owner,
    /// A reconnect link was created for the account.
    Link,
    /// A post published (or held) through the pipeline API.
    Publish,
    /// A 401/403 the pipeline reported.
    Report,
    /// A held post cancelled before it went out: its API key was revoked, or
    /// a person discarded it.
    Discard,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connect => "connect",
            EventKind::Reconnect => "reconnect",
            EventKind::Refresh => "refresh",
            EventKind::Check => "check",
            EventKind::Owner => "owner",
            EventKind::Link => "link",
            EventKind::Publish => "publish",
            EventKind::Report => "report",
            EventKind::Discard => "discard",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EventKind::Connect, EventKind::Reconnect, EventKind::Refresh, EventKind::Check, EventKind::Owner, EventKind::Link, EventKind::Publish, EventKind::Report, EventKind::Discard]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    #[default]
    Ok,
    Failed,
    /// Written before calling X, so a lost answer leaves a trace.
    Started,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Started => "started",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Ok, Outcome::Failed, Outcome::Started].into_iter().find(|o| o.as_str() == s)
    }
}

/// An event to append.
#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    pub kind: EventKind,
    pub outcome: Outcome,
    pub cause: Option<Cause>,
    pub http_status: Option<u16>,
    /// X's answer body, exactly as received.
    pub x_error: Option<String>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    /// Who or what triggered it.
    pub actor: String,
    pub detail: Option<String>,
}

/// A stored event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub cause: Option<String>,
    pub http_status: Option<i64>,
    pub x_error: Option<String>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    pub actor: String,
    pub detail: Option<String>,
}

/// Appends `event` and brings the account's summary columns (last refresh,
/// last check, last proof of life, open incident) up to date, in `tx`.
pub async fn record(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    at: i64,
    event: &NewEvent,
    result: AttemptResult,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (account_id, at, kind, outcome, cause, http_status, x_error,
             generation_before, generation_after, actor, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(account_id)
    .bind(at)
    .bind(event.kind.as_str())
    .bind(event.outcome.as_str())
    .bind(event.cause.map(Cause::as_str))
    .bind(event.http_status.map(i64::from))
    .bind(&event.x_error)
    .bind(event.generation_before)
    .bind(event.generation_after)
    .bind(&event.actor)
    .bind(&event.detail)
    .execute(&mut **tx)
    .await?;

    if event.outcome == Outcome::Started {
        return Ok(());
    }
    let open: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT incident_cause, incident_since FROM accounts WHERE id = ?")
            .bind(account_id)
            .fetch_optional(&mut **tx)
            .await?;
    let open = open.and_then(|(cause, since)| {
        Some(OpenIncident { cause: Cause::parse(cause.as_deref()?)?, since: since.unwrap_or(at) })
    });
    let next = next_incident(open, result, at);
    let ok = event.outcome == Outcome::Ok;
    let verified = matches!(result, AttemptResult::Renewed | AttemptResult::Verified);

    // The status and body of the incident follow the latest failure of the
    // incident's own cause; an outage does not overwrite a dead grant's body.
    let failure_of_open_cause = next.as_ref().is_some_and(|i| Some(i.cause) == event.cause);
    sqlx::query(
        "UPDATE accounts SET
             last_refresh_at  = CASE WHEN ? THEN ? ELSE last_refresh_at END,
             last_refresh_ok  = CASE WHEN ? THEN ? ELSE last_refresh_ok END,
             last_check_at    = CASE WHEN ? THEN ? ELSE last_check_at END,
             last_check_ok    = CASE WHEN ? THEN ? ELSE last_check_ok END,
             last_verified_at = CASE WHEN ? THEN ? ELSE last_verified_at END,
             incident_cause   = ?,
             incident_since   = ?,
             incident_status  = CASE WHEN ? THEN ? WHEN ? IS NULL THEN NULL ELSE incident_status END,
             incident_x_error = CASE WHEN ? THEN ? WHEN ? IS NULL THEN NULL ELSE incident_x_error END,
             incident_at      = CASE WHEN ? THEN ? WHEN ? IS NULL THEN NULL ELSE incident_at END
         WHERE id = ?",
    )
    .bind(event.kind == EventKind::Refresh)
    .bind(at)
    .bind(event.kind == EventKind::Refresh)
    .bind(ok)
    .bind(event.kind == EventKind::Check)
    .bind(at)
    .bind(event.kind == EventKind::Check)
    .bind(ok)
    .bind(verified)
    .bind(at)
    .bind(next.as_ref().map(|i| i.cause.as_str()))
    .bind(next.as_ref().map(|i| i.since))
    .bind(failure_of_open_cause)
    .bind(event.http_status.map(i64::from))
    .bind(next.as_ref().map(|i| i.cause.as_str()))
    .bind(failure_of_open_cause)
    .bind(&event.x_error)
    .bind(next.as_ref().map(|i| i.cause.as_str()))
    .bind(failure_of_open_cause)
    .bind(at)
    .bind(next.as_ref().map(|i| i.cause.as_str()))
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends an event in its own transaction.
pub async fn append(pool: &Pool, account_id: &str, at: i64, event: &NewEvent, result: AttemptResult) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    record(&mut tx, account_id, at, event, result).await?;
    tx.commit().await
}

/// The newest `limit` events of an account, newest first.
pub async fn recent(pool: &Pool, account_id: &str, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, outcome, cause, http_status, x_error, generation_before, generation_after, actor, detail
         FROM events WHERE account_id = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// When the person last consented to the account's grant: its newest
/// connect or reconnect. X's refresh tokens count their ~6 months from it.
pub async fn granted_at(pool: &Pool, account_id: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MAX(at) FROM events WHERE account_id = ? AND kind IN ('connect', 'reconnect') AND outcome = 'ok'",
    )
    .bind(account_id)
    .fetch_one(pool)
    .await
}

/// When a refresh of `generation` was sent and never answered: the
/// account's newest refresh event is that refresh's `started`, with no
/// outcome after it (a process died while waiting for X).
pub async fn unanswered_refresh(pool: &Pool, account_id: &str, generation: i64) -> Result<Option<i64>, sqlx::Error> {
    let last: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT at, outcome, generation_before FROM events WHERE account_id = ? AND kind = 'refresh' ORDER BY id DESC LIMIT 1",
    )
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    Ok(last.and_then(|(at, outcome, before)| {
        (Outcome::parse(&outcome) == Some(Outcome::Started) && before == Some(generation)).then_some(at)
    }))
}
