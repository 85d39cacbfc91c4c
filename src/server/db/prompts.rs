//! The `prompts` and `notifications` tables: what needs a person, and the
//! outbox of messages telling them.

use super::Pool;
use crate::domain::health::Cause;

/// A prompt as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Prompt {
    pub id: i64,
    pub subject: String,
    pub account_id: Option<String>,
    #[sqlx(try_from = "super::Spelled<Cause>")]
    pub cause: Cause,
    pub opened_at: i64,
    pub escalated_at: Option<i64>,
    pub closed_at: Option<i64>,
}

const SELECT: &str = "SELECT id, subject, account_id, cause, opened_at, escalated_at, closed_at FROM prompts";

/// Every open prompt, oldest first.
pub async fn open(pool: &Pool) -> Result<Vec<Prompt>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE closed_at IS NULL ORDER BY opened_at, id")).fetch_all(pool).await
}

/// The open prompt of `subject`, if any.
pub async fn open_for_subject(pool: &Pool, subject: &str) -> Result<Option<Prompt>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE subject = $1 AND closed_at IS NULL"))
        .bind(subject)
        .fetch_optional(pool)
        .await
}

/// The newest prompts of an account, open or closed.
pub async fn for_account(pool: &Pool, account_id: &str, limit: i64) -> Result<Vec<Prompt>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE account_id = $1 ORDER BY id DESC LIMIT $2"))
        .bind(account_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// A message to queue with a prompt change.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub kind: &'static str,
    pub channel: &'static str,
    pub recipient: String,
    pub payload: String,
}

/// Opens a prompt for `subject` and queues its messages, in one
/// transaction. `None` when one is open already (raised by another sweep):
/// then nothing is queued either.
pub async fn raise(
    pool: &Pool,
    subject: &str,
    account_id: Option<&str>,
    cause: Cause,
    now: i64,
    messages: &[NewNotification],
) -> Result<Option<i64>, sqlx::Error> {
    let scope = account_id.map_or(super::WriteScope::All, super::WriteScope::Account);
    let mut tx = super::begin_write(pool, scope).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO prompts (subject, account_id, cause, opened_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (subject) WHERE closed_at IS NULL DO NOTHING RETURNING id",
    )
    .bind(subject)
    .bind(account_id)
    .bind(cause.as_str())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    queue(&mut tx, id, now, messages).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Marks an open prompt escalated and queues the admins' messages; `false`
/// if it was escalated or closed meanwhile.
pub async fn escalate(pool: &Pool, id: i64, now: i64, messages: &[NewNotification]) -> Result<bool, sqlx::Error> {
    transition(
        pool,
        id,
        now,
        "UPDATE prompts SET escalated_at = $1 WHERE id = $2 AND escalated_at IS NULL AND closed_at IS NULL",
        messages,
    )
    .await
}

/// Closes an open prompt and queues the recovery notices; `false` if it was
/// closed meanwhile.
pub async fn close(pool: &Pool, id: i64, now: i64, messages: &[NewNotification]) -> Result<bool, sqlx::Error> {
    transition(pool, id, now, "UPDATE prompts SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL", messages).await
}

async fn transition(
    pool: &Pool,
    id: i64,
    now: i64,
    update: &str,
    messages: &[NewNotification],
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool, super::WriteScope::All).await?;
    let changed = sqlx::query(update).bind(now).bind(id).execute(&mut *tx).await?.rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    queue(&mut tx, id, now, messages).await?;
    tx.commit().await?;
    Ok(true)
}

async fn queue(
    tx: &mut super::Tx<'_>,
    prompt_id: i64,
    now: i64,
    messages: &[NewNotification],
) -> Result<(), sqlx::Error> {
    for m in messages {
        sqlx::query(
            "INSERT INTO notifications (prompt_id, kind, channel, recipient, payload, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (prompt_id, kind, channel, recipient) DO NOTHING",
        )
        .bind(prompt_id)
        .bind(m.kind)
        .bind(m.channel)
        .bind(&m.recipient)
        .bind(&m.payload)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A queued message.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub prompt_id: i64,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub payload: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub gave_up_at: Option<i64>,
    pub last_error: Option<String>,
}

const NOTIFICATION_SELECT: &str = "SELECT id, prompt_id, kind, channel, recipient, payload, created_at, attempts,
    next_attempt_at, delivered_at, gave_up_at, last_error FROM notifications";

/// Claims up to `limit` messages due for a delivery attempt at `now`, oldest
/// first: each one's next attempt moves to `lease_until`, so no other replica
/// (or sweep) sends it meanwhile; [`delivered`] or [`failed`] then records the
/// attempt. A replica that dies while sending leaves the message to be tried
/// again once the lease ends.
pub async fn claim_due(pool: &Pool, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Notification>, sqlx::Error> {
    // PostgreSQL: replicas claiming at once pass over each other's rows
    // instead of waiting for them. SQLite has one writer and no FOR UPDATE.
    let skip_locked = match super::Backend::of(pool) {
        super::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        super::Backend::Sqlite => "",
    };
    let returning = NOTIFICATION_SELECT.trim_start_matches("SELECT").trim_end_matches("FROM notifications");
    let mut claimed: Vec<Notification> = sqlx::query_as(&format!(
        "UPDATE notifications SET next_attempt_at = $1
         WHERE id IN (SELECT id FROM notifications
                      WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $2
                      ORDER BY next_attempt_at, id LIMIT $3 {skip_locked})
         RETURNING {returning}"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    claimed.sort_by_key(|n| n.id);
    Ok(claimed)
}

/// Every message, oldest first.
pub async fn all_notifications(pool: &Pool) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(&format!("{NOTIFICATION_SELECT} ORDER BY id")).fetch_all(pool).await
}

pub async fn delivered(pool: &Pool, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notifications SET delivered_at = $1, attempts = attempts + 1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Records a failed attempt: retry at `retry_at`, or give up when `None`.
pub async fn failed(pool: &Pool, id: i64, now: i64, error: &str, retry_at: Option<i64>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET attempts = attempts + 1, last_error = $1,
             next_attempt_at = COALESCE($2, next_attempt_at), gave_up_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END
         WHERE id = $5",
    )
    .bind(error)
    .bind(retry_at)
    .bind(retry_at)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ())
}
