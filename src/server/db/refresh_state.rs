//! The `refresh_state` table: the lease that makes a refresh one-at-a-time
//! across processes, and the backoff after X's passing trouble.

use super::events::{EventKind, Outcome};
use super::Pool;
use crate::domain::health::Cause;

/// Takes the refresh lease of `account_id` for `owner` until `until`, if no
/// one else holds a live one. Returns whether `owner` now holds it.
pub async fn acquire(pool: &Pool, account_id: &str, owner: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO refresh_state (account_id, lease_owner, lease_until) VALUES ($1, $2, $3)
         ON CONFLICT (account_id) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
         WHERE refresh_state.lease_owner IS NULL
            OR refresh_state.lease_until < $4
            OR refresh_state.lease_owner = excluded.lease_owner",
    )
    .bind(account_id)
    .bind(owner)
    .bind(until)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases the lease, only if `owner` still holds it.
pub async fn release(pool: &Pool, account_id: &str, owner: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_state SET lease_owner = NULL, lease_until = NULL WHERE account_id = $1 AND lease_owner = $2",
    )
    .bind(account_id)
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether someone holds a live lease on `account_id`.
pub async fn leased(pool: &Pool, account_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let until: Option<Option<i64>> = sqlx::query_scalar("SELECT lease_until FROM refresh_state WHERE account_id = $1")
        .bind(account_id)
        .fetch_optional(pool)
        .await?;
    Ok(until.flatten().is_some_and(|u| u >= now))
}

/// After a transient failure: no automatic attempt before `next_attempt_at`.
pub async fn back_off(pool: &Pool, account_id: &str, next_attempt_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_state (account_id, next_attempt_at, transient_failures) VALUES ($1, $2, 1)
         ON CONFLICT (account_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at,
             transient_failures = refresh_state.transient_failures + 1",
    )
    .bind(account_id)
    .bind(next_attempt_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Consecutive transient failures so far.
pub async fn transient_failures(pool: &Pool, account_id: &str) -> Result<i64, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT transient_failures FROM refresh_state WHERE account_id = $1")
        .bind(account_id)
        .fetch_optional(pool)
        .await?;
    Ok(n.unwrap_or(0))
}

/// After an answer from X that was not passing trouble: no backoff.
pub async fn clear_backoff(pool: &Pool, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_state SET next_attempt_at = NULL, transient_failures = 0 WHERE account_id = $1")
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Claims up to `limit` due accounts for `owner`: takes each one's lease
/// until `lease_until` and returns their ids, soonest first. Due: its access
/// token expires before `due_before` (or its last refresh answer was lost and
/// needs verifying), it is not backing off, no one holds its lease, and its
/// open incident (if any) is one a refresh can help — X's passing trouble
/// (refusing valid tokens included) or a lost refresh answer.
///
/// Replicas sweeping at once share the due accounts out: a claimed account is
/// leased, so no other replica claims it until the lease ends, and the
/// refresh that follows re-takes its own lease ([`acquire`] lets the owner).
pub async fn claim_due(
    pool: &Pool,
    owner: &str,
    due_before: i64,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    // The causes a refresh can help, as the domain decides, each bound as its
    // stored spelling ($6, $7, …).
    let helped: Vec<&str> = Cause::ALL.into_iter().filter(|c| c.refresh_can_help()).map(Cause::as_str).collect();
    let placeholders: Vec<String> = (0..helped.len()).map(|i| format!("${}", i + 6)).collect();
    // PostgreSQL runs replicas' claims side by side: `SKIP LOCKED` passes over
    // accounts another replica is claiming this instant instead of waiting
    // for them and then finding them leased. SQLite runs one writer at a
    // time, so its claims never meet, and it knows no `FOR UPDATE`.
    let skip_locked = match super::Backend::of(pool) {
        super::Backend::Postgres => "FOR UPDATE OF a SKIP LOCKED",
        super::Backend::Sqlite => "",
    };
    let sql = format!(
        "WITH picked AS (
             SELECT a.id FROM accounts a
             JOIN token_sets t ON t.account_id = a.id
             LEFT JOIN refresh_state r ON r.account_id = a.id
             JOIN x_apps x ON x.client_id = a.client_id
             WHERE (t.expires_at <= $1 OR a.incident_cause = $2)
               AND t.refresh_token_ct IS NOT NULL
               AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= $3)
               AND (r.lease_until IS NULL OR r.lease_until < $3)
               AND (a.incident_cause IS NULL OR a.incident_cause IN ({}))
               AND x.credentials_rejected_since IS NULL
             ORDER BY t.expires_at
             LIMIT $4
             {skip_locked}
         )
         INSERT INTO refresh_state (account_id, lease_owner, lease_until)
         SELECT id, $5, ${} FROM picked WHERE TRUE
         ON CONFLICT (account_id) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
         WHERE refresh_state.lease_owner IS NULL OR refresh_state.lease_until < $3
         RETURNING account_id",
        placeholders.join(", "),
        helped.len() + 6,
    );
    let mut query = sqlx::query_scalar(&sql).bind(due_before).bind(Cause::RefreshAnswerLost.as_str()).bind(now);
    query = query.bind(limit).bind(owner);
    for cause in helped {
        query = query.bind(cause);
    }
    let mut claimed: Vec<String> = query.bind(lease_until).fetch_all(pool).await?;
    // RETURNING gives no order; soonest first is by expiry, which the ids
    // alone do not carry: keep the claim's own order by asking once more.
    if claimed.len() > 1 {
        claimed = order_by_expiry(pool, &claimed).await?;
    }
    Ok(claimed)
}

/// `ids`, soonest expiry first.
async fn order_by_expiry(pool: &Pool, ids: &[String]) -> Result<Vec<String>, sqlx::Error> {
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT account_id FROM token_sets WHERE account_id IN ({}) ORDER BY expires_at, account_id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_scalar(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(pool).await
}

/// Accounts whose last refresh event is a `started` with no outcome and no
/// live lease: the process that sent it died, or the answer was lost.
pub async fn orphaned_intents(pool: &Pool, now: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.account_id, COALESCE(e.generation_before, 0) FROM events e
         LEFT JOIN refresh_state r ON r.account_id = e.account_id
         WHERE e.kind = $1 AND e.outcome = $2
           AND e.id = (SELECT MAX(id) FROM events WHERE account_id = e.account_id AND kind = $1)
           AND (r.lease_until IS NULL OR r.lease_until < $3)",
    )
    .bind(EventKind::Refresh.as_str())
    .bind(Outcome::Started.as_str())
    .bind(now)
    .fetch_all(pool)
    .await
}
