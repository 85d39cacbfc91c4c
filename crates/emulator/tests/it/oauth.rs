//! The emulator's OAuth 2.0 endpoints against X's behaviour (docs/x-behaviour.md), over real HTTP: the
//! consent page, the token endpoint (every listed error, exactly), rotation,
//! grants, revocation.

use crate::harness::*;
use authwatch_emulator::{ClientType, EmulatorSettings, NewApp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

const DAY: u64 = 24 * 60 * 60;

// ---- consent page ---------------------------------------------------------

#[tokio::test]
async fn consent_page_shows_app_scopes_and_account_picker() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    let page = h.get_page(&Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap_or("").starts_with("text/html"));
    assert!(page.text.contains("Pipeline App wants to access your X account."));
    for scope in ALL_SCOPES.split(' ') {
        assert!(page.text.contains(&format!(r#"data-scope="{scope}""#)), "{scope}");
    }
    assert!(page.text.contains(r#"<select id="x-user" name="user_id">"#));
    assert!(page.text.contains(r#"<option value="42">@bob (Bob B)</option>"#));
    assert!(page.text.contains(">Authorize app</button>"));
    assert!(page.text.contains(">Cancel</button>"));
    assert!(page.text.contains(r#"action="authorize""#), "relative form action");
    assert!(page.text.contains("You are not signed in"));
    let fields = hidden_inputs(&page.text);
    assert!(fields.contains(&("state".into(), "s".into())));
    assert!(fields.contains(&("code_challenge".into(), challenge)));
}

#[tokio::test]
async fn consent_remembers_the_account_in_a_cookie() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    let query = Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256");
    let page = h.get_page(&query, None).await;
    let redirect = h.submit_consent(&page.text, &h.bob.id, "authorize").await;
    let cookie = redirect.header("set-cookie").expect("set-cookie");
    assert!(cookie.starts_with("x_emulator_user=42"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap_or_default();
    let page = h.get_page(&query, Some(cookie)).await;
    assert!(page.text.contains("signed in to X as <strong>@bob</strong>"), "{}", page.text);
    assert!(page.text.contains(r#"<option value="42" selected>@bob"#));
}

#[tokio::test]
async fn authorize_redirects_with_state_then_code() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    let page = h.get_page(&Harness::authorize_query(&h.app, ALL_SCOPES, "st&a=te", &challenge, "S256"), None).await;
    let redirect = h.submit_consent(&page.text, &h.alice.id, "authorize").await;
    assert_eq!(redirect.status, 302);
    let location = redirect.header("location").expect("location");
    assert!(location.starts_with(&format!("{CALLBACK}?state=st%26a%3Dte&code=")), "{location}");
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_by_default() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    let page = h.get_page(&Harness::authorize_query(&h.app, ALL_SCOPES, "st", &challenge, "S256"), None).await;
    let redirect = h.submit_consent(&page.text, &h.alice.id, "cancel").await;
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some(format!("{CALLBACK}?state=st&error=access_denied").as_str()));
}

#[tokio::test]
async fn cancel_without_error_when_the_setting_says_so() {
    let h = Harness::with_settings(EmulatorSettings { cancel_adds_error: false, ..Default::default() }).await;
    let (_, challenge) = pkce();
    let page = h.get_page(&Harness::authorize_query(&h.app, ALL_SCOPES, "st", &challenge, "S256"), None).await;
    let redirect = h.submit_consent(&page.text, &h.alice.id, "cancel").await;
    assert_eq!(redirect.header("location"), Some(format!("{CALLBACK}?state=st").as_str()));
}

fn assert_something_went_wrong(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.header("location").is_none(), "X never redirects here");
    assert!(reply.text.contains("Something went wrong"), "{}", reply.text);
    assert!(reply.text.contains("You weren't able to give access to the App."), "{}", reply.text);
    assert!(!reply.text.contains("Authorize app"));
}

#[tokio::test]
async fn unregistered_redirect_uri_shows_xs_page_and_never_redirects() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    for redirect_uri in [
        "http://127.0.0.1:3000/other",
        "http://127.0.0.1:3000/auth/x/callback?x=1",
        "http://127.0.0.1:3000/auth/x/callback/",
        PUBLIC_CALLBACK, // another app's
    ] {
        let mut query = Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256");
        query[2].1 = redirect_uri.into();
        assert_something_went_wrong(&h.get_page(&query, None).await);
    }
}

#[tokio::test]
async fn unknown_client_and_bad_parameters_show_xs_page() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    let good = Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256");
    let cases: Vec<(usize, String)> = vec![
        (0, "token".into()), // response_type
        (1, "nope".into()),  // client_id
        (3, "".into()),      // scope
        (3, "tweet.read bogus".into()),
        (4, "".into()),       // state
        (4, "x".repeat(501)), // state too long
        (5, "".into()),       // code_challenge
        (6, "S384".into()),   // method
    ];
    for (index, value) in cases {
        let mut query = good.clone();
        query[index].1 = value;
        assert_something_went_wrong(&h.get_page(&query, None).await);
    }
    let mut longest = good.clone();
    longest[4].1 = "x".repeat(500);
    assert!(h.get_page(&longest, None).await.text.contains("Authorize app"), "500 chars of state are fine");
}

#[tokio::test]
async fn consent_post_revalidates_and_rejects_unknown_accounts() {
    let h = Harness::start().await;
    let (_, challenge) = pkce();
    let page = h.get_page(&Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256"), None).await;
    assert_something_went_wrong(&h.submit_consent(&page.text, "999", "authorize").await);
    let tampered = page.text.replace(CALLBACK, "http://evil.example/cb");
    assert_something_went_wrong(&h.submit_consent(&tampered, &h.alice.id, "authorize").await);
}

#[tokio::test]
async fn works_nested_under_a_prefix() {
    let h = Harness::start().await;
    let base = serve_router(axum::Router::new().nest("/x-emulator", h.emulator.router())).await;
    let http = client();
    let (verifier, challenge) = pkce();
    let query = Harness::authorize_query(&h.app, ALL_SCOPES, "s", &challenge, "S256");
    let page =
        reply(http.get(format!("{base}/x-emulator/i/oauth2/authorize")).query(&query).send().await.unwrap()).await;
    assert!(page.text.contains(r#"action="authorize""#));
    // The relative action resolves against the page's URL, as a browser does.
    let action =
        url::Url::parse(&format!("{base}/x-emulator/i/oauth2/authorize?x=1")).unwrap().join("authorize").unwrap();
    let mut form = hidden_inputs(&page.text);
    form.extend([("user_id".to_owned(), h.alice.id.clone()), ("action".to_owned(), "authorize".to_owned())]);
    let redirect = reply(http.post(action).form(&form).send().await.unwrap()).await;
    assert_eq!(redirect.status, 302, "{}", redirect.text);
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let exchanged = http
        .post(format!("{base}/x-emulator/2/oauth2/token"))
        .header("authorization", basic(&h.app))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), 200);
}

// ---- code exchange ----------------------------------------------------------

#[tokio::test]
async fn code_exchange_answers_like_x() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    let reply = h.exchange(&h.app, &code, &verifier).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.header("content-type").unwrap().starts_with("application/json"));
    assert!(httpdate::parse_http_date(reply.header("date").expect("date")).is_ok());
    let body = reply.body.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_in", "refresh_token", "scope", "token_type"]);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["scope"], ALL_SCOPES);
    assert!(reply.text.starts_with(r#"{"token_type":"bearer","expires_in":7200,"access_token":""#), "{}", reply.text);
    for (field, tag) in [("access_token", "at"), ("refresh_token", "rt")] {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(body[field].as_str().unwrap()).unwrap()).unwrap();
        let parts: Vec<&str> = raw.split(':').collect();
        assert_eq!(parts.len(), 6, "{raw}");
        assert_eq!(parts[0].len(), 43);
        assert!(parts[1].parse::<u64>().unwrap() > 1_600_000_000_000);
        assert_eq!(&parts[2..], ["1", "0", tag, "1"]);
    }
    let code_raw = String::from_utf8(URL_SAFE_NO_PAD.decode(&code).unwrap()).unwrap();
    assert!(code_raw.ends_with(":1:1:ac:1"), "{code_raw}");
    let me = h.users_me(body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.body, json!({"data": {"id": h.alice.id, "name": "Alice A", "username": "alice"}}));
}

#[tokio::test]
async fn pkce_plain_and_lowercase_s256_are_accepted() {
    let h = Harness::start().await;
    let query = h.consent(&h.app, &h.alice, ALL_SCOPES, "plain-verifier-0123456789012345678901234567", "plain").await;
    let reply = h.exchange(&h.app, &query["code"], "plain-verifier-0123456789012345678901234567").await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let (verifier, challenge) = pkce();
    let query = h.consent(&h.app, &h.bob, ALL_SCOPES, &challenge, "s256").await;
    assert_eq!(h.exchange(&h.app, &query["code"], &verifier).await.status, 200);
}

#[tokio::test]
async fn code_lives_30_seconds() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.advance_time(29);
    assert_eq!(h.exchange(&h.app, &code, &verifier).await.status, 200);

    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.advance_time(30);
    let reply = h.exchange(&h.app, &code, &verifier).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body, oauth_error("invalid_request", "Value passed for the authorization code was invalid."));
}

#[tokio::test]
async fn code_is_single_use_and_unknown_codes_fail() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.exchange(&h.app, &code, &verifier).await.status, 200);
    let invalid = oauth_error("invalid_request", "Value passed for the authorization code was invalid.");
    let replay = h.exchange(&h.app, &code, &verifier).await;
    assert_eq!((replay.status, replay.body), (400, invalid.clone()));
    let unknown = h.exchange(&h.app, "bm9wZQ", &verifier).await;
    assert_eq!((unknown.status, unknown.body), (400, invalid.clone()));
    // Another app's code is unknown to this one.
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    let stolen = h
        .token(
            &h.public_app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!((stolen.status, stolen.body), (400, invalid));
}

#[tokio::test]
async fn redirect_uri_must_match_the_authorize_one() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    let reply = h
        .token(
            &h.app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:3000/auth/x/callback"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        oauth_error(
            "invalid_request",
            "Value passed for the redirect uri did not match the uri of the authorization code."
        )
    );
}

#[tokio::test]
async fn verifier_missing_or_mismatched() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    let missing =
        h.token(&h.app, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body, oauth_error("invalid_request", "Missing required parameter [code_verifier]."));
    let wrong = h.exchange(&h.app, &code, "another-verifier-0123456789012345678901234567").await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.body,
        oauth_error("invalid_request", "Value passed for the code verifier did not match the code challenge.")
    );
    // A failed attempt does not spend the code.
    assert_eq!(h.exchange(&h.app, &code, &verifier).await.status, 200);
}

