#![cfg(feature = "ssr")]
//! Verdicts a person can trust, over real HTTP against the in-process
//! emulator: X refusing valid tokens is confirmed with a refresh before
//! anything is decided, a refused post is not an account problem, and the
//! one refresh error X has is told apart by what else authwatch knows.

use crate::support as common;
use crate::support::pipeline;

use authwatch::api::{CheckNow, RefreshNow};
use authwatch::domain::health::{diagnose, Action, Cause, Diagnosis, Health, Who};
use authwatch::server::db::{accounts, apps, events, posts};
use authwatch::server::demo::{self, CLIENT_ID};
use authwatch::server::lifecycle::connect::{Completed, Intent};
use authwatch::server::x::now_ms;
use common::TestApp;
use leptos::server_fn::ServerFn;
use pipeline::{account, open_prompts, x_calls, Api};
use reqwest::Client;
use serde_json::{json, Value};

const DAY_SECS: i64 = 86_400;

/// The emulator's control API over HTTP, as the demo's admin.
async fn control(app: &TestApp, admin: &Client, path: &str, body: Value) -> Value {
    let r = admin.post(app.url(&format!("/x-emulator/_control{path}"))).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "control {path}: HTTP {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// A server function called as the page calls it; its answer's text.
async fn server_fn(app: &TestApp, browser: &Client, path: &str, id: &str) -> String {
    let r = browser.post(app.url(path)).form(&[("id", id)]).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

async fn diagnosis(app: &TestApp, id: &str) -> Diagnosis {
    let s = accounts::summary(&app.state.pool, id).await.unwrap().unwrap();
    let facts = apps::facts(&app.state.pool, CLIENT_ID).await.unwrap();
    diagnose(&s.facts(), &facts, &app.state.x.app().required_scopes, now_ms(), &app.state.policy)
}

fn refreshes(app: &TestApp) -> u64 {
    app.emulator().counts().client(CLIENT_ID).refresh_grants
}

async fn connect_new(app: &TestApp, username: &str) -> String {
    let user = app.emulator().create_user(authwatch::emulator::NewUser {
        id: None,
        username: username.into(),
        name: username.into(),
    });
    match demo::connect_as(&app.state, &user.id, &Intent::NewAccount, "test", None).await.unwrap() {
        Completed::Saved { connected, .. } => connected.account_id,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_access_token_refused_early_is_fixed_by_one_refresh_and_nobody_is_prompted() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account(&app, "acme_news").await;
    let tokens = accounts::tokens(&app.state.pool, &app.state.keyring, &news.id).await.unwrap().unwrap();
    let killed = control(&app, &admin, "/tokens/invalidate", json!({"access_token": tokens.access.expose()})).await;
    assert_eq!(killed["invalidated"], 1);
    app.emulator().reset_counts();

    let said = server_fn(&app, &admin, CheckNow::PATH, &news.id).await;
    assert!(said.contains("X confirmed the token works"), "{said}");
    assert_eq!(refreshes(&app), 1, "one refresh");
    assert_eq!(app.emulator().counts().client(CLIENT_ID).users_me, 2, "the refused token, then the fresh one");
    let after = account(&app, "acme_news").await;
    assert_eq!((after.generation, after.incident_cause.map(Cause::as_str)), (news.generation + 1, None));
    assert_eq!(diagnosis(&app, &news.id).await.health, Health::Healthy);
    let timeline = events::recent(&app.state.pool, &news.id, 10).await.unwrap();
    let fixed = timeline
        .iter()
        .find(|e| e.kind.as_str() == "check" && e.outcome.as_str() == "ok")
        .expect("a check that worked");
    assert!(
        fixed.detail.as_deref().unwrap().starts_with("X refused the access token early; a refresh fixed it."),
        "{:?}",
        fixed.detail
    );
    assert!(open_prompts(&app, &news.id).await.is_empty(), "no prompt");

    // The pipeline's path follows the same rule: a post with a token X
    // refused early is published after one refresh, and the timeline says why.
    let tokens = accounts::tokens(&app.state.pool, &app.state.keyring, &news.id).await.unwrap().unwrap();
    control(&app, &admin, "/tokens/invalidate", json!({"access_token": tokens.access.expose()})).await;
    let r = Api::new(&app).await.publish(&news.id, "early-1", "After an early death").await;
    assert_eq!((r.status, r.body["x_calls"].clone()), (201, json!(2)), "{:?}", r.body);
    let published = events::recent(&app.state.pool, &news.id, 1).await.unwrap().remove(0);
    assert!(published.detail.unwrap().starts_with("X refused the access token early; a refresh fixed it."));
}

#[tokio::test]
async fn in_xs_auth_outage_no_account_is_sent_to_reconnect_and_nobody_is_prompted() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(connect_new(&app, &format!("outage_{i}")).await);
    }
    // X refuses every access token, fresh ones too; its token endpoint works.
    control(&app, &admin, "/faults", json!({"endpoint": "v2", "kind": "auth_outage"})).await;
    app.emulator().reset_counts();
    for id in &ids {
        let said = server_fn(&app, &admin, CheckNow::PATH, id).await;
        assert!(said.contains("X is refusing valid access tokens"), "{said}");
    }
    assert_eq!(refreshes(&app), 5, "one refresh each, to confirm");
    let list = Api::new(&app).await.get("/accounts").await.body;
    for id in &ids {
        let d = diagnosis(&app, id).await;
        assert_eq!(
            (d.health, d.cause, d.who),
            (Health::XUnavailable, Some(Cause::XRefusesValidTokens), Who::Nobody),
            "{id}"
        );
        assert!(open_prompts(&app, id).await.is_empty(), "{id}: no prompt");
        let view = list.as_array().unwrap().iter().find(|a| a["id"] == id.as_str()).unwrap();
        assert_eq!(
            (view["cause"].as_str(), view["who"].as_str(), view["action"].as_str()),
            (Some("x_refuses_valid_tokens"), Some("nobody"), None)
        );
        assert_eq!(view["publishable"], true);
    }
    let d = diagnosis(&app, &ids[0]).await;
    assert!(d.next_step.contains("nobody needs to reconnect"), "{}", d.next_step);

    // X recovers: the next check clears it, without a reconnect.
    app.emulator().clear_faults();
    assert!(server_fn(&app, &admin, CheckNow::PATH, &ids[0]).await.contains("X confirmed"));
    assert_eq!(diagnosis(&app, &ids[0]).await.health, Health::Healthy);
}

#[tokio::test]
async fn a_post_during_xs_auth_outage_fails_with_xs_cause_never_a_reconnect() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().inject_fault(authwatch::emulator::Fault::new(
        authwatch::emulator::Endpoint::V2,
        authwatch::emulator::FaultKind::AuthOutage,
    ));
    app.emulator().reset_counts();

    let r = api.publish(&news.id, "outage-1", "Posted in an outage").await;
    r.assert_problem(503, "x-unavailable");
    assert_eq!((r.body["cause"].as_str(), r.body["who"].as_str()), (Some("x_refuses_valid_tokens"), Some("nobody")));
    assert!(r.body.get("action").is_none());
    assert_eq!(x_calls(&app).await, (2, 1), "the post, one refresh, one retry with the fresh token");
    assert!(posts::held(&app.state.pool, &news.id).await.unwrap().is_empty(), "nothing waits for a person");
    let after = account(&app, "acme_news").await;
    assert_eq!(after.incident_cause.map(Cause::as_str), Some("x_refuses_valid_tokens"));
    assert!(!diagnosis(&app, &news.id).await.health.needs_person());
    assert!(open_prompts(&app, &news.id).await.is_empty());
    // The broker still hands out the token: the account is fine.
    assert_eq!(api.get(&format!("/accounts/{}/token", news.id)).await.status, 200);

    // Over: the same request goes out.
    app.emulator().clear_faults();
    let again = api.publish(&news.id, "outage-1", "Posted in an outage").await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(account(&app, "acme_news").await.incident_cause, None);
}

