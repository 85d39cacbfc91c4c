//! Injected faults, call counts and the control API of the emulator.

use std::time::{Duration, Instant};

use crate::harness::*;
use authwatch_emulator::{
    Emulator, EmulatorSettings, Endpoint, Fault, FaultKind, GrantKind, SAMPLE_CALLBACK, SAMPLE_CLIENT_ID,
    SAMPLE_CLIENT_SECRET,
};
use serde_json::{json, Value};

/// A token call whose transport must fail: no complete answer reaches us.
async fn assert_transport_error(request: reqwest::RequestBuilder) {
    let outcome = match request.send().await {
        Err(e) => Err(e),
        Ok(response) => response.bytes().await.map(|_| ()),
    };
    assert!(outcome.is_err(), "expected a transport error, got a complete answer");
}

fn refresh_request(h: &Harness, refresh_token: &str) -> reqwest::RequestBuilder {
    h.http
        .post(h.url("/2/oauth2/token"))
        .header("authorization", basic(&h.app))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
}

#[tokio::test]
async fn status_fault_answers_5xx_for_the_given_times() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let rt = tokens.refresh.clone().unwrap();
    h.emulator.inject_fault(Fault::new(Endpoint::Token, FaultKind::Status(503)).times(2));
    for _ in 0..2 {
        let reply = h.refresh(&h.app, &rt).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.body, problem("Service Unavailable", 503));
        assert!(reply.header("date").is_some());
    }
    assert_eq!(h.refresh(&h.app, &rt).await.status, 200, "the refresh token survived the outage");
    assert!(h.emulator.faults().is_empty());

    h.emulator.inject_fault(Fault::new(Endpoint::UsersMe, FaultKind::Status(500)));
    let me = h.users_me(&tokens.access).await;
    assert_eq!((me.status, me.body.clone()), (500, problem("Internal Server Error", 500)));
    assert_eq!(me.header("content-type"), Some("application/problem+json"));
    assert!(me.header("x-rate-limit-limit").is_some());
    assert_eq!(h.users_me(&tokens.access).await.status, 500, "no count: until cleared");
    h.emulator.clear_faults();
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
}

#[tokio::test]
async fn rate_limited_fault_answers_429_with_headers() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.inject_fault(Fault::new(Endpoint::Tweets, FaultKind::RateLimited).times(1));
    let post = h.tweet(&tokens.access, r#"{"text":"x"}"#).await;
    assert_eq!((post.status, post.body.clone()), (429, problem("Too Many Requests", 429)));
    assert_eq!(post.header("x-rate-limit-remaining"), Some("0"));
    assert_eq!(post.header("x-rate-limit-limit"), Some("100"));
    assert!(post.header("x-rate-limit-reset").is_some());
    assert_eq!(post.header("x-app-limit-24hour-remaining"), Some("0"));
    assert!(h.emulator.tweets().is_empty());
    assert_eq!(h.tweet(&tokens.access, r#"{"text":"x"}"#).await.status, 201);

    h.emulator.inject_fault(Fault::new(Endpoint::Token, FaultKind::RateLimited).times(1));
    let reply = h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!((reply.status, reply.body), (429, problem("Too Many Requests", 429)));
}

#[tokio::test]
async fn slow_fault_delays_then_answers() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.inject_fault(Fault::new(Endpoint::UsersMe, FaultKind::Slow { millis: 300 }).times(1));
    let started = Instant::now();
    let me = h.users_me(&tokens.access).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(me.status, 200);
    assert!(me.header("x-response-time").unwrap().parse::<u64>().unwrap() >= 300);
    // A client with a shorter timeout sees a timeout.
    h.emulator.inject_fault(Fault::new(Endpoint::UsersMe, FaultKind::Slow { millis: 500 }).times(1));
    let timed_out =
        h.http.get(h.url("/2/users/me")).bearer_auth(&tokens.access).timeout(Duration::from_millis(100)).send().await;
    assert!(timed_out.unwrap_err().is_timeout());
}

#[tokio::test]
async fn drop_connection_fault_is_a_transport_error_and_changes_nothing() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let rt = tokens.refresh.clone().unwrap();
    h.emulator.inject_fault(Fault::new(Endpoint::Token, FaultKind::DropConnection).times(1));
    assert_transport_error(refresh_request(&h, &rt)).await;
    assert_eq!(h.refresh(&h.app, &rt).await.status, 200, "the dropped call did not rotate");

    h.emulator.inject_fault(Fault::new(Endpoint::Tweets, FaultKind::DropConnection).times(1));
    let request = h.http.post(h.url("/2/tweets")).bearer_auth(&tokens.access).json(&json!({"text": "lost"}));
    assert_transport_error(request).await;
    assert!(h.emulator.tweets().is_empty());

    h.emulator.inject_fault(Fault::new(Endpoint::UsersMe, FaultKind::DropConnection).times(1));
    let json = h.http.get(h.url("/2/users/me")).bearer_auth(&tokens.access).send().await;
    let parsed = match json {
        Err(e) => Err(e),
        Ok(response) => response.json::<Value>().await,
    };
    assert!(parsed.is_err());
}