#[tokio::test]
async fn missing_or_unsupported_grant_type() {
    let h = Harness::start().await;
    let missing = h.token(&h.app, &[("code", "x")]).await;
    assert_eq!(
        (missing.status, missing.body),
        (400, oauth_error("invalid_request", "Missing required parameter [grant_type]."))
    );
    let other = h.token(&h.app, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (other.status, other.body),
        (400, oauth_error("unsupported_grant_type", "Value passed for the grant type was invalid."))
    );
    let no_refresh = h.token(&h.app, &[("grant_type", "refresh_token")]).await;
    assert_eq!(no_refresh.body, oauth_error("invalid_request", "Missing required parameter [refresh_token]."));
}

// ---- client authentication ----------------------------------------------------

#[tokio::test]
async fn confidential_client_without_basic_header_is_unauthorized_client() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, ALL_SCOPES).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
        ("client_id", h.app.client_id.as_str()),
    ];
    let expected = oauth_error("unauthorized_client", "Missing valid authorization header");
    let reply = reply(h.http.post(h.url("/2/oauth2/token")).form(&params).send().await.unwrap()).await;
    assert_eq!((reply.status, &reply.body), (401, &expected));
    let bearer =
        reply_of(h.http.post(h.url("/2/oauth2/token")).header("authorization", "Bearer abc").form(&params)).await;
    assert_eq!((bearer.status, &bearer.body), (401, &expected));
    let nothing = reply_of(h.http.post(h.url("/2/oauth2/token")).form(&params[..4])).await;
    assert_eq!((nothing.status, &nothing.body), (401, &expected));
    // The code survived: a correct call still works.
    assert_eq!(h.exchange(&h.app, &code, &verifier).await.status, 200);
}

