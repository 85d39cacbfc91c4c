//! The emulator's v2 endpoints against X's behaviour (docs/x-behaviour.md): bodies, scopes, problem
//! errors, headers, rate limits, the `date` header's clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::*;
use authwatch_emulator::{EmulatorSettings, NewApp};
use serde_json::json;

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn header_u64(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} not a number"))
}

fn assert_common_headers(reply: &Reply) {
    assert!(httpdate::parse_http_date(reply.header("date").expect("date")).is_ok());
    assert_eq!(reply.header("x-transaction-id").map(str::len), Some(16));
    reply.header("x-response-time").expect("x-response-time").parse::<u64>().expect("ms");
}

#[tokio::test]
async fn users_me_answers_the_user_with_xs_headers() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    let me = h.users_me(&tokens.access).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.text, r#"{"data":{"id":"42","name":"Bob B","username":"bob"}}"#);
    assert!(me.header("content-type").unwrap().starts_with("application/json"));
    assert_common_headers(&me);
    assert_eq!(header_u64(&me, "x-rate-limit-limit"), 75);
    assert_eq!(header_u64(&me, "x-rate-limit-remaining"), 74);
    let reset = header_u64(&me, "x-rate-limit-reset");
    assert!((unix_now() + 895..=unix_now() + 901).contains(&reset), "{reset}");
    let again = h.users_me(&tokens.access).await;
    assert_eq!(header_u64(&again, "x-rate-limit-remaining"), 73);
    assert_eq!(header_u64(&again, "x-rate-limit-reset"), reset);
}