#[tokio::test]
async fn rotate_and_drop_kills_the_chain() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let rt = tokens.refresh.clone().unwrap();
    h.emulator
        .inject_fault(Fault::new(Endpoint::Token, FaultKind::RotateAndDrop).grant(GrantKind::RefreshToken).times(1));
    assert_transport_error(refresh_request(&h, &rt)).await;
    let retry = h.refresh(&h.app, &rt).await;
    assert_eq!((retry.status, retry.body), (400, invalid_token_error()));
    assert_eq!(h.emulator.counts().client(&h.app.client_id).refresh_grants, 2);
    // The lost answer's tokens exist: the old access token still works until
    // it expires, and only a reconnect helps after that.
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
}

#[tokio::test]
async fn rotate_and_drop_on_a_post_publishes_it() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.inject_fault(Fault::new(Endpoint::Tweets, FaultKind::RotateAndDrop).times(1));
    assert_transport_error(h.http.post(h.url("/2/tweets")).bearer_auth(&tokens.access).json(&json!({"text": "maybe"})))
        .await;
    assert_eq!(h.emulator.tweets().len(), 1);
}

#[tokio::test]
async fn token_faults_can_target_one_grant_type_or_app() {
    let h = Harness::start().await;
    h.emulator.inject_fault(Fault::new(Endpoint::Token, FaultKind::Status(502)).grant(GrantKind::RefreshToken));
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await; // code grant unaffected
    assert_eq!(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await.status, 502);
    h.emulator.clear_faults();

    h.emulator.inject_fault(Fault::new(Endpoint::Token, FaultKind::Status(500)).grant(GrantKind::AuthorizationCode));
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.exchange(&h.app, &code, &verifier).await.status, 500);
    assert_eq!(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await.status, 200);
    h.emulator.clear_faults();

    h.emulator
        .inject_fault(Fault::new(Endpoint::UsersMe, FaultKind::Status(503)).client(h.public_app.client_id.clone()));
    let public = h.connect(&h.public_app, &h.bob, ALL_SCOPES).await;
    let mine = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    assert_eq!(h.users_me(&public.access).await.status, 503);
    assert_eq!(h.users_me(&mine.access).await.status, 200);
}

