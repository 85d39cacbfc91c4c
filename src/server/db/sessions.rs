//! The `tower_sessions` table, which tower-sessions' SQLite store creates and
//! reads: sign-ins and reconnects in flight. The store never deletes a
//! session that simply expired, so a task does it here.

use std::time::Duration;
use tower_sessions::ExpiredDeletion;
use tower_sessions_sqlx_store::SqliteStore;

/// The table the store keeps sessions in (its default name).
pub const TABLE: &str = "tower_sessions";

/// How often expired sessions are deleted. An expired session is already
/// refused by the store when it is presented; deleting it only keeps the
/// table (and the session ids in the file) small, so a quarter of an hour is
/// plenty.
pub const DELETE_EXPIRED_EVERY: Duration = Duration::from_secs(15 * 60);

/// Deletes expired sessions now and then every `every`, for as long as the
/// task runs. A failed round is logged and the next one tried: a busy
/// database must not end the cleaning for good.
pub async fn delete_expired_every(store: SqliteStore, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "deleting expired sessions");
        }
    }
}
