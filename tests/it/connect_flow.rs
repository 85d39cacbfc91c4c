#![cfg(feature = "ssr")]
//! Connect and reconnect through the real router, the real session store and
//! the emulator over HTTP — and every bad input, each leaving tokens untouched.

use crate::support as common;

use authwatch::emulator::{Endpoint, Fault, FaultKind};
use authwatch::server::db::accounts;
use authwatch::server::demo::CLIENT_ID;
use common::oauth::{account, consent, land, start, token_rows};
use common::TestApp;
use reqwest::Client;

#[tokio::test]
async fn reconnecting_a_revoked_account_as_itself_makes_it_healthy() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    assert!(labs.incident_cause.is_some());
    let browser = app.admin().await;
    let to_x = start(&app, &browser, Some(&labs.id)).await;
    let back = consent(&browser, &to_x, &labs.x_user_id, "authorize").await;
    let (page, html) = land(&app, &browser, &back).await;
    assert_eq!(page, "/");
    assert!(html.contains("Reconnected @acme_labs"), "the dashboard says so");
    let after = account(&app, "acme_labs").await;
    assert_eq!(after.generation, labs.generation + 1);
    assert_eq!(after.incident_cause, None, "the incident is cleared");
    assert!(html.contains(r#"data-account="acme_labs" data-health="healthy""#));
    let events = authwatch::server::db::events::recent(&app.state.pool, &labs.id, 1).await.unwrap();
    assert_eq!((events[0].kind.as_str(), events[0].outcome.as_str()), ("reconnect", "ok"));
    // The result is shown once.
    let again = browser.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("Reconnected @acme_labs"));
}

#[tokio::test]
async fn a_reconnect_as_another_x_account_is_refused_and_revoked() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let before = token_rows(&app).await;
    app.emulator().reset_counts();
    let browser = app.admin().await;
    let to_x = start(&app, &browser, Some(&labs.id)).await;
    let careers = "1600000000000000101";
    let back = consent(&browser, &to_x, careers, "authorize").await;
    let (page, html) = land(&app, &browser, &back).await;
    assert_eq!(page, "/connect/result");
    assert!(html.contains(
        "You signed in to X as @acme_careers, but this reconnect is for @acme_labs. Sign out of X (or switch account) and try again"
    ));
    assert!(html.contains(&format!("/accounts/{}/reconnect", labs.id)), "a retry button");
    assert_eq!(token_rows(&app).await, before, "nothing saved");
    assert_eq!(accounts::summaries(&app.state.pool).await.unwrap().len(), 8, "no account for the wrong user");
    assert_eq!(app.emulator().counts().client(CLIENT_ID).revoke, 1, "the wrong account's new token was revoked");
}

#[tokio::test]
async fn connecting_a_new_account_adds_it_and_an_existing_user_is_never_duplicated() {
    let app = TestApp::demo().await;
    let browser = app.admin().await;
    let to_x = start(&app, &browser, None).await;
    let back = consent(&browser, &to_x, "1600000000000000101", "authorize").await;
    let (page, html) = land(&app, &browser, &back).await;
    assert_eq!(page, "/");
    assert!(html.contains("Connected @acme_careers"));
    assert_eq!(accounts::summaries(&app.state.pool).await.unwrap().len(), 9);

    // "Connect account" as a user that is already connected: a reconnect of that row.
    let news = account(&app, "acme_news").await;
    let to_x = start(&app, &browser, None).await;
    let back = consent(&browser, &to_x, &news.x_user_id, "authorize").await;
    let (_, html) = land(&app, &browser, &back).await;
    assert!(html.contains("Reconnected @acme_news"));
    assert_eq!(accounts::summaries(&app.state.pool).await.unwrap().len(), 9);
    assert_eq!(account(&app, "acme_news").await.generation, news.generation + 1);
}

