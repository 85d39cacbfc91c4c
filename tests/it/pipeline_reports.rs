#![cfg(feature = "ssr")]
//! 401/403 reports from the pipeline: on the account's timeline as the
//! pipeline's words, answered `retry_once` with a fresh token the first time
//! and `stop` after — and never, by themselves, a verdict on the account:
//! only what X itself answers authwatch can make an account wait for a person.

use crate::support as common;
use crate::support::pipeline;

use authwatch::domain::health::Cause;
use authwatch::emulator::{Endpoint, Fault, FaultKind};
use authwatch::server::db::{events, posts};
use authwatch::server::demo::CLIENT_ID;
use common::TestApp;
use pipeline::{account, account_page, open_prompts, timeline, users_me_calls, x_calls, Api};
use serde_json::{json, Value};

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
    assert_eq!(
        (first.body["who"].as_str(), first.body["action"].as_str()),
        (Some("system"), None),
        "a retry is authwatch's to give"
    );
    assert_eq!(first.body["token"]["generation"], news.generation + 1, "a fresh token to retry with");
    assert_eq!(x_calls(&app).await.1, 1, "one refresh at X");
    assert_eq!(account(&app, "acme_news").await.incident_cause, None, "a first 401 is not yet an incident");

    // The same generation again (another worker, or a loop): stop.
    let again = api.post(&path, &json!({ "status": 401, "body": UNAUTHORIZED, "generation": news.generation })).await;
    assert_eq!((again.body["verdict"].as_str(), again.body["cause"].as_str()), (Some("stop"), Some("user_revoked")));
    assert!(again.body["token"].is_null());

    // "The fresh token failed too": stop — but X, asked, accepts that token,
    // so the account is not condemned on the pipeline's word.
    let retried = api.post(&path, &json!({ "status": 401, "body": UNAUTHORIZED })).await;
    assert_eq!(retried.body["verdict"], "stop", "{:?}", retried.body);
    assert_eq!(
        (retried.body["who"].as_str(), retried.body["action"].as_str()),
        (Some("nobody"), None),
        "{:?}",
        retried.body
    );
    assert_eq!(x_calls(&app).await.1, 1, "no further refresh");
    assert_eq!(users_me_calls(&app).await, 1, "X was asked once");
    let after = account(&app, "acme_news").await;
    assert_eq!(after.incident_cause, None, "X accepts the token: no incident");
    assert_eq!(api.get(&format!("/accounts/{}/token", news.id)).await.status, 200, "still handed out");

    let reports: Vec<_> = timeline(&app, &news.id).await.into_iter().filter(|e| e.0 == "report").collect();
    assert_eq!(reports.len(), 3, "every report is on the timeline");
    assert!(
        reports.iter().all(|e| e.1 == "failed" && e.2.is_none()),
        "a report is no classification of the account: {reports:?}"
    );
    let report = last_report(&app, &news.id).await;
    assert_eq!(report.x_error, None, "the pipeline's body is not X's answer");
    let detail = report.detail.unwrap();
    assert!(detail.contains(&format!("reported by the pipeline (test pipeline): HTTP 401 {UNAUTHORIZED}")), "{detail}");
    assert!(report.actor.starts_with("api key key_"), "logged by key id: {}", report.actor);
}

