#![cfg(feature = "ssr")]
//! The token broker over real HTTP: a token that expires within a minute is
//! refreshed first — once at X however many callers ask at once — and an
//! account that needs a person gets a 409 with the cause, never a dead token.

use crate::support as common;
use crate::support::pipeline;

use authwatch::emulator::NewUser;
use authwatch::server::demo;
use authwatch::server::lifecycle::connect::{Completed, Intent};
use common::TestApp;
use pipeline::{account, x_calls, Api};

/// Connects a new account whose access token lives `ttl_secs`.
async fn connect_with_ttl(app: &TestApp, username: &str, ttl_secs: u64) -> String {
    app.emulator().update_settings(|s| s.access_token_ttl_secs = ttl_secs);
    let user = app.emulator().create_user(NewUser { id: None, username: username.into(), name: username.into() });
    let outcome = demo::connect_as(&app.state, &user.id, &Intent::NewAccount, "test", None).await.unwrap();
    app.emulator().update_settings(|s| s.access_token_ttl_secs = 7200);
    match outcome {
        Completed::Saved { connected, .. } => connected.account_id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn two_hundred_concurrent_callers_on_a_due_account_cause_one_refresh_at_x() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let id = connect_with_ttl(&app, "due_soon", 30).await;
    let before = account(&app, "due_soon").await;
    app.emulator().reset_counts();

    let calls = (0..200).map(|_| {
        let api = api.with_key(&api.key);
        let path = format!("/accounts/{id}/token");
        tokio::spawn(async move { api.get(&path).await })
    });
    let replies: Vec<_> = futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap()).collect();

    assert_eq!(x_calls(&app).await.1, 1, "exactly one refresh reached X");
    let after = account(&app, "due_soon").await;
    assert_eq!(after.generation, before.generation + 1);
    let token = replies[0].body["access_token"].as_str().unwrap().to_owned();
    for r in &replies {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["access_token"], token.as_str(), "every caller gets the one fresh token");
        assert_eq!(r.body["generation"], after.generation);
        assert!(r.body["expires_in"].as_i64().unwrap() > 60, "never a token about to die");
    }
    // The token works at X.
    let me = reqwest::Client::new().get(app.url("/x-emulator/2/users/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_token_with_more_than_a_minute_left_is_handed_out_without_calling_x() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let id = connect_with_ttl(&app, "two_minutes", 120).await;
    let before = account(&app, "two_minutes").await;
    app.emulator().reset_counts();
    let r = api.get(&format!("/accounts/{id}/token")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store", "a token never sits in a cache");
    assert_eq!(r.body["generation"], before.generation);
    assert_eq!(r.body["scopes"], serde_json::json!(["offline.access", "tweet.read", "tweet.write", "users.read"]));
    let expires_in = r.body["expires_in"].as_i64().unwrap();
    assert!((60..=120).contains(&expires_in), "{expires_in}");
    let expires_at = time::OffsetDateTime::parse(
        r.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((expires_at.unix_timestamp() * 1000 - before.expires_at).abs() < 1000, "RFC 3339 of the stored expiry");
    assert_eq!(x_calls(&app).await, (0, 0));
}

#[tokio::test]
async fn accounts_that_need_a_person_get_409_with_cause_and_action_never_a_token() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    for (handle, cause, action, who) in [
        ("acme_labs", "user_revoked", "reconnect", "owner"),
        ("acme_events", "tokens_copied", "reconnect", "owner"),
        ("acme_jobs", "scope_missing", "reconnect", "owner"),
    ] {
        let a = account(&app, handle).await;
        let r = api.get(&format!("/accounts/{}/token", a.id)).await;
        r.assert_problem(409, "person-must-act");
        assert_eq!(
            (r.body["cause"].as_str(), r.body["action"].as_str(), r.body["who"].as_str()),
            (Some(cause), Some(action), Some(who)),
            "{handle}"
        );
        assert!(r.body.get("access_token").is_none());
    }
    // An expired token whose refresh token works is refreshed, not refused.
    let deals = account(&app, "acme_deals").await;
    app.emulator().reset_counts();
    let r = api.get(&format!("/accounts/{}/token", deals.id)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["generation"], deals.generation + 1);
    assert_eq!(x_calls(&app).await.1, 1);
}

#[tokio::test]
async fn the_account_list_says_which_accounts_can_publish() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let r = api.get("/accounts").await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 8);
    let find = |handle: &str| list.iter().find(|a| a["handle"] == handle).unwrap().clone();
    let news = find("acme_news");
    assert_eq!((news["health"].as_str(), news["publishable"].as_bool()), (Some("healthy"), Some(true)));
    let labs = find("acme_labs");
    assert_eq!(
        (labs["health"].as_str(), labs["publishable"].as_bool(), labs["cause"].as_str(), labs["action"].as_str()),
        (Some("reconnect"), Some(false), Some("user_revoked"), Some("reconnect"))
    );
    let jobs = find("acme_jobs");
    assert_eq!(jobs["missing_scopes"], serde_json::json!(["tweet.write"]));
    assert!(list.iter().all(|a| a.get("access_token").is_none()), "no tokens in the list");
}
