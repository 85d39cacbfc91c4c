//! The `events` table: what happened to each account, and the summary
//! columns of `accounts` kept in step with it.

use super::Tx;
use super::{Pool, Spelled, SpelledOrNull};
use crate::domain::health::{AttemptResult, Cause, OpenIncident};
use crate::domain::timeline::next_summary;
pub use crate::domain::timeline::{EventKind, NewEvent, Outcome, Summary};
use sqlx::AnyConnection;

/// A stored event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    #[sqlx(try_from = "Spelled<EventKind>")]
    pub kind: EventKind,
    #[sqlx(try_from = "Spelled<Outcome>")]
    pub outcome: Outcome,
    #[sqlx(try_from = "SpelledOrNull<Cause>")]
    pub cause: Option<Cause>,
    pub http_status: Option<i64>,
    pub x_error: Option<String>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    /// A saved refresh that kept the previous refresh token (X sent none).
    #[sqlx(try_from = "super::Flag")]
    pub kept_refresh_token: bool,
    pub actor: String,
    pub detail: Option<String>,
}

/// The summary columns of `accounts`, as stored.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    last_refresh_at: Option<i64>,
    #[sqlx(try_from = "super::FlagOrNull")]
    last_refresh_ok: Option<bool>,
    last_check_at: Option<i64>,
    #[sqlx(try_from = "super::FlagOrNull")]
    last_check_ok: Option<bool>,
    last_verified_at: Option<i64>,
    #[sqlx(try_from = "SpelledOrNull<Cause>")]
    incident_cause: Option<Cause>,
    /// Its start; the account's connect for an incident written without one.
    incident_since: i64,
    incident_status: Option<i64>,
    incident_x_error: Option<String>,
    incident_at: Option<i64>,
}

/// The account's summary, `None` if there is no such account.
pub async fn summary(conn: &mut AnyConnection, account_id: &str) -> Result<Option<Summary>, sqlx::Error> {
    let row: Option<SummaryRow> = sqlx::query_as(
        "SELECT last_refresh_at, last_refresh_ok, last_check_at, last_check_ok, last_verified_at,
             incident_cause, COALESCE(incident_since, connected_at) AS incident_since, incident_status, incident_x_error,
             incident_at
         FROM accounts WHERE id = $1",
    )
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Summary {
        last_refresh_at: r.last_refresh_at,
        last_refresh_ok: r.last_refresh_ok,
        last_check_at: r.last_check_at,
        last_check_ok: r.last_check_ok,
        last_verified_at: r.last_verified_at,
        incident: r.incident_cause.map(|cause| OpenIncident { cause, since: r.incident_since }),
        incident_status: r.incident_status,
        incident_x_error: r.incident_x_error,
        incident_at: r.incident_at,
    }))
}

/// Appends `event` and brings the account's summary columns (last refresh,
/// last check, last proof of life, open incident) up to date, in `tx`.
///
/// The insert comes first: it takes the database's write lock, so no other
/// event of the account can come between reading the summary and writing
/// the next one (SQLite has one writer at a time).
pub async fn record(
    tx: &mut Tx<'_>,
    account_id: &str,
    at: i64,
    event: &NewEvent,
    result: AttemptResult,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (account_id, at, kind, outcome, cause, http_status, x_error,
             generation_before, generation_after, kept_refresh_token, actor, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .bind(event.kept_refresh_token)
    .bind(&event.actor)
    .bind(&event.detail)
    .execute(&mut **tx)
    .await?;

    if event.outcome == Outcome::Started {
        return Ok(());
    }
    let Some(previous) = summary(tx, account_id).await? else { return Ok(()) };
    let next = next_summary(&previous, event, at, result);
    sqlx::query(
        "UPDATE accounts SET last_refresh_at = $1, last_refresh_ok = $2, last_check_at = $3, last_check_ok = $4,
             last_verified_at = $5, incident_cause = $6, incident_since = $7, incident_status = $8, incident_x_error = $9,
             incident_at = $10
         WHERE id = $11",
    )
    .bind(next.last_refresh_at)
    .bind(next.last_refresh_ok)
    .bind(next.last_check_at)
    .bind(next.last_check_ok)
    .bind(next.last_verified_at)
    .bind(next.incident.as_ref().map(|i| i.cause.as_str()))
    .bind(next.incident.as_ref().map(|i| i.since))
    .bind(next.incident_status)
    .bind(&next.incident_x_error)
    .bind(next.incident_at)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends an event in its own transaction.
pub async fn append(
    pool: &Pool,
    account_id: &str,
    at: i64,
    event: &NewEvent,
    result: AttemptResult,
) -> Result<(), sqlx::Error> {
    // IMMEDIATE: the write lock up front, so that concurrent events wait
    // their turn rather than read a summary another is about to replace.
    let mut tx = super::begin_write(pool, super::WriteScope::Account(account_id)).await?;
    record(&mut tx, account_id, at, event, result).await?;
    tx.commit().await
}

/// The newest `limit` events of an account, newest first.
pub async fn recent(pool: &Pool, account_id: &str, limit: i64) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, outcome, cause, http_status, x_error, generation_before, generation_after, kept_refresh_token,
             actor, detail
         FROM events WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// When the person last consented to the account's grant: its newest
/// connect or reconnect. X's refresh tokens count their ~6 months from it.
pub async fn granted_at(pool: &Pool, account_id: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(at) FROM events WHERE account_id = $1 AND kind IN ($2, $3) AND outcome = $4")
        .bind(account_id)
        .bind(EventKind::Connect.as_str())
        .bind(EventKind::Reconnect.as_str())
        .bind(Outcome::Ok.as_str())
        .fetch_one(pool)
        .await
}

/// When a refresh of `generation` was sent and never answered: the
/// account's newest refresh event is that refresh's `started`, with no
/// outcome after it (a process died while waiting for X).
pub async fn unanswered_refresh(pool: &Pool, account_id: &str, generation: i64) -> Result<Option<i64>, sqlx::Error> {
    let last: Option<(i64, Spelled<Outcome>, Option<i64>)> = sqlx::query_as(
        "SELECT at, outcome, generation_before FROM events WHERE account_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(account_id)
    .bind(EventKind::Refresh.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(last.and_then(|(at, outcome, before)| {
        (Outcome::from(outcome) == Outcome::Started && before == Some(generation)).then_some(at)
    }))
}
