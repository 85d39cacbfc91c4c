#![cfg(feature = "ssr")]
//! Publishing through authwatch, against the emulator over real HTTP: a 401
//! is retried exactly once with a fresh token, never a third call; a failure
//! that needs a person holds the post, which goes out once after the
//! reconnect; an idempotency key never lets a post go out twice.

use crate::support as common;
use crate::support::pipeline;

use authwatch::domain::health::Cause;
use authwatch::emulator::{Endpoint, Fault, FaultKind};
use authwatch::server::db::posts;
use authwatch::server::demo::CLIENT_ID;
use common::TestApp;
use pipeline::{account, eventually, published, reconnect_in_browser, timeline, x_calls, Api};
use serde_json::json;

#[tokio::test]
async fn a_401_gets_one_refresh_and_one_retry_then_the_post_is_published() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    // X has expired the token although authwatch thinks it lives for hours.
    app.emulator().expire_access_tokens(CLIENT_ID, Some(&news.x_user_id));
    app.emulator().reset_counts();

    let r = api.publish(&news.id, "first", "Hello from the pipeline").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "published");
    assert_eq!(r.body["x_calls"], 2, "the 401 and the one retry");
    assert!(r.body["x_post_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(x_calls(&app).await, (2, 1), "two calls to POST /2/tweets, one refresh at X");
    assert_eq!(published(&app), vec!["Hello from the pipeline"]);
    let after = account(&app, "acme_news").await;
    assert_eq!(after.generation, news.generation + 1, "the refreshed tokens were saved");
    assert_eq!(after.incident_cause, None);
    let events = timeline(&app, &news.id).await;
    assert_eq!((events[0].0.as_str(), events[0].1.as_str()), ("publish", "ok"));
    assert!(events.iter().any(|e| e.0 == "refresh" && e.1 == "ok"));
}

#[tokio::test]
async fn a_second_401_on_the_fresh_token_stops_with_no_third_call_as_xs_incident() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    // X refuses the first post and the retry with the fresh token.
    app.emulator().inject_fault(Fault::new(Endpoint::Tweets, FaultKind::Status(401)).times(2));
    app.emulator().reset_counts();

    let r = api.publish(&news.id, "k1", "Refused twice").await;
    r.assert_problem(503, "x-unavailable");
    // The refresh was accepted and X refused its token too: X refuses
    // valid tokens. Not the account's fault, so no reconnect, nothing held.
    assert_eq!(r.body["cause"], "x_refuses_valid_tokens");
    assert_eq!(r.body["who"], "nobody");
    assert!(r.body.get("action").is_none());
    assert_eq!(x_calls(&app).await, (2, 1), "one call, one refresh, one retry: no third call");
    assert!(published(&app).is_empty());

    // The stop is on the account as X's incident, with X's exact answer, and nobody is prompted.
    let after = account(&app, "acme_news").await;
    assert_eq!(after.incident_cause.map(Cause::as_str), Some("x_refuses_valid_tokens"));
    assert_eq!(after.incident_status, Some(401));
    assert!(after.incident_x_error.as_deref().is_some_and(|b| b.contains("Unauthorized")), "X's exact body is kept");
    authwatch::server::notify::reconcile(&app.state, authwatch::server::x::now_ms()).await.unwrap();
    let prompts = authwatch::server::db::prompts::for_account(&app.state.pool, &news.id, 5).await.unwrap();
    assert!(prompts.iter().all(|p| p.closed_at.is_some()), "nobody is prompted: {prompts:?}");
    assert!(posts::held(&app.state.pool, &news.id).await.unwrap().is_empty());

    // Sending the same request again (same key) once X accepts tokens: it
    // goes out once, with the token the refresh saved.
    let again = api.publish(&news.id, "k1", "Refused twice").await;
    assert_eq!(
        (again.status, again.body["x_calls"].clone()),
        (201, json!(3)),
        "three calls in all, one of them now: {:?}",
        again.body
    );
    assert_eq!(x_calls(&app).await, (3, 1), "no further refresh");
    assert_eq!(published(&app), vec!["Refused twice"]);
    assert_eq!(account(&app, "acme_news").await.incident_cause, None, "X accepting the token clears it");
}

