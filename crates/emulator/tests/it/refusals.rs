//! The emulator reproduces X's failures that are not the account's
//! (docs/x-behaviour.md): access tokens refused early, X's auth outage, duplicate
//! posts, credits depleted, and a copy of the tokens spending the refresh
//! token — each over HTTP through the control API, with call counts.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn control(h: &Harness, method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = h.http.request(method, h.url(&format!("/_control{path}")));
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request.send().await.unwrap()).await
}

async fn counts(h: &Harness) -> Value {
    control(h, Method::GET, "/counts", None).await.body
}

#[tokio::test]
async fn access_tokens_refused_early_one_or_all_of_an_apps_while_refresh_tokens_work() {
    let h = Harness::start().await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let bob = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    let other_app = h.connect(&h.public_app, &h.alice, ALL_SCOPES).await;

    // One token.
    let one = control(&h, Method::POST, "/tokens/invalidate", Some(json!({"access_token": alice.access}))).await;
    assert_eq!((one.status, one.body.clone()), (200, json!({"invalidated": 1})));
    let refused = h.users_me(&alice.access).await;
    assert_eq!((refused.status, refused.body), (401, problem("Unauthorized", 401)));
    assert_eq!(h.users_me(&bob.access).await.status, 200, "only that token");
    // Its refresh token still works, and the new access token too.
    let fresh = tokens(&h.refresh(&h.app, alice.refresh.as_deref().unwrap()).await);
    assert_eq!(h.users_me(&fresh.access).await.status, 200);
    let again = control(&h, Method::POST, "/tokens/invalidate", Some(json!({"access_token": alice.access}))).await;
    assert_eq!(again.body, json!({"invalidated": 0}), "a dead token does not die twice");

    // All of an app's.
    let all = control(&h, Method::POST, "/tokens/invalidate", Some(json!({"client_id": h.app.client_id}))).await;
    assert_eq!(all.body, json!({"invalidated": 2}), "bob's and alice's fresh one");
    assert_eq!(h.users_me(&bob.access).await.status, 401);
    assert_eq!(h.users_me(&fresh.access).await.status, 401);
    assert_eq!(h.users_me(&other_app.access).await.status, 200, "another app's tokens live on");
    assert_eq!(h.refresh(&h.app, bob.refresh.as_deref().unwrap()).await.status, 200);

    let unknown = control(&h, Method::POST, "/tokens/invalidate", Some(json!({"client_id": "nope"}))).await;
    assert_eq!(unknown.status, 404);
    let c = counts(&h).await;
    assert_eq!(c["by_client"][&h.app.client_id]["users_me"], 5);
    assert_eq!(c["by_client"][&h.app.client_id]["refresh_grants"], 2);
}

