#![cfg(feature = "ssr")]
//! Sessions: expired ones are deleted while the server runs.

mod common;

use authwatch::server::db::{self, sessions};
use common::TestApp;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;
use tower_sessions_sqlx_store::SqliteStore;

/// Stores a session expiring at `expiry` the way the session layer does; returns its id.
async fn session_record(store: &SqliteStore, expiry: time::OffsetDateTime) -> String {
    let mut record = Record { id: Id::default(), data: Default::default(), expiry_date: expiry };
    store.create(&mut record).await.unwrap();
    record.id.to_string()
}

#[tokio::test]
async fn expired_sessions_are_deleted_by_the_running_server() {
    // A database with sessions in it before the server starts, written by
    // the store itself.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
    let (expired, live) = {
        let pool = db::connect(&url).await.unwrap();
        let store = SqliteStore::new(pool.clone());
        store.migrate().await.unwrap();
        let now = time::OffsetDateTime::now_utc();
        let expired = session_record(&store, now - time::Duration::minutes(1)).await;
        let live = session_record(&store, now + time::Duration::hours(1)).await;
        pool.close().await;
        (expired, live)
    };
    let app = TestApp::start(vec![("AUTHWATCH_DATABASE_URL", &url)]).await;
    let ids = || async {
        sqlx::query_scalar::<_, String>(&format!("SELECT id FROM {} ORDER BY id", sessions::TABLE)).fetch_all(&app.state.pool).await.unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids().await.contains(&expired) {
        assert!(std::time::Instant::now() < deadline, "the expired session is still there: {:?}", ids().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ids().await, vec![live], "only the expired one goes");
    assert!(sessions::DELETE_EXPIRED_EVERY >= std::time::Duration::from_secs(60), "not a busy loop");

    // And again on the timer, not only at start.
    let later = session_record(&app.state.sessions, time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300)).await;
    let task = tokio::spawn(sessions::delete_expired_every(app.state.sessions.clone(), std::time::Duration::from_millis(100)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids().await.contains(&later) {
        assert!(std::time::Instant::now() < deadline, "not deleted on the next round");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    task.abort();
}