#[tokio::test]
async fn a_duplicate_post_is_the_posts_problem_and_the_account_stays_healthy() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    assert_eq!(api.publish(&news.id, "dup-1", "Same words twice").await.status, 201);
    app.emulator().reset_counts();

    let r = api.publish(&news.id, "dup-2", "Same words twice").await;
    r.assert_problem(422, "content-refused");
    assert_eq!(
        r.body["x_error"],
        r#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"You are not allowed to create a Tweet with duplicate content."}"#
    );
    assert_eq!(r.body["cause"], "content_refused");
    assert!(r.body.get("action").is_none());
    assert_eq!(x_calls(&app).await, (1, 0), "one call, no refresh, no retry");
    assert_eq!(account(&app, "acme_news").await.incident_cause, None);
    assert_eq!(diagnosis(&app, &news.id).await.health, Health::Healthy);
    assert!(posts::held(&app.state.pool, &news.id).await.unwrap().is_empty());
    assert!(open_prompts(&app, &news.id).await.is_empty());
    // Replayed, the same answer, without calling X again.
    let replay = api.publish(&news.id, "dup-2", "Same words twice").await;
    replay.assert_problem(422, "content-refused");
    assert_eq!(x_calls(&app).await.0, 1);
    // The OpenAPI document tells a program what it means.
    let doc = api.get("/openapi.json").await.body.to_string();
    assert!(doc.contains("content-refused"), "documented");
}

