//! The `x_apps` table: the configured X app and the app-level facts.

use super::Pool;
use crate::domain::flow::Flow;
use crate::domain::health::{AppFacts, Cause, OpenIncident};
use crate::domain::incidents::{consumer_key_regenerated, Thresholds};

/// The configured app, as recorded at start-up.
pub struct AppRecord<'a> {
    pub client_id: &'a str,
    pub client_type: &'a str,
    pub environment: &'a str,
    pub secret_fingerprint: Option<String>,
    /// Of the OAuth 1.0a consumer key and secret, when configured.
    pub consumer_key_fingerprint: Option<String>,
}

/// Records the configured app (insert or update), keeping its app-level facts.
pub async fn upsert(pool: &Pool, app: &AppRecord<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO x_apps (client_id, client_type, environment, secret_fingerprint, updated_at, consumer_key_fingerprint)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (client_id) DO UPDATE SET
             client_type = excluded.client_type,
             environment = excluded.environment,
             -- A new secret may well fix rejected credentials: let the next
             -- call to X decide instead of showing a stale incident.
             credentials_rejected_since = CASE
                 WHEN x_apps.secret_fingerprint IS NOT DISTINCT FROM excluded.secret_fingerprint THEN x_apps.credentials_rejected_since
                 ELSE NULL END,
             secret_fingerprint = excluded.secret_fingerprint,
             -- The same for the consumer key: other credentials may well work.
             consumer_key_rejected_since = CASE
                 WHEN x_apps.consumer_key_fingerprint IS NOT DISTINCT FROM excluded.consumer_key_fingerprint
                 THEN x_apps.consumer_key_rejected_since ELSE NULL END,
             consumer_key_fingerprint = excluded.consumer_key_fingerprint,
             updated_at = excluded.updated_at",
    )
    .bind(app.client_id)
    .bind(app.client_type)
    .bind(app.environment)
    .bind(&app.secret_fingerprint)
    .bind(now)
    .bind(&app.consumer_key_fingerprint)
    .execute(pool)
    .await?;
    Ok(())
}

/// The app-level facts of `client_id` (empty if the app is unknown).
pub async fn facts(pool: &Pool, client_id: &str) -> Result<AppFacts, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        credentials_rejected_since: Option<i64>,
        clock_offset_ms: Option<i64>,
        credits_depleted_since: Option<i64>,
        credits_x_error: Option<String>,
        consumer_key_rejected_since: Option<i64>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT credentials_rejected_since, clock_offset_ms, credits_depleted_since, credits_x_error,
                consumer_key_rejected_since
         FROM x_apps WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(AppFacts::default()) };
    Ok(AppFacts {
        credentials_rejected_since: r.credentials_rejected_since,
        clock_offset_ms: r.clock_offset_ms,
        credits_depleted_since: r.credits_depleted_since,
        credits_x_error: r.credits_x_error,
        consumer_key_rejected_since: r.consumer_key_rejected_since,
        oauth1_keys_regenerated_since: oauth1_keys_regenerated_since(pool, client_id).await?,
    })
}

/// When every OAuth 1.0a account of the app began failing with X's code 89
/// together (`domain::incidents::consumer_key_regenerated`), or `None`.
async fn oauth1_keys_regenerated_since(pool: &Pool, client_id: &str) -> Result<Option<i64>, sqlx::Error> {
    let rows: Vec<(Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT a.incident_cause, a.incident_since FROM accounts a JOIN token_sets t ON t.account_id = a.id
         WHERE a.client_id = $1 AND t.flow = $2",
    )
    .bind(client_id)
    .bind(Flow::OAuth1.as_str())
    .fetch_all(pool)
    .await?;
    let incidents: Vec<Option<OpenIncident>> = rows
        .into_iter()
        .map(|(cause, since)| Some(OpenIncident { cause: Cause::parse(cause.as_deref()?)?, since: since? }))
        .collect();
    Ok(consumer_key_regenerated(&incidents, Thresholds::default().window_ms))
}