#[tokio::test]
async fn authorize_fault_shows_an_error_page() {
    let h = Harness::start().await;
    h.emulator.inject_fault(Fault::new(Endpoint::Authorize, FaultKind::Status(500)).times(1));
    let (_, challenge) = pkce();
    let page = h.get_page(&Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256"), None).await;
    assert_eq!(page.status, 500);
    assert!(page.text.contains("Something went wrong"));
    assert!(page.header("location").is_none());
}

#[tokio::test]
async fn counts_per_endpoint_and_app() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await;
    h.refresh(&h.app, "bogus").await;
    h.users_me(&tokens.access).await;
    h.users_me("unknown").await;
    h.tweet(&tokens.access, r#"{"text":"x"}"#).await;
    h.revoke(&h.app, &tokens.access, "access_token").await;
    h.connect(&h.public_app, &h.bob, ALL_SCOPES).await;
    let counts = h.emulator.counts();
    let app = counts.client(&h.app.client_id);
    assert_eq!((app.authorize, app.consent, app.token, app.code_grants, app.refresh_grants), (1, 1, 3, 1, 2));
    assert_eq!((app.users_me, app.tweets, app.revoke), (1, 1, 1));
    assert_eq!(counts.client(&h.public_app.client_id).code_grants, 1);
    assert_eq!((counts.total.token, counts.total.users_me, counts.total.authorize), (4, 2, 2));
    let json = serde_json::to_value(&counts).unwrap();
    assert_eq!(json["total"]["refresh_grants"], 2);
    assert_eq!(json["by_client"][h.app.client_id.as_str()]["users_me"], 1);
    h.emulator.reset_counts();
    assert_eq!(h.emulator.counts(), Default::default());
}

// ---- control API ----------------------------------------------------------------

async fn control(h: &Harness, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = h.http.request(method, h.url(&format!("/_control{path}")));
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn control_api_sets_up_users_apps_and_grants() {
    use reqwest::Method;
    let h = Harness::start().await;
    let user = control(&h, Method::POST, "/users", Some(json!({"username": "carol", "name": "Carol C"}))).await;
    assert_eq!(user.status, 201);
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    assert!(user_id.bytes().all(|b| b.is_ascii_digit()));
    let bad = control(&h, Method::POST, "/users", Some(json!({"id": "abc", "username": "x"}))).await;
    assert_eq!(bad.status, 400);
    let users = control(&h, Method::GET, "/users", None).await;
    assert_eq!(users.body.as_array().unwrap().len(), 3);

    let app = control(
        &h,
        Method::POST,
        "/apps",
        Some(json!({"name": "Ctl", "client_type": "public", "callbacks": ["http://127.0.0.1:5000/cb"]})),
    )
    .await;
    assert_eq!(app.status, 201, "{}", app.text);
    let app: authwatch_emulator::EmulatedApp = serde_json::from_value(app.body).unwrap();
    let eleven: Vec<String> = (0..11).map(|i| format!("http://h/{i}")).collect();
    let refused = control(&h, Method::POST, "/apps", Some(json!({"callbacks": eleven}))).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body, json!({"error": "an app can register at most 10 callback URLs, got 11"}));

    let carol = h.emulator.users().into_iter().find(|u| u.username == "carol").unwrap();
    let tokens = h.connect(&app, &carol, ALL_SCOPES).await;
    let expire = control(&h, Method::POST, "/tokens/expire", Some(json!({"client_id": app.client_id}))).await;
    assert_eq!(expire.status, 204);
    assert_eq!(h.users_me(&tokens.access).await.status, 401);
    let refreshed = h.refresh(&app, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!(refreshed.status, 200);
    let revoke =
        control(&h, Method::POST, "/grants/revoke", Some(json!({"client_id": app.client_id, "user_id": carol.id})))
            .await;
    assert_eq!(revoke.status, 204);
    assert_eq!(h.refresh(&app, refreshed.body["refresh_token"].as_str().unwrap()).await.body, invalid_token_error());
    let unknown = control(&h, Method::POST, "/grants/revoke", Some(json!({"client_id": "nope", "user_id": "1"}))).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn control_api_secret_scopes_clock_time_settings() {
    use reqwest::Method;
    let h = Harness::start().await;
    let secret =
        control(&h, Method::POST, &format!("/apps/{}/secret", h.app.client_id), Some(json!({"client_secret": "s2"})))
            .await;
    assert_eq!(secret.status, 204);
    assert_eq!(h.emulator.apps().iter().find(|a| a.client_id == h.app.client_id).unwrap().client_secret, "s2");
    assert_eq!(control(&h, Method::POST, "/apps/nope/secret", Some(json!({"client_secret": "x"}))).await.status, 404);

    let path = format!("/apps/{}/withhold-scopes", h.public_app.client_id);
    assert_eq!(control(&h, Method::POST, &path, Some(json!({"scopes": ["tweet.write"]}))).await.status, 204);
    assert_eq!(h.connect(&h.public_app, &h.alice, ALL_SCOPES).await.scope, "tweet.read users.read offline.access");
    assert_eq!(control(&h, Method::POST, &path, Some(json!({"scopes": ["bogus"]}))).await.status, 400);

    assert_eq!(control(&h, Method::POST, "/clock", Some(json!({"offset_seconds": 7200}))).await.status, 204);
    let tokens = h.connect(&h.public_app, &h.alice, ALL_SCOPES).await;
    let me = h.users_me(&tokens.access).await;
    let date = httpdate::parse_http_date(me.header("date").unwrap()).unwrap();
    assert!(date > std::time::SystemTime::now() + Duration::from_secs(7190));

    assert_eq!(control(&h, Method::POST, "/time/advance", Some(json!({"seconds": 7200}))).await.status, 204);
    assert_eq!(h.users_me(&tokens.access).await.status, 401);

    let patched =
        control(&h, Method::PATCH, "/settings", Some(json!({"users_me_limit": 1, "cancel_adds_error": false}))).await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["users_me_limit"], 1);
    assert_eq!(patched.body["access_token_ttl_secs"], 7200);
    assert!(!h.emulator.settings().cancel_adds_error);
    assert_eq!(control(&h, Method::PATCH, "/settings", Some(json!({"nope": 1}))).await.status, 400);
    assert_eq!(control(&h, Method::PATCH, "/settings", Some(json!({"users_me_limit": "x"}))).await.status, 400);
    assert_eq!(h.emulator.settings().users_me_limit, 1, "a refused patch changes nothing");
    assert_eq!(control(&h, Method::GET, "/settings", None).await.body["users_me_limit"], 1);
}

#[tokio::test]
async fn control_api_faults_and_counts() {
    use reqwest::Method;
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let fault = json!({"endpoint": "token", "kind": {"status": 503}, "times": 1, "grant": "refresh_token"});
    assert_eq!(control(&h, Method::POST, "/faults", Some(fault)).await.status, 204);
    let listed = control(&h, Method::GET, "/faults", None).await;
    assert_eq!(listed.body[0]["kind"], json!({"status": 503}));
    assert_eq!(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await.status, 503);
    for kind in
        [json!("rate_limited"), json!("drop_connection"), json!("rotate_and_drop"), json!({"slow": {"millis": 1}})]
    {
        let fault = json!({"endpoint": "users_me", "kind": kind});
        assert_eq!(control(&h, Method::POST, "/faults", Some(fault)).await.status, 204);
    }
    assert_eq!(control(&h, Method::GET, "/faults", None).await.body.as_array().unwrap().len(), 4);
    assert_eq!(control(&h, Method::DELETE, "/faults", None).await.status, 204);
    assert!(h.emulator.faults().is_empty());
    assert_eq!(control(&h, Method::POST, "/faults", Some(json!({"endpoint": "nowhere"}))).await.status, 400);

    let counts = control(&h, Method::GET, "/counts", None).await;
    assert_eq!(counts.body["total"]["refresh_grants"], 1);
    assert_eq!(counts.body["by_client"][h.app.client_id.as_str()]["code_grants"], 1);
    assert_eq!(control(&h, Method::POST, "/counts/reset", None).await.status, 204);
    assert_eq!(control(&h, Method::GET, "/counts", None).await.body["total"]["token"], 0);

    h.tweet(&tokens.access, r#"{"text":"hi"}"#).await;
    let tweets = control(&h, Method::GET, "/tweets", None).await;
    assert_eq!(tweets.body[0]["text"], "hi");
}

#[tokio::test]
async fn control_api_is_absent_when_disabled() {
    let h = Harness::with_settings(EmulatorSettings { control_enabled: false, ..Default::default() }).await;
    for path in ["/_control/users", "/_control/counts", "/_control/settings"] {
        assert_eq!(h.http.get(h.url(path)).send().await.unwrap().status(), 404, "{path}");
    }
    assert_eq!(h.http.post(h.url("/_control/faults")).json(&json!({})).send().await.unwrap().status(), 404);
    // The X endpoints are still there.
    assert_eq!(h.users_me("x").await.status, 401);
}

#[tokio::test]
async fn sample_data_is_ready_for_a_local_authwatch() {
    let emulator = Emulator::with_sample_data();
    let apps = emulator.apps();
    assert_eq!(apps.len(), 1);
    assert_eq!((apps[0].client_id.as_str(), apps[0].client_secret.as_str()), (SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET));
    assert!(apps[0].callbacks.iter().any(|c| c == SAMPLE_CALLBACK));
    assert_eq!(emulator.users().len(), 3);
    assert!(emulator.settings().control_enabled);
}

// ---- mangled token successes ------------------------------------------------------

/// Injects `kind` for the next call of `grant` only.
fn once(h: &Harness, kind: FaultKind, grant: GrantKind) {
    h.emulator.inject_fault(Fault::new(Endpoint::Token, kind).grant(grant).times(1));
}

#[tokio::test]
async fn success_as_text_plain_is_xs_json_under_another_content_type_and_processed() {
    let h = Harness::start().await;
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let old_refresh = first.refresh.clone().unwrap();
    once(&h, FaultKind::SuccessAsTextPlain, GrantKind::RefreshToken);
    let reply = h.refresh(&h.app, &old_refresh).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("date").is_some());
    assert_eq!(reply.body["token_type"], "bearer");
    assert_eq!(reply.body["expires_in"], 7200);
    let rotated = tokens(&reply);
    assert_eq!(
        h.refresh(&h.app, &old_refresh).await.body,
        invalid_token_error(),
        "the refresh rotated: the old token is spent"
    );
    assert_eq!(h.users_me(&rotated.access).await.status, 200);
    assert!(h.emulator.faults().is_empty(), "used up");

    // The code exchange too: the code is spent, the tokens work.
    once(&h, FaultKind::SuccessAsTextPlain, GrantKind::AuthorizationCode);
    let (code, verifier) = h.code(&h.app, &h.bob, ALL_SCOPES).await;
    let reply = h.exchange(&h.app, &code, &verifier).await;
    assert_eq!((reply.status, reply.header("content-type")), (200, Some("text/plain; charset=utf-8")));
    assert_eq!(h.users_me(&tokens(&reply).access).await.status, 200);
    assert_eq!(h.exchange(&h.app, &code, &verifier).await.status, 400);
}

#[tokio::test]
async fn expires_in_as_string_keeps_the_lifetime_and_the_rotation() {
    let h = Harness::start().await;
    h.emulator.update_settings(|s| s.access_token_ttl_secs = 5400);
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    once(&h, FaultKind::ExpiresInAsString, GrantKind::RefreshToken);
    let reply = h.refresh(&h.app, first.refresh.as_deref().unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(reply.body["expires_in"], json!("5400"));
    let rotated = tokens(&reply);
    assert_eq!(h.users_me(&rotated.access).await.status, 200);
    assert_eq!(
        h.refresh(&h.app, rotated.refresh.as_deref().unwrap()).await.body["expires_in"],
        json!(5400),
        "one call only"
    );
}

#[tokio::test]
async fn truncated_success_holds_the_tokens_in_unreadable_json_after_rotating() {
    let h = Harness::start().await;
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let old_refresh = first.refresh.clone().unwrap();
    once(&h, FaultKind::TruncatedSuccess, GrantKind::RefreshToken);
    let reply = h.refresh(&h.app, &old_refresh).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"));
    assert!(serde_json::from_str::<Value>(&reply.text).is_err(), "unreadable: {}", reply.text);
    // Cut before the closing brace only: the tokens in it are whole, and live.
    let lost: Value = serde_json::from_str(&format!("{}}}", reply.text)).unwrap();
    let (access, refresh) = (lost["access_token"].as_str().unwrap(), lost["refresh_token"].as_str().unwrap());
    assert!(h.emulator.issued_secrets().iter().any(|s| s == access));
    assert_eq!(h.users_me(access).await.status, 200);
    assert_eq!(
        h.refresh(&h.app, &old_refresh).await.body,
        invalid_token_error(),
        "the refresh was carried out: the old token is spent"
    );
    assert_eq!(h.refresh(&h.app, refresh).await.status, 200);

    // An error answer is not mangled (the fault is used up all the same).
    once(&h, FaultKind::TruncatedSuccess, GrantKind::RefreshToken);
    let reply = h.refresh(&h.app, &old_refresh).await;
    assert_eq!((reply.status, reply.body), (400, invalid_token_error()));
    assert!(h.emulator.faults().is_empty());
    let counts = h.emulator.counts().client(&h.app.client_id);
    assert_eq!((counts.code_grants, counts.refresh_grants), (1, 4));
}

#[tokio::test]
async fn control_api_sets_the_token_success_faults() {
    use reqwest::Method;
    let h = Harness::start().await;
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let mut refresh = first.refresh.clone().unwrap();
    for (kind, check) in [
        ("success_as_text_plain", "text/plain"),
        ("expires_in_as_string", "string"),
        ("truncated_success", "unreadable"),
    ] {
        let fault = json!({"endpoint": "token", "kind": kind, "times": 1, "grant": "refresh_token"});
        let answer = control(&h, Method::POST, "/faults", Some(fault)).await;
        assert_eq!(answer.status, 204, "{kind}: {}", answer.text);
        assert_eq!(control(&h, Method::GET, "/faults", None).await.body[0]["kind"], json!(kind));
        let reply = h.refresh(&h.app, &refresh).await;
        assert_eq!(reply.status, 200, "{kind}");
        let body: Value = match check {
            "text/plain" => {
                assert!(reply.header("content-type").unwrap().starts_with("text/plain"));
                reply.body.clone()
            }
            "string" => {
                assert!(reply.body["expires_in"].is_string());
                reply.body.clone()
            }
            _ => {
                assert_eq!(reply.body, Value::Null);
                serde_json::from_str(&format!("{}}}", reply.text)).unwrap()
            }
        };
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    assert_eq!(h.refresh(&h.app, &refresh).await.status, 200, "each answer's token was the live one");
    let counts = control(&h, Method::GET, "/counts", None).await;
    assert_eq!(counts.body["total"]["refresh_grants"], 4);
}