#[tokio::test]
async fn an_auth_outage_refuses_every_token_even_fresh_ones_while_refreshes_work() {
    let h = Harness::start().await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let injected = control(&h, Method::POST, "/faults", Some(json!({"endpoint": "v2", "kind": "auth_outage"}))).await;
    assert_eq!(injected.status, 204, "{}", injected.text);

    let me = h.users_me(&alice.access).await;
    assert_eq!((me.status, me.body.clone()), (401, problem("Unauthorized", 401)));
    assert_eq!(me.text, r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#);
    assert!(me.header("x-rate-limit-remaining").is_some() && me.header("date").is_some());
    let post = h.tweet(&alice.access, r#"{"text":"during the outage"}"#).await;
    assert_eq!((post.status, post.body), (401, problem("Unauthorized", 401)));
    // The token endpoint works: a refresh succeeds, and its token is refused too.
    let refreshed = h.refresh(&h.app, alice.refresh.as_deref().unwrap()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let fresh = tokens(&refreshed);
    assert_eq!(h.users_me(&fresh.access).await.status, 401);
    assert!(h.emulator.tweets().is_empty());

    let c = counts(&h).await;
    assert_eq!(
        (c["total"]["users_me"].as_u64(), c["total"]["tweets"].as_u64(), c["total"]["refresh_grants"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    // Over: the fresh token works (the old one was never really dead either).
    assert_eq!(control(&h, Method::DELETE, "/faults", None).await.status, 204);
    assert_eq!(h.users_me(&fresh.access).await.status, 200);
    assert_eq!(h.users_me(&alice.access).await.status, 200);
}

#[tokio::test]
async fn a_duplicate_post_is_refused_with_xs_exact_body_unless_set_otherwise() {
    let h = Harness::start().await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let bob = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    assert_eq!(h.tweet(&alice.access, r#"{"text":"Same words"}"#).await.status, 201);
    let again = h.tweet(&alice.access, r#"{"text":"Same words"}"#).await;
    assert_eq!(again.status, 403);
    assert_eq!(
        again.text,
        r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#
    );
    assert_eq!(again.header("content-type"), Some("application/problem+json"));
    // Another account may say the same; the same account something else.
    assert_eq!(h.tweet(&bob.access, r#"{"text":"Same words"}"#).await.status, 201);
    assert_eq!(h.tweet(&alice.access, r#"{"text":"Other words"}"#).await.status, 201);
    assert_eq!(h.emulator.tweets().len(), 3);

    let patched = control(&h, Method::PATCH, "/settings", Some(json!({"reject_duplicate_posts": false}))).await;
    assert_eq!((patched.status, patched.body["reject_duplicate_posts"].clone()), (200, json!(false)));
    assert_eq!(h.tweet(&alice.access, r#"{"text":"Same words"}"#).await.status, 201);
    assert_eq!(counts(&h).await["total"]["tweets"], 5, "refused calls count too");
}

#[tokio::test]
async fn credits_depleted_refuses_every_v2_call_of_the_app_with_xs_exact_body() {
    let h = Harness::start().await;
    let alice = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let other = h.connect(&h.public_app, &h.bob, ALL_SCOPES).await;
    let fault = json!({"endpoint": "v2", "kind": "credits_depleted", "client_id": h.app.client_id});
    assert_eq!(control(&h, Method::POST, "/faults", Some(fault)).await.status, 204);
    let body = r#"{"title":"Payment Required","detail":"credits depleted","type":"https://api.x.com/2/problems/credits-depleted"}"#;
    for answer in [h.users_me(&alice.access).await, h.tweet(&alice.access, r#"{"text":"paid"}"#).await] {
        assert_eq!((answer.status, answer.text.as_str()), (402, body));
        assert_eq!(answer.header("content-type"), Some("application/problem+json"));
    }
    // The token endpoint is not billed per call, and another app has credits.
    assert_eq!(h.refresh(&h.app, alice.refresh.as_deref().unwrap()).await.status, 200);
    assert_eq!(h.users_me(&other.access).await.status, 200);
    assert!(h.emulator.tweets().is_empty());
    let c = counts(&h).await;
    assert_eq!(
        (c["by_client"][&h.app.client_id]["users_me"].as_u64(), c["by_client"][&h.app.client_id]["tweets"].as_u64()),
        (Some(1), Some(1))
    );
    let listed = control(&h, Method::GET, "/faults", None).await;
    assert_eq!(listed.body[0]["kind"], "credits_depleted");
    assert_eq!(listed.body[0]["endpoint"], "v2");
}

#[tokio::test]
async fn a_second_client_spending_the_refresh_token_leaves_the_old_access_token_working() {
    let h = Harness::start().await;
    let ours = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    // The copy (a restored backup, a second environment) refreshes first.
    let theirs = h.refresh(&h.app, ours.refresh.as_deref().unwrap()).await;
    assert_eq!(theirs.status, 200);
    // Ours is spent, X says so in its one way, yet our access token works.
    let spent = h.refresh(&h.app, ours.refresh.as_deref().unwrap()).await;
    assert_eq!((spent.status, spent.body), (400, invalid_token_error()));
    assert_eq!(h.users_me(&ours.access).await.status, 200);
    assert_eq!(counts(&h).await["total"]["refresh_grants"], 2);

    // Set otherwise, a refresh ends the grant's earlier access tokens.
    let patched =
        control(&h, Method::PATCH, "/settings", Some(json!({"refresh_keeps_previous_access_token": false}))).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let bob = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    let copy = tokens(&h.refresh(&h.app, bob.refresh.as_deref().unwrap()).await);
    assert_eq!(h.users_me(&bob.access).await.status, 401);
    assert_eq!(h.users_me(&copy.access).await.status, 200);
}