/// X refused the app's OAuth 1.0a consumer key (code 32; keeps the first time).
pub async fn consumer_key_rejected(pool: &Pool, client_id: &str, x_error: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE x_apps SET consumer_key_rejected_since = COALESCE(consumer_key_rejected_since, $1), consumer_key_error = $2
         WHERE client_id = $3",
    )
    .bind(at)
    .bind(x_error)
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// X answered a call signed with the consumer key: its incident, if any, is over.
pub async fn consumer_key_accepted(pool: &Pool, client_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE x_apps SET consumer_key_rejected_since = NULL, consumer_key_error = NULL
         WHERE client_id = $1 AND consumer_key_rejected_since IS NOT NULL",
    )
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// X rejected the client credentials (keeps the first time it happened).
pub async fn credentials_rejected(pool: &Pool, client_id: &str, x_error: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE x_apps SET credentials_rejected_since = COALESCE(credentials_rejected_since, $1), credentials_error = $2
         WHERE client_id = $3",
    )
    .bind(at)
    .bind(x_error)
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// X accepted the client credentials: the app-level incident, if any, is over.
pub async fn credentials_accepted(pool: &Pool, client_id: &str) -> Result<(), sqlx::Error> {
    // Read first: an UPDATE that matches nothing still queues for SQLite's
    // single write lock, and this runs after every successful refresh.
    let open: Option<Option<i64>> =
        sqlx::query_scalar("SELECT credentials_rejected_since FROM x_apps WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
    if open.flatten().is_none() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE x_apps SET credentials_rejected_since = NULL, credentials_error = NULL
         WHERE client_id = $1 AND credentials_rejected_since IS NOT NULL",
    )
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the latest measured offset of X's clock against ours.
pub async fn clock_measured(pool: &Pool, client_id: &str, offset_ms: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE x_apps SET clock_offset_ms = $1, clock_measured_at = $2 WHERE client_id = $3")
        .bind(offset_ms)
        .bind(at)
        .bind(client_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// X answered 402 "credits depleted" (keeps the first time it happened; the
/// body is X's latest words).
pub async fn credits_depleted(pool: &Pool, client_id: &str, x_error: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE x_apps SET credits_depleted_since = COALESCE(credits_depleted_since, $1), credits_x_error = $2
         WHERE client_id = $3",
    )
    .bind(at)
    .bind(x_error)
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// X accepts the app's calls again: the billing incident is over. Whether
/// there was one (so exactly one caller releases what it held).
pub async fn credits_restored(pool: &Pool, client_id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE x_apps SET credits_depleted_since = NULL, credits_x_error = NULL
         WHERE client_id = $1 AND credits_depleted_since IS NOT NULL",
    )
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When X was last probed, per incident kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probes {
    pub credits_probed_at: Option<i64>,
    pub x_incident_probed_at: Option<i64>,
    /// A probe found X answering normally again at this time.
    pub x_recovered_at: Option<i64>,
}

pub async fn probes(pool: &Pool, client_id: &str) -> Result<Probes, sqlx::Error> {
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT credits_probed_at, x_incident_probed_at, x_recovered_at FROM x_apps WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(pool)
    .await?;
    Ok(row
        .map(|(credits_probed_at, x_incident_probed_at, x_recovered_at)| Probes {
            credits_probed_at,
            x_incident_probed_at,
            x_recovered_at,
        })
        .unwrap_or_default())
}

/// Takes the credits probe of `at`, unless one was taken since `due_before`
/// (another process probes): whether this caller probes now.
pub async fn take_credits_probe(pool: &Pool, client_id: &str, at: i64, due_before: i64) -> Result<bool, sqlx::Error> {
    take_probe(pool, client_id, at, due_before, "credits_probed_at").await
}

/// The same for the X incident's probe.
pub async fn take_x_incident_probe(
    pool: &Pool,
    client_id: &str,
    at: i64,
    due_before: i64,
) -> Result<bool, sqlx::Error> {
    take_probe(pool, client_id, at, due_before, "x_incident_probed_at").await
}

async fn take_probe(
    pool: &Pool,
    client_id: &str,
    at: i64,
    due_before: i64,
    column: &'static str,
) -> Result<bool, sqlx::Error> {
    // `column` is one of two constants above, never input.
    let done = sqlx::query(&format!(
        "UPDATE x_apps SET {column} = $1 WHERE client_id = $2 AND ({column} IS NULL OR {column} <= $3 OR {column} > $4)"
    ))
    .bind(at)
    .bind(client_id)
    .bind(due_before)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A probe found X answering normally again at `at`.
pub async fn x_recovered(pool: &Pool, client_id: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE x_apps SET x_recovered_at = $1 WHERE client_id = $2")
        .bind(at)
        .bind(client_id)
        .execute(pool)
        .await?;
    Ok(())
}
