//! The database: connecting, migrating, and one repository module per table.
//! SQL lives only here; callers pass a pool or a transaction.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

pub type Pool = SqlitePool;

/// Opens (creating if missing) the database at `url` and applies every
/// pending migration from `migrations/`.
pub async fn connect(url: &str) -> Result<Pool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        // WAL lets the dashboard read while the engine writes.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Two processes on one file (several engines) wait for each other's
        // short write transactions instead of failing at once.
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

pub mod accounts;
pub mod api_keys;
pub mod apps;
pub mod events;
pub mod posts;
pub mod refresh_state;
pub mod links;
pub mod prompts;
pub mod sign_in;
pub mod users;
pub mod reads;
