//! What replicas tell each other through PostgreSQL: each listens for the
//! notifications the database's triggers send when a transaction commits
//! (migrations/postgres/0008) and drops what it keeps in memory that the
//! change made stale — every API key on a change to `api_keys` (a
//! revocation is refused on every replica within moments, not after a cache
//! lifetime), and an account's current token when another replica replaced
//! it — and announces every change to this replica's live pages
//! (`server::changes`). SQLite has no notifications: there the process
//! watches the database itself (`changes::watch_database`).

use crate::server::db::Backend;
use crate::server::AppState;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The channels (see the migration).
pub const CHANGES: &str = "authwatch_changes";
pub const TOKENS: &str = "authwatch_tokens";

/// Starts listening, on PostgreSQL; returns the task, if any.
pub fn spawn(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    (Backend::of(&state.pool) == Backend::Postgres).then(|| tokio::spawn(listen(state)))
}

/// Listens for as long as the task runs. A lost connection is reopened; what
/// was sent meanwhile is lost, so every memory is dropped then.
async fn listen(state: AppState) {
    let url = state.config.database_url();
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen_all([CHANGES, TOKENS]).await {
                    tracing::warn!(error = %e, "listening for other replicas' changes");
                } else {
                    // Anything before this moment may have been missed.
                    forget_everything(&state);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) => on_notification(&state, n.channel(), n.payload()),
                            // The connection was lost: reconnect, then forget.
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "receiving other replicas' changes");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "connecting to listen for other replicas' changes"),
        }
        forget_everything(&state);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn on_notification(state: &AppState, channel: &str, payload: &str) {
    match (channel, payload) {
        (CHANGES, table) => {
            if table == "api_keys" {
                state.pipeline.forget_keys();
            }
            // Open pages refetch themselves (the live streams).
            state.changes.announce();
        }
        (TOKENS, account_id) => state.pipeline.forget(account_id),
        _ => {}
    }
}

fn forget_everything(state: &AppState) {
    state.pipeline.forget_keys();
    state.pipeline.forget_all();
    state.changes.announce();
}
