#![cfg(feature = "ssr")]
//! What an attacker reaches first, over the real router: the demo
//! emulator's control API, the origin check against DNS rebinding,
//! `/metrics`, and the session's https protections and lifetimes.

use crate::support as common;

use authwatch::api::RefreshNow;
use common::TestApp;
use leptos::server_fn::ServerFn;
use std::time::Duration;

const CLOCK: &str = "/x-emulator/_control/clock";
const USERS: &str = "/x-emulator/_control/users";

#[tokio::test]
async fn the_demo_emulators_control_api_is_an_admins_tool_behind_the_gate() {
    let app = TestApp::demo().await;
    let skew = serde_json::json!({ "offset_seconds": 3600 });
    let mallory = serde_json::json!({ "username": "mallory", "name": "Mallory" });
    let users = |app: &TestApp| app.emulator().users().len();
    let before = users(&app);

    // Anonymous and cross-site, as a page on another site would send it.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, body) in [(CLOCK, &skew), (USERS, &mallory)] {
        let r = anonymous.post(app.url(path)).header("origin", "https://evil.example").json(body).send().await.unwrap();
        assert_eq!(r.status(), 403, "cross-site {path}");
    }
    // Anonymous from our own origin: sign in first.
    let r = app.browser().post(app.url(USERS)).json(&mallory).send().await.unwrap();
    assert_eq!(r.status(), 401, "anonymous");
    let r = app.browser().get(app.url("/x-emulator/_control/counts")).send().await.unwrap();
    assert_eq!(r.status(), 303, "anonymous reads are sent to sign in too");
    // A manager is not an admin.
    let r = app.manager().await.post(app.url(USERS)).json(&mallory).send().await.unwrap();
    assert_eq!(r.status(), 403, "manager");
    // An admin, but from another site (the admin's browser tricked by a page elsewhere).
    let admin = app.admin().await;
    let r = admin.post(app.url(USERS)).header("origin", "https://evil.example").json(&mallory).send().await.unwrap();
    assert_eq!(r.status(), 403, "admin, cross-site");
    assert_eq!(users(&app), before, "nothing refused changed the emulated X");

    // The admin, from our pages: it works, and carries the security headers.
    let r = admin.post(app.url(CLOCK)).json(&skew).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let r = admin.post(app.url(USERS)).json(&mallory).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(users(&app), before + 1);

    // X's own endpoints stay open, as X's are: X itself answers (401 without a token).
    let r = anonymous.get(app.url("/x-emulator/2/users/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-frame-options"], "DENY", "served from our origin: framed by no one, like every answer");
}

#[tokio::test]
async fn every_router_answers_with_the_security_headers() {
    let app = TestApp::demo().await;
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The pages' router, the pipeline API, the emulated X and its control API.
    for (path, status) in [
        ("/healthz", 200),
        ("/api/v1/accounts", 401),
        ("/x-emulator/2/users/me", 401),
        ("/x-emulator/_control/counts", 303),
    ] {
        let r = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let h = r.headers();
        assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{path}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{path}");
        assert_eq!(h.get("referrer-policy").map(|v| v.to_str().unwrap()), Some("same-origin"), "{path}");
        let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    // The pipeline API takes no cookie and no origin check: a bearer key alone.
    let r = anonymous
        .post(app.url("/api/v1/accounts/x/posts"))
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "refused for its missing key, not as cross-site");
}

#[tokio::test]
async fn the_origin_must_be_the_public_url_not_whatever_the_host_header_says() {
    // DNS rebinding: a page at evil.example, whose name now points at this
    // server, posts with Origin and Host both saying evil.example.
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let jobs = common::account_id(&app, "acme_jobs").await;
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&app.state.pool).await.unwrap();
    let rebound = format!("evil.example:{}", app.addr.port());
    let r = admin
        .post(app.url(RefreshNow::PATH))
        .header("host", &rebound)
        .header("origin", format!("http://{rebound}"))
        .form(&[("id", jobs.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = admin
        .post(app.url("/auth/sign-out"))
        .header("host", &rebound)
        .header("origin", format!("http://{rebound}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "signing out, too, only from our pages");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(before, after, "nothing happened");
    assert_eq!(admin.get(app.url("/")).send().await.unwrap().status(), 200, "still signed in");
}

#[tokio::test]
async fn metrics_are_off_by_default_and_need_their_token_when_on() {
    let app = TestApp::demo().await;
    let r = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("AUTHWATCH_METRICS_TOKEN"));
    let r = app.admin().await.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404, "not even for a signed-in admin: it is for a scraper");

    let token = "scrape-token-0123456789abcdef";
    let app = TestApp::start(vec![("AUTHWATCH_METRICS_TOKEN", token)]).await;
    let http = reqwest::Client::new();
    assert_eq!(http.get(app.url("/metrics")).send().await.unwrap().status(), 401);
    let wrong = http.get(app.url("/metrics")).bearer_auth("scrape-token-0123456789abcdeX").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
    let r = http.get(app.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("authwatch_"));
}

#[tokio::test]
async fn over_https_hsts_and_a_host_only_cookie() {
    let public = "https://authwatch.example";
    let app = TestApp::start(vec![("AUTHWATCH_PUBLIC_URL", public)]).await;
    let r = app
        .browser()
        .post(app.url("/auth/sign-in"))
        .header("origin", public)
        .form(&[("email", "ada@demo.authwatch"), ("password", "demo-admin-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-authwatch.sid="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    for path in ["/sign-in", "/api/v1/openapi.json", "/healthz"] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        assert!(r.headers().contains_key("strict-transport-security"), "{path}");
    }

    // Over plain http there is no HSTS (it would be ignored) and no prefix (it needs Secure).
    let app = TestApp::demo().await;
    let r = reqwest::get(app.url("/sign-in")).await.unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let app = TestApp::start(vec![("AUTHWATCH_SESSION_MAX_SECS", "2"), ("AUTHWATCH_SESSION_IDLE_SECS", "60")]).await;
    let browser = app.admin().await;
    let started = std::time::Instant::now();
    // Busy: a request every 200 ms, never idle.
    while started.elapsed() < Duration::from_millis(1700) {
        assert_eq!(browser.get(app.url("/")).send().await.unwrap().status(), 200, "within the lifetime");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303, "past 2 s since sign-in: signed out however active");
}

#[tokio::test]
async fn an_active_session_outlives_the_idle_limit_and_an_idle_one_does_not() {
    // What "idle" means: time since the last request, not since sign-in.
    // The settings page leaves the session as it is: being active there must
    // count as much as anywhere.
    let app = TestApp::start(vec![("AUTHWATCH_SESSION_IDLE_SECS", "2")]).await;
    let browser = app.admin().await;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        assert_eq!(
            browser.get(app.url("/settings")).send().await.unwrap().status(),
            200,
            "active: kept alive past the idle limit"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        browser.get(app.url("/settings")).send().await.unwrap().status(),
        303,
        "then idle for longer than the limit"
    );
}