#[tokio::test]
async fn a_403_is_never_retried_a_fresh_token_has_the_same_scopes() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().reset_counts();
    let forbidden = json!({"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"});
    let r =
        api.post(&format!("/accounts/{}/auth-failures", news.id), &json!({ "status": 403, "body": forbidden })).await;
    // The grant has every scope posting needs: X's generic 403 is no evidence
    // of a missing scope, and X accepts the token: the 403 was about that
    // request (its content), not the account.
    assert_eq!(
        (r.body["verdict"].as_str(), r.body["cause"].as_str()),
        (Some("stop"), Some("content_refused")),
        "{:?}",
        r.body
    );
    assert_eq!(x_calls(&app).await.1, 0, "no refresh");
    assert_eq!(r.body["who"], "nobody", "{:?}", r.body);
    assert_eq!(account(&app, "acme_news").await.incident_cause, None);
    // X's duplicate-content 403, reported: the post's problem, in X's words' sense.
    let duplicate = json!({"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403});
    let r =
        api.post(&format!("/accounts/{}/auth-failures", news.id), &json!({ "status": 403, "body": duplicate })).await;
    assert_eq!(
        (r.body["verdict"].as_str(), r.body["cause"].as_str(), r.body["who"].as_str()),
        (Some("stop"), Some("content_refused"), Some("nobody")),
        "{:?}",
        r.body
    );
    assert_eq!(account(&app, "acme_news").await.incident_cause, None);

    // "The app is not in a Project", while X accepts the app's token: no
    // app incident either.
    let support = account(&app, "acme_support").await;
    let not_enrolled = json!({"client_id":"x","title":"Client Forbidden","reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden","detail":"…"});
    let r = api
        .post(&format!("/accounts/{}/auth-failures", support.id), &json!({ "status": 403, "body": not_enrolled }))
        .await;
    assert_eq!(
        (r.body["cause"].as_str(), r.body["who"].as_str(), r.body["action"].as_str()),
        (Some("app_credentials_rejected"), Some("nobody"), None)
    );
    assert_eq!(account(&app, "acme_support").await.incident_cause, None);
}

#[tokio::test]
async fn when_x_itself_refuses_the_token_the_report_ends_in_xs_verdict() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    // X answers users/me with its 403 (the grant lacks users.read, say).
    let support = account(&app, "acme_support").await;
    app.emulator().inject_fault(Fault::new(Endpoint::UsersMe, FaultKind::Status(403)).times(1));
    let forbidden = json!({"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"});
    let r = api.report(&support.id, 403, &forbidden).await;
    assert_eq!(
        (r.body["verdict"].as_str(), r.body["cause"].as_str()),
        (Some("stop"), Some("scope_missing")),
        "{:?}",
        r.body
    );
    assert_eq!((r.body["who"].as_str(), r.body["action"].as_str()), (Some("owner"), Some("reconnect")));
    let after = account(&app, "acme_support").await;
    assert_eq!(after.incident_cause.map(Cause::as_str), Some("scope_missing"));
    assert_eq!(after.incident_status, Some(403), "X's own status");
    let body = after.incident_x_error.unwrap();
    assert!(body.contains("Forbidden"), "X's own body: {body}");
    assert!(open_prompts(&app, &support.id).await.contains(&"scope_missing".to_owned()), "the owner is prompted");
}

#[tokio::test]
async fn reports_of_a_dead_grant_stop_with_the_reconnect_cause() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().revoke_grant(authwatch::server::demo::CLIENT_ID, &news.x_user_id);
    let r = api
        .post(&format!("/accounts/{}/auth-failures", news.id), &json!({ "status": 401, "body": UNAUTHORIZED }))
        .await;
    // X refused the refresh token, and the access token of the same generation too.
    assert_eq!(
        (r.body["verdict"].as_str(), r.body["cause"].as_str()),
        (Some("stop"), Some("user_revoked")),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["action"], "reconnect");
    assert_eq!(account(&app, "acme_news").await.incident_cause.map(Cause::as_str), Some("user_revoked"));
    api.get(&format!("/accounts/{}/token", news.id)).await.assert_problem(409, "person-must-act");
    assert!(open_prompts(&app, &news.id).await.contains(&"user_revoked".to_owned()), "the owner is prompted");
}

#[tokio::test]
async fn a_403_after_x_really_revoked_the_grant_ends_in_the_verdict_x_gives() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().revoke_grant(CLIENT_ID, &news.x_user_id);
    app.emulator().reset_counts();
    let forbidden = json!({"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"});
    let r = api.report(&news.id, 403, &forbidden).await;
    // Asked, X refuses the token and then the refresh token: a reconnect.
    assert_eq!(
        (r.body["verdict"].as_str(), r.body["cause"].as_str()),
        (Some("stop"), Some("user_revoked")),
        "{:?}",
        r.body
    );
    assert_eq!((r.body["who"].as_str(), r.body["action"].as_str()), (Some("owner"), Some("reconnect")));
    assert_eq!((users_me_calls(&app).await, x_calls(&app).await.1), (1, 1), "one question to X, one refresh");
    assert_eq!(account(&app, "acme_news").await.incident_cause.map(Cause::as_str), Some("user_revoked"));
    api.get(&format!("/accounts/{}/token", news.id)).await.assert_problem(409, "person-must-act");
    assert_eq!(
        api.publish(&news.id, "after", "Held until the reconnect").await.status,
        202,
        "posts wait for the owner"
    );
    assert!(open_prompts(&app, &news.id).await.contains(&"user_revoked".to_owned()));
}