async fn reply_of(request: reqwest::RequestBuilder) -> Reply {
    reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let mut wrong = h.app.clone();
    wrong.client_secret = "staging-secret".into();
    let expected = oauth_error("invalid_client", "Client authentication failed");
    let reply = h.refresh(&wrong, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!((reply.status, reply.body), (401, expected.clone()));
    let mut unknown = h.app.clone();
    unknown.client_id = "no-such-client".into();
    let reply = h.refresh(&unknown, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!((reply.status, reply.body), (401, expected.clone()));
    // The refresh token was not spent by the refused calls.
    assert_eq!(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await.status, 200);
}

#[tokio::test]
async fn rotated_client_secret_breaks_the_old_one() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.set_client_secret(&h.app.client_id, "rotated");
    let reply = h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!((reply.status, reply.body), (401, oauth_error("invalid_client", "Client authentication failed")));
    let mut rotated = h.app.clone();
    rotated.client_secret = "rotated".into();
    assert_eq!(h.refresh(&rotated, tokens.refresh.as_deref().unwrap()).await.status, 200);
}

#[tokio::test]
async fn public_client_sends_client_id_in_the_body() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.public_app, &h.alice, ALL_SCOPES).await;
    assert_eq!(tokens.scope, ALL_SCOPES);
    let refreshed = h.refresh(&h.public_app, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    // Sending Basic as well is harmless for a public app (Laravel does it).
    let rt = tokens_of(&refreshed).refresh.unwrap();
    let with_basic = reply_of(
        h.http
            .post(h.url("/2/oauth2/token"))
            .header("authorization", basic(&h.public_app))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())]),
    )
    .await;
    assert_eq!(with_basic.status, 200, "{}", with_basic.text);
    // No client id at all: X cannot tell who calls.
    let anonymous = reply_of(
        h.http.post(h.url("/2/oauth2/token")).form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]),
    )
    .await;
    assert_eq!(
        (anonymous.status, anonymous.body),
        (401, oauth_error("unauthorized_client", "Missing valid authorization header"))
    );
}

