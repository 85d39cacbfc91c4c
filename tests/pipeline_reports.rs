#![cfg(feature = "ssr")]
//! 401/403 reports from the pipeline: classified, on the account's timeline,
//! answered `retry_once` with a fresh token the first time and `stop` after.

mod common;
#[path = "common/pipeline.rs"]
mod pipeline;

use common::TestApp;
use pipeline::{account, timeline, x_calls, Api};
use serde_json::json;

const UNAUTHORIZED: &str = r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#;

#[tokio::test]
async fn a_401_is_retried_once_with_a_fresh_token_and_the_next_report_is_told_to_stop() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().reset_counts();
    let path = format!("/accounts/{}/auth-failures", news.id);

    let first = api.post(&path, &json!({ "status": 401, "body": serde_json::from_str::<serde_json::Value>(UNAUTHORIZED).unwrap(), "generation": news.generation })).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["verdict"], "retry_once");
    assert_eq!(first.body["cause"], "user_revoked");
    assert_eq!(first.body["token"]["generation"], news.generation + 1, "a fresh token to retry with");
    assert_eq!(x_calls(&app).await.1, 1, "one refresh at X");
    assert_eq!(account(&app, "acme_news").await.incident_cause, None, "a first 401 is not yet an incident");

    // The same generation again (another worker, or a loop): stop.
    let again = api.post(&path, &json!({ "status": 401, "body": UNAUTHORIZED, "generation": news.generation })).await;
    assert_eq!((again.body["verdict"].as_str(), again.body["cause"].as_str()), (Some("stop"), Some("user_revoked")));
    assert!(again.body["token"].is_null());

    // The fresh token failed too: stop, and the account has an incident for its owner.
    let retried = api.post(&path, &json!({ "status": 401, "body": UNAUTHORIZED })).await;
    assert_eq!(retried.body["verdict"], "stop", "{:?}", retried.body);
    assert_eq!((retried.body["who"].as_str(), retried.body["action"].as_str()), (Some("owner"), Some("reconnect")));
    assert_eq!(x_calls(&app).await.1, 1, "no further refresh");
    let after = account(&app, "acme_news").await;
    assert_eq!(after.incident_cause.as_deref(), Some("user_revoked"));
    assert_eq!(after.incident_status, Some(401));

    let reports: Vec<_> = timeline(&app, &news.id).await.into_iter().filter(|e| e.0 == "report").collect();
    assert_eq!(reports.len(), 3, "every report is on the timeline");
    assert!(reports.iter().all(|e| e.1 == "failed" && e.2.as_deref() == Some("user_revoked")));
    let events = authwatch::server::db::events::recent(&app.state.pool, &news.id, 1).await.unwrap();
    assert_eq!(events[0].x_error.as_deref(), Some(UNAUTHORIZED), "X's body as the pipeline got it");
    assert!(events[0].actor.starts_with("api key key_"), "logged by key id: {}", events[0].actor);
}

#[tokio::test]
async fn a_403_is_never_retried_a_fresh_token_has_the_same_scopes() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().reset_counts();
    let forbidden = json!({"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"});
    let r = api.post(&format!("/accounts/{}/auth-failures", news.id), &json!({ "status": 403, "body": forbidden })).await;
    assert_eq!((r.body["verdict"].as_str(), r.body["cause"].as_str()), (Some("stop"), Some("scope_missing")), "{:?}", r.body);
    assert_eq!(x_calls(&app).await.1, 0, "no refresh");
    assert_eq!(account(&app, "acme_news").await.incident_cause.as_deref(), Some("scope_missing"));

    // An app outside a Project: the app's configuration, for an admin.
    let support = account(&app, "acme_support").await;
    let not_enrolled = json!({"client_id":"x","title":"Client Forbidden","reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden","detail":"…"});
    let r = api.post(&format!("/accounts/{}/auth-failures", support.id), &json!({ "status": 403, "body": not_enrolled })).await;
    assert_eq!((r.body["cause"].as_str(), r.body["who"].as_str(), r.body["action"].as_str()), (Some("app_credentials_rejected"), Some("admin"), Some("fix_app")));
}

#[tokio::test]
async fn reports_of_a_dead_grant_stop_with_the_reconnect_cause() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().revoke_grant(authwatch::server::demo::CLIENT_ID, &news.x_user_id);
    let r = api.post(&format!("/accounts/{}/auth-failures", news.id), &json!({ "status": 401, "body": UNAUTHORIZED })).await;
    // X refused the refresh token, and the access token of the same generation too.
    assert_eq!((r.body["verdict"].as_str(), r.body["cause"].as_str()), (Some("stop"), Some("user_revoked")), "{:?}", r.body);
    assert_eq!(r.body["action"], "reconnect");
}

#[tokio::test]
async fn reports_that_are_not_auth_failures_are_refused_clearly() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    let path = format!("/accounts/{}/auth-failures", news.id);
    api.post(&path, &json!({ "status": 500, "body": "oops" })).await.assert_problem(422, "invalid-request");
    api.post(&path, &json!({ "status": 401, "body": "x", "generation": news.generation + 5 })).await.assert_problem(409, "unknown-generation");
    api.post(&path, &json!({ "body": "no status" })).await.assert_problem(400, "malformed-request");
    assert!(timeline(&app, &news.id).await.iter().all(|e| e.0 != "report"), "nothing recorded");
}
