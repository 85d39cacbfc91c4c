//! The `posts` table: posts published through the pipeline API, claimed by
//! idempotency key before X is called, and held when a person must act.
//! Also `auth_failure_reports`, the count of 401/403 reports per token generation.

use super::Pool;
use super::Tx;
use crate::domain::health::Cause;

/// Where a post stands. The one place the `status` column becomes an enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostStatus {
    /// Claimed: a request is calling X for it right now.
    Publishing,
    Published,
    /// Waiting for a person (reconnect, app or clock fix), then published in order.
    Held,
    /// X refused the content (400): sending it again would not help.
    Rejected,
    /// The call to X may or may not have gone through (the answer was lost):
    /// never sent again automatically, so it cannot appear twice.
    Unknown,
    /// X's passing trouble before it could post: the same request may try again.
    Retryable,
    /// Held, then cancelled before it went out: its API key was revoked, or
    /// an owner or admin discarded it. Never published.
    Cancelled,
}

impl PostStatus {
    pub const ALL: [PostStatus; 7] = [
        PostStatus::Publishing,
        PostStatus::Published,
        PostStatus::Held,
        PostStatus::Rejected,
        PostStatus::Unknown,
        PostStatus::Retryable,
        PostStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Publishing => "publishing",
            PostStatus::Published => "published",
            PostStatus::Held => "held",
            PostStatus::Rejected => "rejected",
            PostStatus::Unknown => "unknown",
            PostStatus::Retryable => "retryable",
            PostStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A stored post.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    pub account_id: String,
    pub api_key_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub text: String,
    status: String,
    pub x_post_id: Option<String>,
    cause: Option<String>,
    pub http_status: Option<i64>,
    pub x_error: Option<String>,
    pub x_calls: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

impl Post {
    pub fn status(&self) -> PostStatus {
        // Only this module writes the column, always through PostStatus.
        PostStatus::parse(&self.status).unwrap_or(PostStatus::Unknown)
    }

    pub fn cause(&self) -> Option<Cause> {
        Cause::parse(self.cause.as_deref()?)
    }
}

const POST_SELECT: &str = "SELECT id, account_id, api_key_id, idempotency_key, request_hash, text, status, x_post_id,
        cause, http_status, x_error, x_calls, created_at, updated_at, published_at FROM posts";

/// A request to publish.
pub struct NewPost<'a> {
    pub account_id: &'a str,
    pub api_key_id: &'a str,
    pub idempotency_key: &'a str,
    pub request_hash: &'a str,
    pub text: &'a str,
}

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// This request owns the post now (new, or a retry after X's passing trouble).
    Mine(i64),
    /// The key was used before: its post as it stands.
    Existing(Box<Post>),
}

/// Claims the idempotency key for this request, in one statement: inserts a
/// `publishing` row, or takes over a `retryable` one. Any other existing row
/// is returned as it stands, so a retried request never posts twice.
pub async fn claim(pool: &Pool, post: &NewPost<'_>, now: i64) -> Result<Claim, sqlx::Error> {
    let mine: Option<i64> = sqlx::query_scalar(
        "INSERT INTO posts (account_id, api_key_id, idempotency_key, request_hash, text, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'publishing', $6, $7)
         ON CONFLICT (api_key_id, idempotency_key) DO UPDATE SET status = 'publishing', updated_at = excluded.updated_at
         WHERE posts.status = 'retryable' AND posts.request_hash = excluded.request_hash
         RETURNING id",
    )
    .bind(post.account_id)
    .bind(post.api_key_id)
    .bind(post.idempotency_key)
    .bind(post.request_hash)
    .bind(post.text)
    .bind(now)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(id) = mine {
        return Ok(Claim::Mine(id));
    }
    let existing: Post = sqlx::query_as(&format!("{POST_SELECT} WHERE api_key_id = $1 AND idempotency_key = $2"))
        .bind(post.api_key_id)
        .bind(post.idempotency_key)
        .fetch_one(pool)
        .await?;
    Ok(Claim::Existing(Box::new(existing)))
}

/// How an attempt to publish ended, to record on the post.
pub struct Finished<'a> {
    pub status: PostStatus,
    pub x_post_id: Option<&'a str>,
    pub cause: Option<Cause>,
    pub http_status: Option<u16>,
    pub x_error: Option<&'a str>,
    /// Calls to X made by this attempt.
    pub x_calls: u32,
}

/// Records how the attempt that claimed post `id` ended.
pub async fn finish(pool: &Pool, id: i64, done: &Finished<'_>, now: i64) -> Result<Post, sqlx::Error> {
    sqlx::query_as(
        "UPDATE posts SET status = $1, x_post_id = COALESCE($2, x_post_id), cause = $3, http_status = $4, x_error = $5,
             x_calls = x_calls + $6, updated_at = $7,
             published_at = CASE WHEN $8 = 'published' THEN $9 ELSE published_at END
         WHERE id = $10
         RETURNING id, account_id, api_key_id, idempotency_key, request_hash, text, status, x_post_id,
             cause, http_status, x_error, x_calls, created_at, updated_at, published_at",
    )
    .bind(done.status.as_str())
    .bind(done.x_post_id)
    .bind(done.cause.map(Cause::as_str))
    .bind(done.http_status.map(i64::from))
    .bind(done.x_error)
    .bind(i64::from(done.x_calls))
    .bind(now)
    .bind(done.status.as_str())
    .bind(now)
    .bind(id)
    .fetch_one(pool)
    .await
}