fn tokens_of(reply: &Reply) -> Tokens {
    tokens(reply)
}

// ---- refresh ------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_and_the_old_token_dies_at_once() {
    let h = Harness::start().await;
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let reply = h.refresh(&h.app, first.refresh.as_deref().unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let second = tokens(&reply);
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    assert_eq!(second.scope, ALL_SCOPES);
    assert_eq!(h.users_me(&second.access).await.status, 200);
    let replay = h.refresh(&h.app, first.refresh.as_deref().unwrap()).await;
    assert_eq!((replay.status, replay.body), (400, invalid_token_error()));
    // The newer token is fine (replay_kills_family is off by default)...
    let third = h.refresh(&h.app, second.refresh.as_deref().unwrap()).await;
    assert_eq!(third.status, 200);
    // ...and unknown tokens get the same answer.
    let unknown = h.refresh(&h.app, "dW5rbm93bg").await;
    assert_eq!((unknown.status, unknown.body), (400, invalid_token_error()));
}

#[tokio::test]
async fn replay_kills_the_family_when_set() {
    let h = Harness::with_settings(EmulatorSettings { replay_kills_family: true, ..Default::default() }).await;
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let second = tokens(&h.refresh(&h.app, first.refresh.as_deref().unwrap()).await);
    assert_eq!(h.refresh(&h.app, first.refresh.as_deref().unwrap()).await.body, invalid_token_error());
    let newest = h.refresh(&h.app, second.refresh.as_deref().unwrap()).await;
    assert_eq!((newest.status, newest.body), (400, invalid_token_error()));
    assert_eq!(h.users_me(&second.access).await.status, 401);
}

#[tokio::test]
async fn refresh_grace_window_when_set() {
    let h = Harness::with_settings(EmulatorSettings { refresh_grace_seconds: 10, ..Default::default() }).await;
    let first = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let rt = first.refresh.as_deref().unwrap();
    assert_eq!(h.refresh(&h.app, rt).await.status, 200);
    h.emulator.advance_time(5);
    assert_eq!(h.refresh(&h.app, rt).await.status, 200, "within the grace window");
    h.emulator.advance_time(5);
    assert_eq!(h.refresh(&h.app, rt).await.body, invalid_token_error());
}