/// What a forged report must leave as it was: the broker hands out the
/// token, a post is published (not held), no incident, no prompt.
async fn assert_still_healthy(app: &TestApp, api: &Api, handle: &str) {
    let now = account(app, handle).await;
    assert_eq!(now.incident_cause, None, "no incident");
    let token = api.get(&format!("/accounts/{}/token", now.id)).await;
    assert_eq!(token.status, 200, "the broker still hands out the token: {:?}", token.body);
    assert!(open_prompts(app, &now.id).await.is_empty(), "nobody is prompted");
    let post =
        api.publish(&now.id, &format!("after-forgery-{handle}"), &format!("Still publishing as @{handle}")).await;
    assert_eq!((post.status, post.body["status"].as_str()), (201, Some("published")), "{:?}", post.body);
    assert!(posts::held(&app.state.pool, &now.id).await.unwrap().is_empty(), "nothing held");
}

#[tokio::test]
async fn a_forged_403_burst_leaves_a_healthy_account_healthy_and_x_is_asked_once() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().reset_counts();
    let forged = json!({"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"});
    let burst = (0..10).map(|_| {
        let api = api.with_key(&api.key);
        let (id, forged) = (news.id.clone(), forged.clone());
        tokio::spawn(async move { api.report(&id, 403, &forged).await })
    });
    for r in futures::future::join_all(burst).await.into_iter().map(Result::unwrap) {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["verdict"].as_str(), r.body["who"].as_str()),
            (Some("stop"), Some("nobody")),
            "{:?}",
            r.body
        );
        assert!(r.body["action"].is_null());
    }
    assert_eq!(users_me_calls(&app).await, 1, "one verification at X for the whole burst");
    assert_eq!(x_calls(&app).await.1, 0, "no refresh");
    assert_still_healthy(&app, &api, "acme_news").await;
    let checks = timeline(&app, &news.id).await.into_iter().filter(|e| e.0 == "check").count();
    assert_eq!(checks, 1, "the verification is on the timeline once");
}

#[tokio::test]
async fn a_forged_401_burst_leaves_a_healthy_account_healthy() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().reset_counts();
    let forged: Value = serde_json::from_str(UNAUTHORIZED).unwrap();
    // One refused token reported by ten workers at once, then the fresh
    // token reported too, again and again.
    let burst = |generation: i64| {
        let (key, id, forged) = (api.key.clone(), news.id.clone(), forged.clone());
        let api = api.with_key(&key);
        (0..5).map(move |_| {
            let api = api.with_key(&key);
            let (id, forged) = (id.clone(), forged.clone());
            tokio::spawn(async move {
                api.post(
                    &format!("/accounts/{id}/auth-failures"),
                    &json!({ "status": 401, "body": forged, "generation": generation }),
                )
                .await
            })
        })
    };
    let first: Vec<_> =
        futures::future::join_all(burst(news.generation)).await.into_iter().map(Result::unwrap).collect();
    assert!(first.iter().all(|r| r.status == 200), "{first:?}");
    assert_eq!(
        first.iter().filter(|r| r.body["verdict"] == "retry_once").count(),
        1,
        "one retry for the refused token"
    );
    let fresh = news.generation + 1;
    let second: Vec<_> = futures::future::join_all(burst(fresh)).await.into_iter().map(Result::unwrap).collect();
    for r in &second {
        assert_eq!(
            (r.status, r.body["verdict"].as_str(), r.body["who"].as_str()),
            (200, Some("stop"), Some("nobody")),
            "{:?}",
            r.body
        );
    }
    assert_eq!(x_calls(&app).await.1, 1, "one refresh, for the first report");
    assert_eq!(users_me_calls(&app).await, 1, "one verification at X for the fresh token's reports");
    assert_eq!(account(&app, "acme_news").await.generation, fresh);
    assert_still_healthy(&app, &api, "acme_news").await;
}

