//! The `reconnect_links` table: single-use links to reconnect one account.

use super::Pool;

/// A stored link (its secret part exists only in the URL handed out).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Link {
    pub id: String,
    pub account_id: String,
    pub created_by: Option<String>,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

const SELECT: &str =
    "SELECT l.id, l.account_id, l.created_by, u.name AS created_by_name, l.created_at, l.expires_at, l.used_at
    FROM reconnect_links l LEFT JOIN users u ON u.id = l.created_by";

pub struct NewLink<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub token_hash: &'a str,
    pub created_by: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert(pool: &Pool, link: &NewLink<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reconnect_links (id, account_id, token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(link.id)
    .bind(link.account_id)
    .bind(link.token_hash)
    .bind(link.created_by)
    .bind(link.created_at)
    .bind(link.expires_at)
    .execute(pool)
    .await
    .map(|_| ())
}

/// The link whose secret hashes to `token_hash`.
pub async fn by_hash(pool: &Pool, token_hash: &str) -> Result<Option<Link>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE l.token_hash = $1")).bind(token_hash).fetch_optional(pool).await
}

pub async fn by_id(pool: &Pool, id: &str) -> Result<Option<Link>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE l.id = $1")).bind(id).fetch_optional(pool).await
}

/// An account's links, newest first.
pub async fn for_account(pool: &Pool, account_id: &str, limit: i64) -> Result<Vec<Link>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE l.account_id = $1 ORDER BY l.created_at DESC LIMIT $2"))
        .bind(account_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Claims an unused, unexpired link for a reconnect in flight. `false` when
/// it was used (or claimed) already, or has expired: only one reconnect can
/// ever go through a link.
pub async fn claim(pool: &Pool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let claimed =
        sqlx::query("UPDATE reconnect_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $3")
            .bind(now)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(claimed == 1)
}

/// Gives a claim back when the reconnect did not save (wrong X account,
/// cancelled at X, X failed): the person can try again with the same link.
pub async fn release(pool: &Pool, id: &str, claimed_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reconnect_links SET used_at = NULL WHERE id = $1 AND used_at = $2")
        .bind(id)
        .bind(claimed_at)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Ends an unused link now. `false` if it was used or had expired already.
pub async fn revoke(pool: &Pool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let changed =
        sqlx::query("UPDATE reconnect_links SET expires_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $3")
            .bind(now)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(changed == 1)
}
