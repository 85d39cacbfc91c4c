//! The `api_keys` and `api_key_accounts` tables: who may call the pipeline
//! API, for which accounts. Keys are looked up by their SHA-256; the key
//! itself is never stored.

use super::Pool;

/// A key as the API needs it to authorize a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub all_accounts: bool,
    /// The accounts it may act for, when not all.
    pub accounts: Vec<String>,
}

impl KeyRecord {
    /// Whether this key may act for `account_id`.
    pub fn allows(&self, account_id: &str) -> bool {
        self.all_accounts || self.accounts.iter().any(|a| a == account_id)
    }
}

/// A key as lists show it: no hash, no key.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyListing {
    pub id: String,
    pub name: String,
    pub prefix: String,
    #[sqlx(try_from = "super::Flag")]
    pub all_accounts: bool,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

/// A key to store.
pub struct NewKey<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    /// `None`: every account.
    pub accounts: Option<&'a [String]>,
    pub created_by: &'a str,
}

/// Why a key could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("no account {0}")]
    UnknownAccount(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Stores a key and its accounts in one transaction.
pub async fn create(pool: &Pool, key: &NewKey<'_>, now: i64) -> Result<(), CreateError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, prefix, all_accounts, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key.id)
    .bind(key.name)
    .bind(key.key_hash)
    .bind(key.prefix)
    .bind(key.accounts.is_none())
    .bind(now)
    .bind(key.created_by)
    .execute(&mut *tx)
    .await?;
    for account_id in key.accounts.unwrap_or_default() {
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(CreateError::UnknownAccount(account_id.clone()));
        }
        sqlx::query("INSERT INTO api_key_accounts (key_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(key.id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The live (not revoked) key with this hash, with its accounts.
pub async fn by_hash(pool: &Pool, key_hash: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
    let row: Option<(String, String, super::Flag)> =
        sqlx::query_as("SELECT id, name, all_accounts FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(pool)
            .await?;
    let Some((id, name, all_accounts)) = row else {
        return Ok(None);
    };
    let all_accounts = bool::from(all_accounts);
    let accounts = if all_accounts {
        Vec::new()
    } else {
        sqlx::query_scalar("SELECT account_id FROM api_key_accounts WHERE key_id = $1 ORDER BY account_id")
            .bind(&id)
            .fetch_all(pool)
            .await?
    };
    Ok(Some(KeyRecord { id, name, all_accounts, accounts }))
}

/// Revokes a key. Returns whether a live key with this id existed. Takes
/// the pool or a transaction (revoking also cancels the key's held posts).
pub async fn revoke<'e>(db: impl super::Executor<'e>, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A key's name, revoked or not.
pub async fn name<'e>(db: impl super::Executor<'e>, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM api_keys WHERE id = $1").bind(id).fetch_optional(db).await
}

/// Every key, newest first.
pub async fn list(pool: &Pool) -> Result<Vec<KeyListing>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, prefix, all_accounts, created_at, created_by, revoked_at FROM api_keys ORDER BY created_at DESC, id",
    )
    .fetch_all(pool)
    .await
}

/// The accounts a key is limited to (empty for an all-accounts key).
pub async fn accounts_of(pool: &Pool, id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT account_id FROM api_key_accounts WHERE key_id = $1 ORDER BY account_id")
        .bind(id)
        .fetch_all(pool)
        .await
}