#[tokio::test]
async fn a_403_on_a_grant_with_tweet_write_is_not_a_missing_scope() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    assert!(news.scopes.contains("tweet.write"));
    // X's generic 403, the one it gives for a missing scope.
    app.emulator().inject_fault(
        authwatch::emulator::Fault::new(
            authwatch::emulator::Endpoint::Tweets,
            authwatch::emulator::FaultKind::Status(403),
        )
        .times(1),
    );
    let r = api.publish(&news.id, "f-1", "Refused for some reason").await;
    assert_ne!(r.body["cause"], "scope_missing", "{:?}", r.body);
    r.assert_problem(422, "content-refused");
    let after = account(&app, "acme_news").await;
    assert_eq!(after.incident_cause, None, "no verdict on the account");
    assert!(posts::held(&app.state.pool, &news.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_grant_without_tweet_write_is_a_missing_scope() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    control(&app, &admin, &format!("/apps/{CLIENT_ID}/withhold-scopes"), json!({"scopes": ["tweet.write"]})).await;
    let id = connect_new(&app, "no_write").await;
    let api = Api::new(&app).await;
    let r = api.publish(&id, "s-1", "Cannot be posted").await;
    assert_eq!(
        (r.status, r.body["cause"].as_str(), r.body["action"].as_str()),
        (202, Some("scope_missing"), Some("reconnect")),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["x_calls"], 0, "the grant's scopes are evidence enough");
    let d = diagnosis(&app, &id).await;
    assert_eq!(
        (d.health, d.cause, d.missing_scopes),
        (Health::ActionNeeded(Action::Reconnect), Some(Cause::ScopeMissing), vec!["tweet.write".to_owned()])
    );
}

#[tokio::test]
async fn a_refresh_token_spent_by_a_copy_of_the_tokens_says_so() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account(&app, "acme_news").await;
    let stored = accounts::tokens(&app.state.pool, &app.state.keyring, &news.id).await.unwrap().unwrap();
    // A second system with the same app and a copy of the tokens (a restored
    // backup) refreshes through X's token endpoint, as any client would.
    let secret = app.state.x.app().client_secret.as_ref().unwrap().expose().to_owned();
    let copy = Client::new()
        .post(app.url("/x-emulator/2/oauth2/token"))
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", stored.refresh.as_ref().unwrap().expose())])
        .send()
        .await
        .unwrap();
    assert_eq!(copy.status(), 200);

    let said = server_fn(&app, &admin, RefreshNow::PATH, &news.id).await;
    assert!(said.contains("Another system refreshed this account: a copy of these tokens exists"), "{said}");
    let d = diagnosis(&app, &news.id).await;
    assert_eq!(
        (d.health, d.cause, d.who),
        (Health::ActionNeeded(Action::Reconnect), Some(Cause::TokensCopied), Who::Owner)
    );
    assert!(d.next_step.contains("find it and stop it"), "{}", d.next_step);
    // Nothing was overwritten by the failed refresh.
    let after = accounts::tokens(&app.state.pool, &app.state.keyring, &news.id).await.unwrap().unwrap();
    assert_eq!((after.generation, after.refresh), (stored.generation, stored.refresh));

    // The account page says why, in one sentence naming the evidence.
    let html = admin.get(app.url(&format!("/accounts/{}", news.id))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Why this verdict?"), "asked on the page");
    assert!(
        html.contains("while the access token of the same generation still worked at")
            && html.contains("another copy of these tokens refreshed it."),
        "the evidence is named"
    );
    let view = Api::new(&app).await.get("/accounts").await.body;
    let news_view = view.as_array().unwrap().iter().find(|a| a["handle"] == "acme_news").unwrap().clone();
    assert_eq!(
        (news_view["cause"].as_str(), news_view["who"].as_str(), news_view["action"].as_str()),
        (Some("tokens_copied"), Some("owner"), Some("reconnect"))
    );
}

#[tokio::test]
async fn a_refresh_token_about_six_months_old_expired() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account(&app, "acme_news").await;
    // The consent was 181 days ago, by authwatch's record and X's clock.
    let ago = 181 * DAY_SECS * 1000;
    sqlx::query("UPDATE events SET at = at - $1 WHERE account_id = $2 AND kind = 'connect'")
        .bind(ago)
        .bind(&news.id)
        .execute(&app.state.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE accounts SET connected_at = connected_at - $1 WHERE id = $2")
        .bind(ago)
        .bind(&news.id)
        .execute(&app.state.pool)
        .await
        .unwrap();
    control(&app, &admin, "/time/advance", json!({"seconds": 181 * DAY_SECS})).await;

    let said = server_fn(&app, &admin, RefreshNow::PATH, &news.id).await;
    assert!(said.contains("The refresh token expired: X's refresh tokens last about 6 months"), "{said}");
    let d = diagnosis(&app, &news.id).await;
    assert_eq!(
        (d.health, d.cause, d.who),
        (Health::ActionNeeded(Action::Reconnect), Some(Cause::RefreshTokenExpired), Who::Owner)
    );
    let failed = events::recent(&app.state.pool, &news.id, 1).await.unwrap().remove(0);
    assert!(failed.detail.unwrap().contains("181 days after the consent"), "the evidence");
    assert_eq!(
        failed.x_error.as_deref(),
        Some(r#"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#)
    );
}

#[tokio::test]
async fn a_genuinely_revoked_grant_is_still_a_reconnect_found_in_one_sweep() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let sports = account(&app, "acme_sports").await; // due: 10 minutes left
    control(&app, &admin, "/grants/revoke", json!({"client_id": CLIENT_ID, "user_id": sports.x_user_id})).await;
    app.state.engine.sweep(&app.state).await;
    let d = diagnosis(&app, &sports.id).await;
    assert_eq!((d.health, d.who), (Health::ActionNeeded(Action::Reconnect), Who::Owner));
    assert_eq!(d.cause, Some(Cause::UserRevoked), "both tokens refused: revoked at X");
    assert_eq!(open_prompts(&app, &sports.id).await, vec!["user_revoked"], "the owner is prompted");
    let failed = events::recent(&app.state.pool, &sports.id, 1).await.unwrap().remove(0);
    assert!(failed.detail.unwrap().contains("and the access token of the same generation at"), "the evidence");
}

#[tokio::test]
async fn a_burst_of_checks_after_an_early_death_costs_one_refresh() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let support = account(&app, "acme_support").await;
    control(&app, &admin, "/tokens/invalidate", json!({"client_id": CLIENT_ID, "user_id": support.x_user_id})).await;
    app.emulator().reset_counts();
    let checks = (0..20).map(|_| {
        let (admin, url, id) = (admin.clone(), app.url(CheckNow::PATH), support.id.clone());
        tokio::spawn(async move { admin.post(url).form(&[("id", id)]).send().await.unwrap().text().await.unwrap() })
    });
    for said in futures::future::join_all(checks).await {
        let said = said.unwrap();
        assert!(said.contains("X confirmed the token works"), "{said}");
    }
    assert_eq!(refreshes(&app), 1, "the checks shared one refresh: the chain is intact");
    let after = account(&app, "acme_support").await;
    assert_eq!((after.generation, after.incident_cause), (support.generation + 1, None));
    assert!(open_prompts(&app, &support.id).await.is_empty());
}