/// Posts left `publishing` since before `before`: the request publishing them
/// died between claiming and recording (the server stopped). They may have
/// reached X, so they become `unknown` — never sent again — instead of
/// blocking their idempotency key forever. Returns how many.
pub async fn give_up_stale(pool: &Pool, before: i64, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE posts SET status = 'unknown', cause = $1, updated_at = $2,
             x_error = 'the request publishing it never finished (did the server stop?): it may have reached X'
         WHERE status = 'publishing' AND updated_at < $3",
    )
    .bind(Cause::XUnavailable.as_str())
    .bind(now)
    .bind(before)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The account's held posts, oldest first: the order they are published in.
pub async fn held(pool: &Pool, account_id: &str) -> Result<Vec<Post>, sqlx::Error> {
    sqlx::query_as(&format!("{POST_SELECT} WHERE account_id = $1 AND status = 'held' ORDER BY id"))
        .bind(account_id)
        .fetch_all(pool)
        .await
}

/// What [`claim_held`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldClaim {
    /// This release publishes it now.
    Claimed,
    /// The key that queued it is revoked: it was cancelled instead.
    KeyRevoked,
    /// No longer held: another release took it, or it was cancelled.
    Gone,
}

/// Takes a held post for publishing — only while the API key that queued it
/// is live, so a post never goes out in the name of a revoked key; a post
/// whose key is revoked is cancelled. Only one releaser wins a post, so two
/// releases at once (two reconnects, a person clicking twice) publish it once.
pub async fn claim_held(tx: &mut Tx<'_>, id: i64, now: i64) -> Result<HeldClaim, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE posts SET status = 'publishing', updated_at = $1
         WHERE id = $2 AND status = 'held'
           AND EXISTS (SELECT 1 FROM api_keys k WHERE k.id = posts.api_key_id AND k.revoked_at IS NULL)",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(HeldClaim::Claimed);
    }
    let cancelled =
        sqlx::query("UPDATE posts SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND status = 'held'")
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(if cancelled.rows_affected() == 1 { HeldClaim::KeyRevoked } else { HeldClaim::Gone })
}

/// A held post that was just cancelled.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CancelledPost {
    pub id: i64,
    pub account_id: String,
}

/// Cancels every post API key `key_id` queued that is still held, oldest
/// first. A post being published at this moment is not held and goes on.
pub async fn cancel_held_of_key(tx: &mut Tx<'_>, key_id: &str, now: i64) -> Result<Vec<CancelledPost>, sqlx::Error> {
    let mut cancelled: Vec<CancelledPost> = sqlx::query_as(
        "UPDATE posts SET status = 'cancelled', updated_at = $1 WHERE api_key_id = $2 AND status = 'held' RETURNING id, account_id",
    )
    .bind(now)
    .bind(key_id)
    .fetch_all(&mut **tx)
    .await?;
    cancelled.sort_by_key(|p| p.id);
    Ok(cancelled)
}

/// Cancels post `id` if it is still held for `account_id` (a person
/// discarded it). Returns whether it was.
pub async fn discard_held(tx: &mut Tx<'_>, account_id: &str, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE posts SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND account_id = $3 AND status = 'held'",
    )
    .bind(now)
    .bind(id)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One post by id.
pub async fn get(pool: &Pool, id: i64) -> Result<Option<Post>, sqlx::Error> {
    sqlx::query_as(&format!("{POST_SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await
}

/// Whether the first report of the generation before `generation` was
/// answered `retry_once`: then `generation` is the fresh token handed out
/// for that retry.
pub async fn retried_before(pool: &Pool, account_id: &str, generation: i64) -> Result<bool, sqlx::Error> {
    let previous: Option<String> = sqlx::query_scalar(
        "SELECT first_verdict FROM auth_failure_reports WHERE account_id = $1 AND generation = $2 - 1",
    )
    .bind(account_id)
    .bind(generation)
    .fetch_optional(pool)
    .await?;
    Ok(previous.as_deref() == Some("retry_once"))
}

/// The reports of one token generation so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportCount {
    /// This one included.
    pub reports: i64,
    /// The answer to the first (`retry_once` or `stop`).
    pub first_verdict: String,
}

/// Counts a 401/403 report for `generation`, in one statement: the first
/// report stores `verdict` (its answer) with the count, so every later one
/// learns it, however close behind.
pub async fn count_report(
    pool: &Pool,
    account_id: &str,
    generation: i64,
    verdict: &str,
) -> Result<ReportCount, sqlx::Error> {
    let (reports, first_verdict): (i64, String) = sqlx::query_as(
        "INSERT INTO auth_failure_reports (account_id, generation, reports, first_verdict) VALUES ($1, $2, 1, $3)
         ON CONFLICT (account_id, generation) DO UPDATE SET reports = auth_failure_reports.reports + 1
         RETURNING reports, first_verdict",
    )
    .bind(account_id)
    .bind(generation)
    .bind(verdict)
    .fetch_one(pool)
    .await?;
    Ok(ReportCount { reports, first_verdict })
}

/// The accounts holding posts for `cause`, the one holding the oldest first.
pub async fn accounts_holding(pool: &Pool, cause: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT account_id FROM posts WHERE status = 'held' AND cause = $1 GROUP BY account_id ORDER BY MIN(id)",
    )
    .bind(cause)
    .fetch_all(pool)
    .await
}