#[tokio::test]
async fn refresh_token_is_another_apps() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let reply = h.refresh(&h.public_app, tokens.refresh.as_deref().unwrap()).await;
    assert_eq!((reply.status, reply.body), (400, invalid_token_error()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_refreshes_give_exactly_one_success() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let rt = tokens.refresh.unwrap();
    let mut set = tokio::task::JoinSet::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    for _ in 0..100 {
        let (http, url, auth, rt, barrier) =
            (h.http.clone(), h.url("/2/oauth2/token"), basic(&h.app), rt.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            let request = http
                .post(url)
                .header("authorization", auth)
                .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())]);
            reply(request.send().await.expect("refresh call")).await
        });
    }
    let replies = set.join_all().await;
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1);
    let failed = replies.iter().filter(|r| r.status == 400 && r.body == invalid_token_error()).count();
    assert_eq!(failed, 99);
    assert_eq!(h.refresh(&h.app, ok[0].body["refresh_token"].as_str().unwrap()).await.status, 200);
    assert_eq!(h.emulator.counts().client(&h.app.client_id).refresh_grants, 101);
}

#[tokio::test]
async fn no_offline_access_means_no_refresh_token() {
    let h = Harness::start().await;
    let (code, verifier) = h.code(&h.app, &h.alice, "tweet.read users.read").await;
    let reply = h.exchange(&h.app, &code, &verifier).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.get("refresh_token").is_none(), "{}", reply.text);
    assert_eq!(reply.body["scope"], "tweet.read users.read");
}

#[tokio::test]
async fn withheld_scopes_narrow_the_grant() {
    let h = Harness::start().await;
    h.emulator.withhold_scopes(&h.app.client_id, vec!["tweet.write".into()]);
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(tokens.scope, "tweet.read users.read offline.access");
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
    let post = h.tweet(&tokens.access, r#"{"text":"hello"}"#).await;
    assert_eq!((post.status, post.body), (403, problem("Forbidden", 403)));
    // A refresh keeps the grant's scopes; withholding no more needs a new consent.
    h.emulator.withhold_scopes(&h.app.client_id, vec![]);
    let refreshed = tokens_of(&h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await);
    assert_eq!(refreshed.scope, "tweet.read users.read offline.access");
    let again = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.tweet(&again.access, r#"{"text":"hello"}"#).await.status, 201);
}

// ---- grants, lifetimes, revocation ---------------------------------------------

#[tokio::test]
async fn new_grant_invalidates_the_previous_one() {
    let h = Harness::start().await;
    let old = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let other_user = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    let new = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.users_me(&old.access).await.status, 401);
    assert_eq!(h.refresh(&h.app, old.refresh.as_deref().unwrap()).await.body, invalid_token_error());
    assert_eq!(h.users_me(&new.access).await.status, 200);
    assert_eq!(h.users_me(&other_user.access).await.status, 200);
}

#[tokio::test]
async fn previous_grant_survives_when_the_setting_is_off() {
    let h =
        Harness::with_settings(EmulatorSettings { new_grant_invalidates_previous: false, ..Default::default() }).await;
    let old = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let _new = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.users_me(&old.access).await.status, 200);
    assert_eq!(h.refresh(&h.app, old.refresh.as_deref().unwrap()).await.status, 200);
}

#[tokio::test]
async fn access_token_lives_two_hours() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.advance_time(7199);
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
    h.emulator.advance_time(1);
    let expired = h.users_me(&tokens.access).await;
    assert_eq!((expired.status, expired.body), (401, problem("Unauthorized", 401)));
    assert_eq!(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await.status, 200);
}

#[tokio::test]
async fn refresh_token_expires_after_180_days_absolute_by_default() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.advance_time(100 * DAY);
    let rotated = tokens_of(&h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await);
    h.emulator.advance_time(80 * DAY);
    assert_eq!(h.refresh(&h.app, rotated.refresh.as_deref().unwrap()).await.body, invalid_token_error());
}

#[tokio::test]
async fn sliding_refresh_token_lifetime_when_set() {
    let h = Harness::with_settings(EmulatorSettings { refresh_token_sliding: true, ..Default::default() }).await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.advance_time(100 * DAY);
    let rotated = tokens_of(&h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await);
    h.emulator.advance_time(179 * DAY);
    let reply = h.refresh(&h.app, rotated.refresh.as_deref().unwrap()).await;
    assert_eq!(reply.status, 200);
    h.emulator.advance_time(181 * DAY);
    assert_eq!(h.refresh(&h.app, reply.body["refresh_token"].as_str().unwrap()).await.body, invalid_token_error());
}

