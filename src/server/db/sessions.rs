//! Browser sessions (sign-ins, reconnects in flight), kept in the database by
//! tower-sessions' sqlx stores, so that a session made on one replica works on
//! every other. The stores need their engine's own pool, so [`Store`] holds
//! one beside the shared [`super::Pool`]. The stores never delete a session
//! that simply expired, so a task does it here.

use super::Backend;
use std::time::Duration;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// Where the sessions are: the table SQLite's store creates, and the
/// schema-qualified table PostgreSQL's store creates (their default names).
pub fn table(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "tower_sessions",
        Backend::Postgres => "tower_sessions.session",
    }
}

/// Connections the session store keeps, beside the shared pool's.
const POOL_SIZE: u32 = 4;

/// The session store of either engine.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Opens the store on the database at `url` (already opened and migrated
    /// by [`super::open`]) and creates its table if missing.
    pub async fn open(url: &str) -> Result<Store, sqlx::Error> {
        let store = match Backend::of_url(url) {
            Some(Backend::Postgres) => {
                let pool = sqlx::postgres::PgPoolOptions::new().max_connections(POOL_SIZE).connect(url).await?;
                Store::Postgres(PostgresStore::new(pool))
            }
            _ => {
                use std::str::FromStr;
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .busy_timeout(Duration::from_secs(10))
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
                let pool =
                    sqlx::sqlite::SqlitePoolOptions::new().max_connections(POOL_SIZE).connect_with(options).await?;
                Store::Sqlite(SqliteStore::new(pool))
            }
        };
        match &store {
            Store::Sqlite(s) => s.migrate().await?,
            Store::Postgres(s) => s.migrate().await?,
        }
        Ok(store)
    }
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.create(record).await,
            Store::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.save(record).await,
            Store::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Store::Sqlite(s) => s.load(id).await,
            Store::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete(id).await,
            Store::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for Store {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Store::Sqlite(s) => s.delete_expired().await,
            Store::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// How often expired sessions are deleted. An expired session is already
/// refused by the store when it is presented; deleting it only keeps the
/// table (and the session ids in it) small, so a quarter of an hour is
/// plenty.
pub const DELETE_EXPIRED_EVERY: Duration = Duration::from_secs(15 * 60);

/// Deletes expired sessions now and then every `every`, for as long as the
/// task runs. A failed round is logged and the next one tried: a busy
/// database must not end the cleaning for good. (Every replica runs it: a
/// DELETE of expired rows is the same whoever runs it, and twice is harmless.)
pub async fn delete_expired_every(store: Store, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "deleting expired sessions");
        }
    }
}