#[tokio::test]
async fn a_refresh_token_rotated_by_our_own_unanswered_refresh_is_a_lost_rotation_not_a_copy() {
    use authwatch::domain::health::AttemptResult;
    use authwatch::server::db::events::{EventKind, NewEvent, Outcome as EventOutcome};
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account(&app, "acme_news").await;
    let stored = accounts::tokens(&app.state.pool, &app.state.keyring, &news.id).await.unwrap().unwrap();
    // authwatch wrote its intent, X rotated, and the process died before the
    // answer was saved (the X side of it done here over X's token endpoint).
    let intent = NewEvent {
        kind: EventKind::Refresh,
        outcome: EventOutcome::Started,
        generation_before: Some(stored.generation),
        actor: "scheduler".into(),
        ..NewEvent::default()
    };
    events::append(&app.state.pool, &news.id, now_ms(), &intent, AttemptResult::Inconclusive).await.unwrap();
    let secret = app.state.x.app().client_secret.as_ref().unwrap().expose().to_owned();
    let rotated = Client::new()
        .post(app.url("/x-emulator/2/oauth2/token"))
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", stored.refresh.as_ref().unwrap().expose())])
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);

    // The old access token still works, as after a copy's refresh; the log tells them apart.
    let said = server_fn(&app, &admin, RefreshNow::PATH, &news.id).await;
    assert!(said.contains("X rotated the refresh token but its answer never arrived"), "{said}");
    let d = diagnosis(&app, &news.id).await;
    assert_eq!((d.health, d.cause), (Health::ActionNeeded(Action::Reconnect), Some(Cause::RotationLost)));
    let failed = events::recent(&app.state.pool, &news.id, 1).await.unwrap().remove(0);
    assert!(failed.detail.unwrap().contains("never got its answer"), "the evidence");
}