#[tokio::test]
async fn revoke_grant_kills_every_token() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let bobs = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    h.emulator.revoke_grant(&h.app.client_id, &h.alice.id);
    assert_eq!(h.users_me(&tokens.access).await.body, problem("Unauthorized", 401));
    assert_eq!(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await.body, invalid_token_error());
    assert_eq!(h.users_me(&bobs.access).await.status, 200);
    // Reconnecting works.
    let again = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.users_me(&again.access).await.status, 200);
}

#[tokio::test]
async fn expire_access_tokens_keeps_refresh_tokens() {
    let h = Harness::start().await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let bob = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    h.emulator.expire_access_tokens(&h.app.client_id, Some(&h.alice.id));
    assert_eq!(h.users_me(&alice.access).await.status, 401);
    assert_eq!(h.users_me(&bob.access).await.status, 200);
    h.emulator.expire_access_tokens(&h.app.client_id, None);
    assert_eq!(h.users_me(&bob.access).await.status, 401);
    let refreshed = tokens_of(&h.refresh(&h.app, alice.refresh.as_deref().unwrap()).await);
    assert_eq!(h.users_me(&refreshed.access).await.status, 200);
}

#[tokio::test]
async fn revoke_endpoint() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let reply = h.revoke(&h.app, &tokens.access, "access_token").await;
    assert_eq!((reply.status, &reply.text[..]), (200, r#"{"revoked":true}"#));
    assert!(reply.header("date").is_some());
    assert_eq!(h.users_me(&tokens.access).await.status, 401);
    let rotated = tokens_of(&h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await);
    assert_eq!(h.users_me(&rotated.access).await.status, 200);

    let reply = h.revoke(&h.app, rotated.refresh.as_deref().unwrap(), "refresh_token").await;
    assert_eq!(reply.body, json!({"revoked": true}));
    assert_eq!(h.refresh(&h.app, rotated.refresh.as_deref().unwrap()).await.body, invalid_token_error());
    assert_eq!(h.users_me(&rotated.access).await.status, 401, "revoking the refresh token ends the grant");

    assert_eq!(h.revoke(&h.app, "unknown", "access_token").await.body, json!({"revoked": true}));
    let unauthenticated = reply_of(
        h.http.post(h.url("/2/oauth2/revoke")).form(&[("token", "x"), ("client_id", h.app.client_id.as_str())]),
    )
    .await;
    assert_eq!(
        (unauthenticated.status, unauthenticated.body),
        (401, oauth_error("unauthorized_client", "Missing valid authorization header"))
    );
    let missing = h.revoke(&h.app, "", "access_token").await;
    assert_eq!(missing.body, oauth_error("invalid_request", "Missing required parameter [token]."));
}

#[tokio::test]
async fn another_app_cannot_revoke_my_tokens() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.revoke(&h.public_app, &tokens.access, "access_token").await.body, json!({"revoked": true}));
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
}

#[tokio::test]
async fn app_registration_rules() {
    let h = Harness::start().await;
    let eleven: Vec<String> = (0..11).map(|i| format!("http://127.0.0.1/cb{i}")).collect();
    let error = h.emulator.create_app(NewApp { callbacks: eleven, ..NewApp::default() }).unwrap_err();
    assert_eq!(error.to_string(), "an app can register at most 10 callback URLs, got 11");
    let ten: Vec<String> = (0..10).map(|i| format!("http://127.0.0.1/cb{i}")).collect();
    assert!(h.emulator.create_app(NewApp { callbacks: ten, ..NewApp::default() }).is_ok());
    assert!(h.emulator.create_app(NewApp { callbacks: vec!["http://a/cb?x=1".into()], ..NewApp::default() }).is_err());
    assert!(h.emulator.create_app(NewApp { callbacks: vec!["/relative".into()], ..NewApp::default() }).is_err());
    let dup = NewApp { client_id: Some(h.app.client_id.clone()), ..NewApp::default() };
    assert!(h.emulator.create_app(dup).is_err());
    let generated = h.emulator.create_app(NewApp { client_type: ClientType::Public, ..NewApp::default() }).unwrap();
    assert_eq!(generated.client_id.len(), 34);
    assert_eq!(generated.client_secret.len(), 50);
}
