#![cfg(feature = "ssr")]
//! Two replicas on one PostgreSQL database, in one process: a session made
//! on one works on the other, an API key revoked on one is refused on the
//! other within a second (PostgreSQL's notification, not the cache's
//! lifetime: the cache here lives a minute), and a token refreshed by one is
//! the token the other hands out at once. PostgreSQL only: a SQLite file has
//! one process.

use crate::support as common;
use crate::support::pipeline;

use authwatch::server::config::{Config, Overrides};
use authwatch::server::db;
use authwatch::server::pipeline::auth;
use authwatch::server::web::{Server, StartError};
use common::{TestApp, Vars};
use leptos::config::LeptosOptions;
use pipeline::{account, Api};
use std::time::{Duration, Instant};

/// Replica one (the demo, seeded) and a second on its database, both keeping
/// API keys and tokens in memory for a minute.
async fn two_replicas() -> Option<(TestApp, TestApp)> {
    if common::postgres::server().is_none() {
        eprintln!("skipped: replicas share a PostgreSQL database ({} is unset)", common::postgres::VAR);
        return None;
    }
    let one = TestApp::builder().demo().var("AUTHWATCH_API_CACHE_MS", "60000").start().await;
    let url = one.postgres.clone().expect("on PostgreSQL");
    let two = TestApp::builder().database(&url).var("AUTHWATCH_API_CACHE_MS", "60000").start().await;
    Some((one, two))
}

#[tokio::test]
async fn a_session_made_on_one_replica_works_on_the_other() {
    let Some((one, two)) = two_replicas().await else { return };
    // One cookie jar for both: cookies are per host, not per port, as a
    // browser behind a load balancer would hold one cookie for both.
    let admin = one.admin().await;
    let page = admin.get(two.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200, "signed in on one, a page on the other");
    let html = page.text().await.unwrap();
    assert!(html.contains("acme_news"), "the dashboard, not the sign-in page");
    // Signing out on the other ends it on the first. (Each replica here has
    // its own public URL, which a post's Origin must be.)
    let out = admin.post(two.url("/auth/sign-out")).header("origin", two.url("")).send().await.unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    let again = admin.get(one.url("/")).send().await.unwrap();
    assert_eq!(again.status(), 303, "signed out everywhere");
}

#[tokio::test]
async fn a_key_revoked_on_one_replica_is_refused_on_the_other_within_a_second() {
    let Some((one, two)) = two_replicas().await else { return };
    let news = account(&one, "acme_news").await;
    let api = Api::new(&one).await;
    let on_two = Api { base: two.url("/api/v1"), ..api.with_key(&api.key) };
    // The second replica knows the key now, for a minute.
    assert_eq!(on_two.get(&format!("/accounts/{}/token", news.id)).await.status, 200);

    auth::revoke_key(&one.state.pool, &api.key_id, "test").await.unwrap().expect("a live key");
    let revoked = Instant::now();
    loop {
        let status = on_two.get(&format!("/accounts/{}/token", news.id)).await.status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(revoked.elapsed() < Duration::from_secs(1), "the revoked key still works on the other replica");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("refused on the other replica {:?} after the revocation", revoked.elapsed());
}

#[tokio::test]
async fn a_token_refreshed_by_one_replica_is_the_one_the_other_hands_out() {
    let Some((one, two)) = two_replicas().await else { return };
    let news = account(&one, "acme_news").await;
    let api = Api::new(&one).await;
    let on_two = Api { base: two.url("/api/v1"), ..api.with_key(&api.key) };
    let path = format!("/accounts/{}/token", news.id);
    let before = on_two.get(&path).await.body["access_token"].as_str().unwrap().to_owned();

    let refreshed = one.state.engine.refresh(&one.state, &news.id, "test", None).await.unwrap();
    assert!(matches!(refreshed, authwatch::server::lifecycle::refresh::Refreshed::Saved { .. }), "{refreshed:?}");
    let saved = Instant::now();
    loop {
        let now = on_two.get(&path).await.body["access_token"].as_str().unwrap().to_owned();
        if now != before {
            break;
        }
        assert!(saved.elapsed() < Duration::from_secs(1), "the other replica still hands out the replaced token");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let Some(server) = common::postgres::server() else { return };
    let url = common::postgres::fresh_database(&server).await;
    let opened = futures::future::join_all((0..4).map(|_| db::open(&url))).await;
    for pool in &opened {
        assert!(pool.is_ok(), "every replica starts: {:?}", pool.as_ref().err());
    }
    let pool = opened.into_iter().next().unwrap().unwrap();
    let applied: Vec<(i64, i64)> =
        sqlx::query_as("SELECT version, COUNT(*) FROM _sqlx_migrations GROUP BY version ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let known: Vec<i64> = db::migrator(db::Backend::Postgres).iter().map(|m| m.version).collect();
    assert_eq!(applied.iter().map(|(v, _)| *v).collect::<Vec<_>>(), known, "every migration applied");
    assert!(applied.iter().all(|(_, n)| *n == 1), "each applied once: {applied:?}");
}

#[tokio::test]
async fn a_replica_whose_key_cannot_open_the_stored_tokens_refuses_to_start_and_names_it() {
    let Some((one, _two)) = two_replicas().await else { return };
    let url = one.postgres.clone().unwrap();
    let data = tempfile::tempdir().unwrap();
    let other_key = "b3RoZXIta2V5LW9mLTMyLWJ5dGVzLWV4YWN0bHkhISE="; // 32 bytes, not the test key
    let vars: Vec<(String, String)> = [
        ("AUTHWATCH_X_CLIENT_ID", "live-app"),
        ("AUTHWATCH_X_CLIENT_SECRET", "live-secret"),
        ("AUTHWATCH_DATABASE_URL", url.as_str()),
        ("AUTHWATCH_ENCRYPTION_KEY", other_key),
        ("AUTHWATCH_DATA_DIR", data.path().to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let addr: std::net::SocketAddr = "127.0.0.1:3998".parse().unwrap();
    let config = Config::load(&Vars(vars), addr, Overrides::default()).unwrap();
    let before = db::accounts::key_counts(&one.state.pool).await.unwrap();
    let options = LeptosOptions::builder().output_name("authwatch").site_addr(addr).build();
    let Err(StartError::Keyring(problem)) = Server::new(config, options).await.map(|_| ()) else {
        panic!("a replica with another key started on a database sealed with the first's");
    };
    let message = format!("refusing to start: {problem}");
    assert!(message.contains("AUTHWATCH_ENCRYPTION_KEY"), "{message}");
    assert!(message.contains(one.state.keyring.current_key_id()), "names the key the tokens need: {message}");
    assert_eq!(db::accounts::key_counts(&one.state.pool).await.unwrap(), before, "nothing was sealed with it");
}