#[tokio::test]
async fn missing_unknown_or_malformed_token_is_401() {
    let h = Harness::start().await;
    let expected = problem("Unauthorized", 401);
    let none = reply(h.http.get(h.url("/2/users/me")).send().await.unwrap()).await;
    assert_eq!((none.status, &none.body), (401, &expected));
    assert_eq!(none.header("content-type"), Some("application/problem+json"));
    assert_common_headers(&none);
    assert_eq!(header_u64(&none, "x-rate-limit-limit"), 75);
    let unknown = h.users_me("bm90LWEtdG9rZW4").await;
    assert_eq!((unknown.status, &unknown.body), (401, &expected));
    assert_eq!(unknown.text, r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#);
    let basic =
        reply(h.http.get(h.url("/2/users/me")).header("authorization", basic(&h.app)).send().await.unwrap()).await;
    assert_eq!((basic.status, &basic.body), (401, &expected));
    let post = h.tweet("nope", r#"{"text":"x"}"#).await;
    assert_eq!((post.status, &post.body), (401, &expected));
}

#[tokio::test]
async fn users_me_needs_tweet_read_and_users_read() {
    let h = Harness::start().await;
    for scope in ["users.read offline.access", "tweet.read"] {
        let tokens = h.connect(&h.app, &h.alice, scope).await;
        let me = h.users_me(&tokens.access).await;
        assert_eq!(me.status, 403, "{scope}");
        assert_eq!(me.text, r#"{"title":"Forbidden","type":"about:blank","status":403,"detail":"Forbidden"}"#);
        assert_eq!(me.header("content-type"), Some("application/problem+json"));
    }
    let tokens = h.connect(&h.app, &h.alice, "tweet.read users.read").await;
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
}

#[tokio::test]
async fn posting_answers_201_with_the_post() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let post = h.tweet(&tokens.access, r#"{"text":"Hello from the pipeline"}"#).await;
    assert_eq!(post.status, 201, "{}", post.text);
    let id = post.body["data"]["id"].as_str().unwrap().to_owned();
    assert!(id.len() >= 18 && id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert_eq!(
        post.body,
        json!({"data": {"id": id, "text": "Hello from the pipeline", "edit_history_tweet_ids": [id]}})
    );
    assert_common_headers(&post);
    assert_eq!(header_u64(&post, "x-rate-limit-limit"), 100);
    assert_eq!(header_u64(&post, "x-rate-limit-remaining"), 99);
    assert_eq!(header_u64(&post, "x-app-limit-24hour-limit"), 10_000);
    assert_eq!(header_u64(&post, "x-app-limit-24hour-remaining"), 9_999);
    assert!(header_u64(&post, "x-app-limit-24hour-reset") >= unix_now() + 86_390);
    assert_eq!(header_u64(&post, "x-user-limit-24hour-limit"), 2_400);
    assert_eq!(header_u64(&post, "x-user-limit-24hour-remaining"), 2_399);
    let second = h.tweet(&tokens.access, r#"{"text":"Second"}"#).await;
    assert!(second.body["data"]["id"].as_str().unwrap() > id.as_str());
    let posted = h.emulator.tweets();
    assert_eq!(posted.len(), 2);
    assert_eq!(
        (posted[0].author_id.as_str(), posted[0].client_id.as_str()),
        (h.alice.id.as_str(), h.app.client_id.as_str())
    );
}

#[tokio::test]
async fn posting_needs_tweet_write() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, "tweet.read users.read offline.access").await;
    let post = h.tweet(&tokens.access, r#"{"text":"x"}"#).await;
    assert_eq!((post.status, post.body), (403, problem("Forbidden", 403)));
    assert!(h.emulator.tweets().is_empty());
}

#[tokio::test]
async fn bad_post_bodies_are_400_invalid_request() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let too_long = json!({ "text": "é".repeat(281) }).to_string();
    for body in ["not json", "[1]", "{}", r#"{"text":""}"#, r#"{"text":5}"#, too_long.as_str()] {
        let post = h.tweet(&tokens.access, body).await;
        assert_eq!(post.status, 400, "{body}");
        assert_eq!(post.header("content-type"), Some("application/problem+json"));
        assert_eq!(post.body["title"], "Invalid Request");
        assert_eq!(post.body["detail"], "One or more parameters to your request was invalid.");
        assert_eq!(post.body["type"], "https://api.x.com/2/problems/invalid-request");
        assert_eq!(post.body["errors"].as_array().map(Vec::len), Some(1), "{}", post.text);
        assert!(post.body["errors"][0]["message"].is_string());
        assert!(post.text.starts_with(r#"{"title":"Invalid Request","detail":"#), "{}", post.text);
    }
    let longest = json!({ "text": "é".repeat(280) }).to_string();
    assert_eq!(h.tweet(&tokens.access, &longest).await.status, 201);
}

#[tokio::test]
async fn users_me_rate_limit_answers_429_until_the_window_ends() {
    let h = Harness::with_settings(EmulatorSettings { users_me_limit: 2, ..Default::default() }).await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let other = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    assert_eq!(h.users_me(&tokens.access).await.status, 200);
    let last = h.users_me(&tokens.access).await;
    assert_eq!(header_u64(&last, "x-rate-limit-remaining"), 0);
    let limited = h.users_me(&tokens.access).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.text,
        r#"{"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"}"#
    );
    assert_eq!(limited.header("content-type"), Some("application/problem+json"));
    assert_eq!(header_u64(&limited, "x-rate-limit-limit"), 2);
    assert_eq!(header_u64(&limited, "x-rate-limit-remaining"), 0);
    assert_eq!(header_u64(&limited, "x-rate-limit-reset"), header_u64(&last, "x-rate-limit-reset"));
    assert_eq!(h.users_me(&other.access).await.status, 200, "limits are per user");
    // Refreshing does not reset a user's window.
    let refreshed = tokens_of_reply(h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await);
    assert_eq!(h.users_me(&refreshed).await.status, 429);
    h.emulator.advance_time(900);
    assert_eq!(h.users_me(&refreshed).await.status, 200);
}

fn tokens_of_reply(reply: Reply) -> String {
    reply.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tweets_per_app_daily_limit() {
    let settings =
        EmulatorSettings { tweets_limit_per_app_24h: 2, access_token_ttl_secs: 2 * 86_400, ..Default::default() };
    let h = Harness::with_settings(settings).await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let bob = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    assert_eq!(h.tweet(&alice.access, r#"{"text":"1"}"#).await.status, 201);
    assert_eq!(h.tweet(&bob.access, r#"{"text":"2"}"#).await.status, 201);
    let limited = h.tweet(&alice.access, r#"{"text":"3"}"#).await;
    assert_eq!((limited.status, limited.body.clone()), (429, problem("Too Many Requests", 429)));
    assert_eq!(header_u64(&limited, "x-app-limit-24hour-remaining"), 0);
    assert_eq!(header_u64(&limited, "x-rate-limit-remaining"), 99, "the user's window is not what ran out");
    h.emulator.advance_time(24 * 3600);
    assert_eq!(h.tweet(&alice.access, r#"{"text":"3"}"#).await.status, 201);
}

#[tokio::test]
async fn tweets_per_user_window_limit() {
    let h = Harness::with_settings(EmulatorSettings { tweets_limit_per_user: 1, ..Default::default() }).await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    assert_eq!(h.tweet(&alice.access, r#"{"text":"1"}"#).await.status, 201);
    let limited = h.tweet(&alice.access, r#"{"text":"2"}"#).await;
    assert_eq!(limited.status, 429);
    assert_eq!(header_u64(&limited, "x-rate-limit-remaining"), 0);
    assert_eq!(h.emulator.tweets().len(), 1);
}

#[tokio::test]
async fn date_header_follows_the_clock_offset_only() {
    let h = Harness::start().await;
    let tokens = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    h.emulator.set_clock_offset(-3600);
    h.emulator.advance_time(60);
    let me = h.users_me(&tokens.access).await;
    let date = httpdate::parse_http_date(me.header("date").unwrap()).unwrap();
    let expected = SystemTime::now() - Duration::from_secs(3600);
    let drift = expected.duration_since(date).unwrap_or_else(|e| e.duration());
    assert!(drift <= Duration::from_secs(2), "date {date:?}");
    // Reset times are on the same clock as `date`.
    let reset = header_u64(&me, "x-rate-limit-reset");
    let date_secs = date.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!((date_secs + 899..=date_secs + 901).contains(&reset), "{reset} vs {date_secs}");
    let token_call = h.refresh(&h.app, tokens.refresh.as_deref().unwrap()).await;
    let token_date = httpdate::parse_http_date(token_call.header("date").unwrap()).unwrap();
    assert!(expected.duration_since(token_date).unwrap_or_else(|e| e.duration()) <= Duration::from_secs(2));
    h.emulator.set_clock_offset(0);
    let me = h.users_me(&tokens.access).await;
    let date = httpdate::parse_http_date(me.header("date").unwrap()).unwrap();
    assert!(SystemTime::now().duration_since(date).unwrap_or_else(|e| e.duration()) <= Duration::from_secs(2));
}

#[tokio::test]
async fn app_outside_a_project_gets_client_forbidden() {
    let h = Harness::start().await;
    let app = h
        .emulator
        .create_app(NewApp {
            name: "Loose".into(),
            callbacks: vec![CALLBACK.into()],
            in_project: false,
            ..NewApp::default()
        })
        .unwrap();
    let tokens = h.connect(&app, &h.alice, ALL_SCOPES).await;
    let me = h.users_me(&tokens.access).await;
    assert_eq!(me.status, 403);
    assert_eq!(me.header("content-type"), Some("application/problem+json"));
    let body = me.body.as_object().unwrap();
    assert_eq!(body["client_id"], app.client_id.as_str());
    assert_eq!(body["title"], "Client Forbidden");
    assert_eq!(body["reason"], "client-not-enrolled");
    assert_eq!(body["type"], "https://api.x.com/2/problems/client-forbidden");
    assert_eq!(body["required_enrollment"], "Appropriate Level of API Access");
    assert!(body["detail"].as_str().unwrap().starts_with(
        "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project."
    ));
    assert!(body["registration_url"].is_string());
    assert_eq!(h.tweet(&tokens.access, r#"{"text":"x"}"#).await.status, 403);
}