#[tokio::test]
async fn a_revoked_grant_holds_posts_until_the_reconnect_then_each_is_published_once_in_order() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().revoke_grant(CLIENT_ID, &news.x_user_id);
    app.emulator().reset_counts();

    let first = api.publish(&news.id, "held-1", "Held, first").await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    assert_eq!(
        first.body["cause"], "user_revoked",
        "the 401, then X refused the refresh token and the old access token too"
    );
    assert_eq!(first.body["action"], "reconnect");
    assert_eq!(x_calls(&app).await, (1, 1), "one post, one refresh: the retry never happened without a token");
    let second = api.publish(&news.id, "held-2", "Held, second").await;
    assert_eq!((second.status, second.body["x_calls"].clone()), (202, json!(0)), "held without calling X");
    let held = posts::held(&app.state.pool, &news.id).await.unwrap();
    assert_eq!(held.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(), ["Held, first", "Held, second"]);
    // The token broker refuses a dead grant instead of handing out its token.
    let token = api.get(&format!("/accounts/{}/token", news.id)).await;
    token.assert_problem(409, "person-must-act");
    assert_eq!(token.body["cause"], "user_revoked");
    assert!(token.body.get("access_token").is_none());

    reconnect_in_browser(&app, &news.id, &news.x_user_id).await;

    eventually("both held posts published", || async { published(&app).len() == 2 }).await;
    assert_eq!(published(&app), vec!["Held, first", "Held, second"], "in order, each once");
    assert!(posts::held(&app.state.pool, &news.id).await.unwrap().is_empty());
    // Replaying the first request now answers its publication, and posts nothing.
    let replay = api.publish(&news.id, "held-1", "Held, first").await;
    assert_eq!(replay.status, 201, "{:?}", replay.body);
    assert_eq!(replay.body["status"], "published");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(published(&app).len(), 2, "published once");
}

#[tokio::test]
async fn held_posts_wait_for_a_person_when_configured_so() {
    let app = TestApp::start(vec![("AUTHWATCH_HELD_POSTS", "wait")]).await;
    authwatch::server::demo::seed(&app.state, app.emulator()).await.unwrap();
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().revoke_grant(CLIENT_ID, &news.x_user_id);
    assert_eq!(api.publish(&news.id, "w1", "Waits for a person").await.status, 202);

    reconnect_in_browser(&app, &news.id, &news.x_user_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(published(&app).is_empty(), "not released by the reconnect");
    assert_eq!(posts::held(&app.state.pool, &news.id).await.unwrap().len(), 1);
    let page =
        app.admin().await.get(app.url(&format!("/accounts/{}", news.id))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Held posts") && page.contains("Waits for a person"), "listed on the account page");

    let released = authwatch::server::pipeline::posts::release_held(&app.state, &news.id, "test").await.unwrap();
    assert_eq!((released.published, released.still_held), (1, 0));
    assert_eq!(published(&app), vec!["Waits for a person"]);
}

#[tokio::test]
async fn the_same_idempotency_key_never_posts_twice_even_at_once() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;

    let first = api.publish(&news.id, "once", "Only once").await;
    assert_eq!(first.status, 201);
    let again = api.publish(&news.id, "once", "Only once").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the first answer, replayed");
    assert_eq!(again.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    api.publish(&news.id, "once", "Another text").await.assert_problem(409, "idempotency-key-reused");

    // Twenty identical requests at once: one post at X.
    app.emulator().inject_fault(Fault::new(Endpoint::Tweets, FaultKind::Slow { millis: 300 }).times(1));
    let calls = (0..20).map(|_| {
        let api = api.with_key(&api.key);
        let id = news.id.clone();
        tokio::spawn(async move { api.publish(&id, "burst", "Sent in a burst").await })
    });
    let replies: Vec<_> = futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap()).collect();
    for r in &replies {
        assert!(r.status == 201 || r.status == 409, "{} {:?}", r.status, r.body);
        if r.status == 409 {
            r.assert_problem(409, "request-in-progress");
        }
    }
    assert!(replies.iter().any(|r| r.status == 201));
    assert_eq!(published(&app).iter().filter(|t| *t == "Sent in a burst").count(), 1);
    assert_eq!(published(&app).len(), 2);
}

#[tokio::test]
async fn x_trouble_leaves_the_post_retryable_under_the_same_key_and_content_refusals_are_final() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;

    app.emulator().inject_fault(Fault::new(Endpoint::Tweets, FaultKind::Status(503)).times(1));
    let r = api.publish(&news.id, "outage", "After the outage").await;
    r.assert_problem(503, "x-unavailable");
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(
        account(&app, "acme_news").await.incident_cause.map(Cause::as_str),
        None,
        "X's outage is no reason to reconnect"
    );
    let retried = api.publish(&news.id, "outage", "After the outage").await;
    assert_eq!(retried.status, 201, "the same key tries again after passing trouble: {:?}", retried.body);
    assert_eq!(published(&app), vec!["After the outage"]);

    // An answer lost after sending: maybe posted, so never sent again.
    app.emulator().inject_fault(Fault::new(Endpoint::Tweets, FaultKind::RotateAndDrop).times(1));
    api.publish(&news.id, "lost", "Answer lost").await.assert_problem(502, "outcome-unknown");
    api.publish(&news.id, "lost", "Answer lost").await.assert_problem(502, "outcome-unknown");
    assert_eq!(published(&app).iter().filter(|t| *t == "Answer lost").count(), 1);
}

