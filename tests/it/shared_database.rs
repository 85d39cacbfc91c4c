#![cfg(feature = "ssr")]
//! Two replicas on one PostgreSQL database, in one process: a session made
//! on one works on the other, an API key revoked on one is refused on the
//! other within a second (PostgreSQL's notification, not the cache's
//! lifetime: the cache here lives a minute), and a token refreshed by one is
//! the token the other hands out at once. PostgreSQL only: a SQLite file has
//! one process.

use crate::support as common;
use crate::support::pipeline;

use authwatch::server::pipeline::auth;
use common::TestApp;
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