#[tokio::test]
async fn a_grant_without_a_required_scope_is_saved_and_flagged() {
    let app = TestApp::demo().await;
    let jobs = account(&app, "acme_jobs").await;
    app.emulator().withhold_scopes(CLIENT_ID, vec!["tweet.write".into()]);
    let browser = app.admin().await;
    let to_x = start(&app, &browser, Some(&jobs.id)).await;
    let back = consent(&browser, &to_x, &jobs.x_user_id, "authorize").await;
    let (_, html) = land(&app, &browser, &back).await;
    assert!(html.contains("but a permission is missing"));
    assert!(html.contains("X did not grant tweet.write"));
    assert!(
        html.contains("the X app&#x27;s permissions need changing")
            || html.contains("the X app's permissions need changing")
    );
    assert_eq!(account(&app, "acme_jobs").await.generation, jobs.generation + 1, "saved: better than nothing");
    assert!(html.contains(r#"data-account="acme_jobs" data-health="reconnect""#));
}

/// Bad inputs: each gets a clear page and changes no stored token.
async fn assert_refused(app: &TestApp, browser: &Client, callback: &str, expected: &str) {
    let before = token_rows(app).await;
    let (page, html) = land(app, browser, callback).await;
    assert_eq!(page.split('?').next(), Some("/connect/result"), "for {callback}");
    assert!(html.contains(expected), "expected {expected:?} for {callback}");
    assert!(html.contains("Nothing changed") || html.contains("nothing changed"), "says nothing changed");
    assert_eq!(token_rows(app).await, before, "tokens untouched for {callback}");
}

#[tokio::test]
async fn cancel_on_x_changes_nothing() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let browser = app.admin().await;
    let to_x = start(&app, &browser, Some(&labs.id)).await;
    let back = consent(&browser, &to_x, &labs.x_user_id, "cancel").await;
    assert!(back.contains("error=access_denied"));
    assert_refused(&app, &browser, &back, "You clicked Cancel on X").await;
}

#[tokio::test]
async fn missing_unknown_forged_used_foreign_and_oversized_states_are_refused() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let browser = app.admin().await;
    let cb = |q: &str| app.url(&format!("/auth/x/callback{q}"));

    assert_refused(&app, &browser, &cb("?code=abc"), "had no state").await;
    assert_refused(&app, &browser, &cb("?state=forged&code=abc"), "expired or was already used").await;
    assert_refused(&app, &browser, &cb(""), "had no state").await;
    assert_refused(&app, &browser, &cb(&format!("?state={}&code=x", "s".repeat(10_000))), "far too long").await;
    assert_refused(&app, &browser, &cb("?state=%ZZ%&code=%%"), "expired or was already used").await;

    // A real attempt, but the code is missing.
    let to_x = start(&app, &browser, Some(&labs.id)).await;
    let state = url::Url::parse(&to_x).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    assert_refused(&app, &browser, &cb(&format!("?state={state}")), "had no authorization code").await;

    // A state started in another browser session.
    let other = app.admin().await;
    let to_x = start(&app, &other, Some(&labs.id)).await;
    let back = consent(&other, &to_x, &labs.x_user_id, "authorize").await;
    assert_refused(&app, &browser, &back, "expired or was already used").await;

    // The callback reloaded: the first use works, the replay is refused.
    let (page, _) = land(&app, &other, &back).await;
    assert_eq!(page, "/");
    assert_refused(&app, &other, &back, "expired or was already used").await;
}

#[tokio::test]
async fn an_expired_attempt_is_refused() {
    let app = TestApp::start(vec![("AUTHWATCH_OAUTH_ATTEMPT_TTL_SECS", "1")]).await;
    authwatch::server::demo::seed(&app.state, app.emulator()).await.unwrap();
    let labs = account(&app, "acme_labs").await;
    let browser = app.admin().await;
    let to_x = start(&app, &browser, Some(&labs.id)).await;
    let back = consent(&browser, &to_x, &labs.x_user_id, "authorize").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_refused(&app, &browser, &back, "has expired").await;
}

#[tokio::test]
async fn a_code_for_another_attempt_fails_pkce_at_x() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let browser = app.admin().await;
    let first = start(&app, &browser, Some(&labs.id)).await;
    let second = start(&app, &browser, Some(&labs.id)).await;
    let back = consent(&browser, &first, &labs.x_user_id, "authorize").await;
    let code = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let other_state =
        url::Url::parse(&second).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let crossed = app.url(&format!("/auth/x/callback?state={other_state}&code={code}"));
    assert_refused(&app, &browser, &crossed, "Value passed for the code verifier did not match the code challenge.")
        .await;
}

#[tokio::test]
async fn x_failing_during_the_exchange_or_the_identity_check_changes_nothing() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let browser = app.admin().await;
    let cases = [
        (Fault::new(Endpoint::Token, FaultKind::Status(503)).times(1), "X answered HTTP 503"),
        (Fault::new(Endpoint::Token, FaultKind::DropConnection).times(1), "X could not be reached"),
        (Fault::new(Endpoint::UsersMe, FaultKind::Status(503)).times(1), "X did not say whose account this is"),
    ];
    for (fault, expected) in cases {
        let to_x = start(&app, &browser, Some(&labs.id)).await;
        let back = consent(&browser, &to_x, &labs.x_user_id, "authorize").await;
        app.emulator().inject_fault(fault);
        assert_refused(&app, &browser, &back, expected).await;
        app.emulator().clear_faults();
    }
}

#[tokio::test]
async fn a_refused_revoke_is_not_taken_for_a_dead_refresh_token() {
    use authwatch::domain::health::Cause;
    let app = TestApp::demo().await;
    for status in [400, 401] {
        app.emulator().inject_fault(Fault::new(Endpoint::Revoke, FaultKind::Status(status)).times(1));
        let refused =
            app.state.x.revoke(&authwatch::server::secret::Secret::new("a-token-not-kept")).await.unwrap_err();
        assert_eq!(refused.status(), Some(status));
        assert_ne!(refused.cause(), Cause::RefreshTokenRejected, "{status}: {refused}");
    }
}