#[tokio::test]
async fn a_post_whose_request_died_mid_publish_is_never_sent_again_and_frees_its_key() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    // The first request claimed the key a minute ago and never finished (the server stopped).
    let key_id = authwatch::server::db::api_keys::list(&app.state.pool).await.unwrap()[0].id.clone();
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(format!("{}\nInterrupted", news.id).as_bytes()))
    };
    let claimed = posts::NewPost {
        account_id: &news.id,
        api_key_id: &key_id,
        idempotency_key: "crash",
        request_hash: &hash,
        text: "Interrupted",
    };
    let minute_ago = authwatch::server::x::now_ms() - 60_000;
    assert!(matches!(posts::claim(&app.state.pool, &claimed, minute_ago).await.unwrap(), posts::Claim::Mine(_)));

    api.publish(&news.id, "crash", "Interrupted").await.assert_problem(502, "outcome-unknown");
    api.publish(&news.id, "crash", "Interrupted").await.assert_problem(502, "outcome-unknown");
    assert!(published(&app).is_empty(), "maybe posted before the crash: never sent again");
}

/// The account's `discard` events' details, newest first.
async fn discards(app: &TestApp, account_id: &str) -> Vec<(String, String)> {
    authwatch::server::db::events::recent(&app.state.pool, account_id, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.as_str() == "discard")
        .map(|e| (e.actor, e.detail.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn revoking_a_key_on_the_settings_page_cancels_its_held_posts_and_they_never_go_out() {
    use authwatch::api::api_keys::RevokeApiKey;
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await; // its grant is revoked: posts are held
    let leaving = Api::named(&app, "old scheduler", None).await;
    let staying = Api::named(&app, "new scheduler", None).await;
    let gone = leaving.publish(&labs.id, "l1", "Queued by the revoked key").await;
    assert_eq!(gone.status, 202, "{:?}", gone.body);
    assert_eq!(staying.publish(&labs.id, "s1", "Queued by the live key").await.status, 202);

    let admin = app.admin().await;
    let r = admin.post(app.url(RevokeApiKey::PATH)).form(&[("id", leaving.key_id.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let said: String = r.json().await.unwrap();
    assert!(said.contains("1 held post(s) it queued were cancelled"), "{said}");
    let post_id = gone.body["id"].as_i64().unwrap();
    assert_eq!(pipeline::post_status(&app, post_id).await, "cancelled");
    let held = posts::held(&app.state.pool, &labs.id).await.unwrap();
    assert_eq!(held.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(), ["Queued by the live key"]);
    let discarded = discards(&app, &labs.id).await;
    assert_eq!(discarded.len(), 1, "on the account's timeline");
    assert_eq!(discarded[0].0, authwatch::server::demo::ADMIN.email);
    assert!(discarded[0].1.contains("\"old scheduler\"") && discarded[0].1.contains("revoked"), "{}", discarded[0].1);

    app.emulator().reset_counts();
    reconnect_in_browser(&app, &labs.id, &labs.x_user_id).await;
    eventually("the live key's post published", || async { !published(&app).is_empty() }).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(published(&app), vec!["Queued by the live key"], "the revoked key's post never went out");
    assert_eq!(x_calls(&app).await.0, 1, "one post at X");
}

#[tokio::test]
async fn a_release_publishes_nothing_for_a_key_revoked_since_and_cancels_it_on_the_timeline() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let api = Api::new(&app).await;
    let held = api.publish(&labs.id, "r1", "Queued before the key was revoked").await;
    assert_eq!(held.status, 202);
    // Revoked behind the release's back (another process, an old database):
    // the held post is still there.
    authwatch::server::db::api_keys::revoke(&app.state.pool, &api.key_id, authwatch::server::x::now_ms())
        .await
        .unwrap();
    let post_id = held.body["id"].as_i64().unwrap();
    assert_eq!(pipeline::post_status(&app, post_id).await, "held");

    app.emulator().reset_counts();
    reconnect_in_browser(&app, &labs.id, &labs.x_user_id).await;
    let id = post_id;
    eventually("the post is cancelled", || async { pipeline::post_status(&app, id).await == "cancelled" }).await;
    assert!(published(&app).is_empty(), "never published in the brand's name");
    assert_eq!(x_calls(&app).await.0, 0, "no post at X");
    let discarded = discards(&app, &labs.id).await;
    assert_eq!(discarded.len(), 1);
    assert!(discarded[0].1.contains(&api.key_id) && discarded[0].1.contains("revoked"), "{}", discarded[0].1);
}

#[tokio::test]
async fn publishing_held_posts_by_hand_rechecks_each_posts_key() {
    use authwatch::api::held::ReleaseHeldPosts;
    use leptos::server_fn::ServerFn;
    let app = TestApp::start(vec![("AUTHWATCH_HELD_POSTS", "wait")]).await;
    authwatch::server::demo::seed(&app.state, app.emulator()).await.unwrap();
    let news = account(&app, "acme_news").await;
    let revoked = Api::named(&app, "revoked", None).await;
    let live = Api::named(&app, "live", None).await;
    app.emulator().revoke_grant(CLIENT_ID, &news.x_user_id);
    assert_eq!(revoked.publish(&news.id, "a", "From the revoked key").await.status, 202);
    assert_eq!(live.publish(&news.id, "b", "From the live key").await.status, 202);
    authwatch::server::db::api_keys::revoke(&app.state.pool, &revoked.key_id, authwatch::server::x::now_ms())
        .await
        .unwrap();
    reconnect_in_browser(&app, &news.id, &news.x_user_id).await;
    assert!(published(&app).is_empty(), "waiting for a person");

    let r = app
        .admin()
        .await
        .post(app.url(ReleaseHeldPosts::PATH))
        .form(&[("account_id", news.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let said: String = r.json().await.unwrap();
    assert!(said.contains("Published 1") && said.contains("1 cancelled"), "{said}");
    assert_eq!(published(&app), vec!["From the live key"]);
    assert_eq!(discards(&app, &news.id).await.len(), 1);
}

#[tokio::test]
async fn a_post_left_publishing_by_a_dead_replica_becomes_unknown_without_anyone_asking() {
    let app = TestApp::builder()
        .demo()
        .var("AUTHWATCH_SWEEP_INTERVAL_SECS", "1")
        .var("AUTHWATCH_X_TIMEOUT_SECS", "1")
        .start()
        .await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    let key_id = authwatch::server::db::api_keys::list(&app.state.pool).await.unwrap()[0].id.clone();
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(format!("{}\nSent by a replica that died", news.id).as_bytes()))
    };
    let claimed = posts::NewPost {
        account_id: &news.id,
        api_key_id: &key_id,
        idempotency_key: "died-with-its-replica",
        request_hash: &hash,
        text: "Sent by a replica that died",
    };
    // Claimed a minute ago by a replica that then died; nobody retries it.
    let minute_ago = authwatch::server::x::now_ms() - 60_000;
    let posts::Claim::Mine(id) = posts::claim(&app.state.pool, &claimed, minute_ago).await.unwrap() else {
        panic!("a fresh key is claimed");
    };
    assert_eq!(pipeline::post_status(&app, id).await, "publishing");
    // One whose request is under way right now.
    let fresh = posts::NewPost { idempotency_key: "under-way", text: "Being sent now", ..claimed };
    let posts::Claim::Mine(fresh) =
        posts::claim(&app.state.pool, &fresh, authwatch::server::x::now_ms()).await.unwrap()
    else {
        panic!("a fresh key is claimed");
    };
    eventually("the stale post is unknown", || async { pipeline::post_status(&app, id).await == "unknown" }).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(pipeline::post_status(&app, fresh).await, "publishing", "a post being sent is left alone");
    // Its key answers that the outcome is unknown, and nothing is sent again.
    api.publish(&news.id, "died-with-its-replica", "Sent by a replica that died")
        .await
        .assert_problem(502, "outcome-unknown");
    assert!(published(&app).is_empty());
}