#[tokio::test]
async fn reports_beyond_the_budget_get_429_and_nothing_more_is_recorded_or_verified() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    let forged = json!({"title":"Forbidden","status":403});
    for i in 0..authwatch::domain::pipeline::REPORTS_PER_WINDOW {
        assert_eq!(api.report(&news.id, 403, &forged).await.status, 200, "report {i} is within the budget");
    }
    app.emulator().reset_counts();
    let before = timeline(&app, &news.id).await.len();
    let over = api.report(&news.id, 403, &forged).await;
    over.assert_problem(429, "too-many-reports");
    let wait: u64 = over.headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(over.body["retry_after"], wait);
    for _ in 0..20 {
        assert_eq!(api.report(&news.id, 401, &forged).await.status, 429);
    }
    assert_eq!(timeline(&app, &news.id).await.len(), before, "nothing recorded");
    assert_eq!((users_me_calls(&app).await, x_calls(&app).await.1), (0, 0), "nothing verified");
    // The budget is per key and account: others are not held up.
    let support = account(&app, "acme_support").await;
    assert_eq!(api.report(&support.id, 403, &forged).await.status, 200);
    assert_eq!(Api::named(&app, "another pipeline", None).await.report(&news.id, 403, &forged).await.status, 200);
    assert_still_healthy(&app, &api, "acme_news").await;
}

#[tokio::test]
async fn the_account_page_shows_what_a_report_said_as_the_pipelines_words_never_as_xs() {
    let app = TestApp::demo().await;
    let api = Api::named(&app, "nightly scheduler", None).await;
    let news = account(&app, "acme_news").await;
    let leaked_key = "awk_Q2hhbmdlTWUhIDEyMzQ1Njc4OTAxMjM0NTY3ODkwYWJj";
    let forged = json!({
        "title": "Forbidden",
        "status": 403,
        "detail": format!("Account suspended for fraud: call 555-0100 now. Sent with Bearer {leaked_key}"),
    });
    assert_eq!(api.report(&news.id, 403, &forged).await.status, 200);
    assert_eq!(
        api.report(&news.id, 401, &json!(format!("Account suspended for fraud {}", "!".repeat(2000)))).await.status,
        200
    );

    let page = account_page(&app, &news.id).await;
    assert!(page.contains("reported by the pipeline (nightly scheduler)"), "labelled as the pipeline's words");
    assert!(page.contains("Account suspended for fraud"), "and shown");
    assert!(!page.contains(leaked_key) && page.contains("[redacted]"), "a token-shaped text is never stored or shown");
    assert!(!page.contains("class=\"x-error\""), "no incident, so no \"Last error from X\"");
    for shown_as_x in page.split("class=\"x-body\"").skip(1) {
        let body = &shown_as_x[..shown_as_x.find("</pre>").unwrap()];
        assert!(!body.contains("suspended"), "the report is never shown as X's answer: {body}");
    }
    let stored = events::recent(&app.state.pool, &news.id, 50).await.unwrap();
    let reports: Vec<_> = stored.iter().filter(|e| e.kind.as_str() == "report").collect();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|e| e.x_error.is_none() && e.http_status.is_none()), "nothing stored as X's");
    assert!(reports.iter().all(|e| e.detail.as_ref().unwrap().chars().count() < 800), "bodies are shortened");
}

async fn last_report(app: &TestApp, account_id: &str) -> events::Event {
    events::recent(&app.state.pool, account_id, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind.as_str() == "report")
        .expect("a report")
}

#[tokio::test]
async fn reports_that_are_not_auth_failures_are_refused_clearly() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    let path = format!("/accounts/{}/auth-failures", news.id);
    api.post(&path, &json!({ "status": 500, "body": "oops" })).await.assert_problem(422, "invalid-request");
    api.post(&path, &json!({ "status": 401, "body": "x", "generation": news.generation + 5 }))
        .await
        .assert_problem(409, "unknown-generation");
    api.post(&path, &json!({ "body": "no status" })).await.assert_problem(400, "malformed-request");
    assert!(timeline(&app, &news.id).await.iter().all(|e| e.0 != "report"), "nothing recorded");
}
