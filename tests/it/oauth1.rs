#![cfg(feature = "ssr")]
//! Accounts connected with OAuth 1.0a, end to end: the 3-legged flow in a
//! browser session through the real router, the emulator verifying every
//! signature over HTTP, checks whose verdicts wait for a second signed
//! call, the app-level causes (a regenerated or wrong consumer key, the
//! clock), and the publish proxy signing for the pipeline.

use crate::support as common;

use authwatch::domain::flow::Flow;
use authwatch::domain::health::{diagnose, Action, Cause, Health};
use authwatch::emulator::{ClientType, Emulator, EmulatorSettings, Endpoint, Fault, FaultKind, NewApp, NewUser};
use authwatch::server::db::accounts::{self, OAUTH1_NEVER_EXPIRES_AT};
use authwatch::server::db::{apps, posts, prompts};
use authwatch::server::demo::CLIENT_ID;
use authwatch::server::lifecycle::check::{check, Checked, Proof};
use authwatch::server::x::now_ms;
use common::oauth::{account, land, location, token_rows};
use common::pipeline::Api;
use common::TestApp;
use reqwest::Client;

/// The demo's X user that authwatch has not connected.
const CAREERS: &str = "1600000000000000101";

/// Posts the connect form with `form` plus `flow=oauth1`; returns X's authorize URL.
async fn start1(app: &TestApp, browser: &Client, form: &[(&str, &str)]) -> String {
    let mut form = form.to_vec();
    form.push(("flow", "oauth1"));
    let r = browser.post(app.url("/auth/x/start")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303, "the 1.0a connect starts");
    let to = location(&r);
    assert!(to.contains("/x-emulator/oauth/authorize?oauth_token="), "{to}");
    to
}

/// Answers the emulator's 1.0a consent page as `user_id`; returns the callback X redirects to.
async fn consent1(browser: &Client, authorize_url: &str, user_id: &str, action: &str) -> String {
    common::oauth::consent_answered(browser, authorize_url, user_id, action, 303).await
}

/// Connects the demo's `x_user_id` with OAuth 1.0a as the admin; returns the account id.
async fn connect1(app: &TestApp, x_user_id: &str, handle: &str) -> String {
    let browser = app.admin().await;
    let to_x = start1(app, &browser, &[]).await;
    let back = consent1(&browser, &to_x, x_user_id, "authorize").await;
    assert!(back.contains("/auth/x1/callback?") && back.contains("oauth_verifier="), "{back}");
    let (page, html) = land(app, &browser, &back).await;
    assert_eq!(page, "/", "{html}");
    assert!(html.contains(&format!("Connected @{handle}")), "the dashboard says so");
    account(app, handle).await.id
}

async fn new_user(app: &TestApp, id: &str, handle: &str) {
    app.emulator().create_user(NewUser { id: Some(id.into()), username: handle.into(), name: handle.into() });
}

async fn health(app: &TestApp, account_id: &str) -> (Health, Option<Cause>) {
    let s = accounts::summary(&app.state.pool, account_id).await.unwrap().unwrap();
    let facts = apps::facts(&app.state.pool, CLIENT_ID).await.unwrap();
    let d = diagnose(&s.facts(), &facts, &app.state.x.app().required_scopes, now_ms(), &app.state.policy);
    (d.health, d.cause)
}

#[tokio::test]
async fn the_connect_page_offers_both_flows_and_says_what_each_means() {
    let app = TestApp::empty_demo().await;
    let html = app.admin().await.get(app.url("/connect")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"value="oauth2""#) && html.contains(r#"value="oauth1""#), "{html}");
    assert!(
        html.contains("never expires; dies only when revoked or the app&#x27;s keys change")
            || html.contains("never expires; dies only when revoked or the app's keys change"),
        "{html}"
    );
    // A flow nobody offers is refused before anything happens.
    let r = app.admin().await.post(app.url("/auth/x/start")).form(&[("flow", "oauth3")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_1_0a_connect_saves_a_token_that_never_expires_and_a_check_signs_for_it() {
    let app = TestApp::empty_demo().await;
    let id = connect1(&app, CAREERS, "acme_careers").await;
    let s = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap();
    assert_eq!(s.flow, Flow::OAuth1);
    assert_eq!(s.expires_at, OAUTH1_NEVER_EXPIRES_AT);
    assert!(!s.has_refresh_token, "1.0a has nothing to refresh with");
    // Sealed at rest: neither the token nor its secret is in the database.
    let bytes = app.database_bytes().await;
    let haystack = String::from_utf8_lossy(&bytes);
    for secret in app.emulator().issued_secrets() {
        assert!(!haystack.contains(&secret), "a 1.0a secret ({} chars) is stored in the clear", secret.len());
    }
    assert_eq!(health(&app, &id).await.0, Health::Healthy, "X answered users/me at the connect");

    app.emulator().reset_counts();
    assert_eq!(check(&app.state, &id, "test", Proof::AskX).await.unwrap(), Checked::Alive);
    let counts = app.emulator().counts().client(CLIENT_ID).clone();
    assert_eq!(counts.users_me_oauth1, 1, "a signed users/me: {counts:?}");
    assert_eq!(counts.verify_credentials, 0, "nothing to confirm");

    // The dashboard: the auth column, "does not expire", the filter, the advice.
    let html = app.admin().await.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"class="flow oauth1""#) && html.contains("OAuth 1.0a"), "{html}");
    assert!(html.contains("does not expire"));
    assert!(html.contains("Move to OAuth 2.0"));
    let only = app.admin().await.get(app.url("/?flow=oauth1")).send().await.unwrap().text().await.unwrap();
    assert!(only.contains(r#"data-account="acme_careers""#));
    assert!(!only.contains(r#"data-account="acme_news""#), "the filter keeps 1.0a accounts only");
    for secret in app.emulator().issued_secrets() {
        assert!(!html.contains(&secret) && !only.contains(&secret), "a secret reached a page");
    }
    // The account page: no "Refresh now", and how to move to OAuth 2.0.
    let page = app.admin().await.get(app.url(&format!("/accounts/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("Refresh now"), "nothing to refresh");
    assert!(page.contains("does not expire (OAuth 1.0a)") && page.contains("To move it to OAuth 2.0"));
    // A refresh asked for anyway does nothing at X and condemns nothing.
    app.emulator().reset_counts();
    let refreshed = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();
    assert!(matches!(refreshed, authwatch::server::lifecycle::refresh::Refreshed::NotDue { .. }));
    assert_eq!(app.emulator().counts().client(CLIENT_ID).token, 0);
    assert_eq!(health(&app, &id).await.0, Health::Healthy);
}

#[tokio::test]
async fn the_1_0a_callback_is_single_use_bound_to_the_browser_and_cancel_saves_nothing() {
    let app = TestApp::empty_demo().await;
    let browser = app.admin().await;
    let to_x = start1(&app, &browser, &[]).await;
    let back = consent1(&browser, &to_x, CAREERS, "authorize").await;
    // Another browser (another session) with the same answer: not its attempt.
    let stranger = app.admin().await;
    let r = stranger.get(&back).send().await.unwrap();
    assert_eq!(location(&r), "/connect/result?problem=unknown-state");
    assert!(token_rows(&app).await.is_empty(), "nothing saved for a stranger");
    // The right browser, twice: once only.
    let (page, _) = land(&app, &browser, &back).await;
    assert_eq!(page, "/");
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(location(&r), "/connect/result?problem=unknown-state", "a replayed callback is refused");
    assert_eq!(token_rows(&app).await.len(), 1);

    // Cancel on X: X sends `denied=<request token>`; nothing changes.
    let to_x = start1(&app, &browser, &[]).await;
    let back = consent1(&browser, &to_x, CAREERS, "cancel").await;
    assert!(back.contains("denied="), "{back}");
    let before = token_rows(&app).await;
    let (page, html) = land(&app, &browser, &back).await;
    assert_eq!(page, "/connect/result");
    assert!(html.contains("Authorization cancelled"), "{html}");
    assert_eq!(token_rows(&app).await, before);
}

#[tokio::test]
async fn a_1_0a_reconnect_as_another_x_account_is_refused_and_as_itself_heals_the_account() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    assert!(labs.incident_cause.is_some(), "revoked in the demo");
    let before = token_rows(&app).await;
    let browser = app.admin().await;
    let to_x = start1(&app, &browser, &[("account_id", &labs.id)]).await;
    let back = consent1(&browser, &to_x, CAREERS, "authorize").await;
    let (page, html) = land(&app, &browser, &back).await;
    assert_eq!(page, "/connect/result");
    assert!(
        html.contains(
            "You signed in to X as @acme_careers, but this reconnect is for @acme_labs. Sign out of X (or switch account) and try again. Nothing was saved"
        ),
        "{html}"
    );
    assert_eq!(token_rows(&app).await, before, "nothing saved");

    let to_x = start1(&app, &browser, &[("account_id", &labs.id)]).await;
    let back = consent1(&browser, &to_x, &labs.x_user_id, "authorize").await;
    let (page, html) = land(&app, &browser, &back).await;
    assert_eq!(page, "/", "{html}");
    assert!(html.contains("Reconnected @acme_labs"));
    let after = account(&app, "acme_labs").await;
    assert_eq!((after.flow, after.generation, after.incident_cause), (Flow::OAuth1, labs.generation + 1, None));
    assert_eq!(health(&app, &labs.id).await.0, Health::Healthy);
}

#[tokio::test]
async fn a_revoked_1_0a_token_is_confirmed_by_a_second_signed_call_before_its_owner_is_asked() {
    let app = TestApp::empty_demo().await;
    let id = connect1(&app, CAREERS, "acme_careers").await;
    app.emulator().revoke_grant(CLIENT_ID, CAREERS);
    app.emulator().reset_counts();
    let checked = check(&app.state, &id, "test", Proof::AskX).await.unwrap();
    assert_eq!(checked, Checked::Failed { cause: Cause::Oauth1TokenInvalid });
    let counts = app.emulator().counts().client(CLIENT_ID).clone();
    assert_eq!((counts.users_me_oauth1, counts.verify_credentials), (1, 1), "{counts:?}");
    assert_eq!(health(&app, &id).await, (Health::ActionNeeded(Action::Reconnect), Some(Cause::Oauth1TokenInvalid)));
    let timeline = authwatch::server::db::events::recent(&app.state.pool, &id, 5).await.unwrap();
    let details: Vec<&str> = timeline.iter().filter_map(|e| e.detail.as_deref()).collect();
    assert!(details.iter().any(|d| d.contains("confirming with a second signed call")), "{details:?}");
    assert!(details.iter().any(|d| d.contains("a second signed call confirmed why")), "{details:?}");
    let event = authwatch::server::db::events::recent(&app.state.pool, &id, 1).await.unwrap().remove(0);
    assert!(event.x_error.as_deref().is_some_and(|e| e.contains("89")), "X's words are kept: {:?}", event.x_error);
    authwatch::server::notify::reconcile(&app.state, now_ms()).await.unwrap();
    let open: Vec<String> = prompts::open(&app.state.pool).await.unwrap().into_iter().map(|p| p.subject).collect();
    assert!(open.contains(&format!("account:{id}")), "the owner is asked: {open:?}");
}

#[tokio::test]
async fn a_v2_refusal_of_a_working_1_0a_token_sends_nobody_to_reconnect() {
    let app = TestApp::empty_demo().await;
    let id = connect1(&app, CAREERS, "acme_careers").await;
    // X's own auth outage: v2 refuses every token, 1.0a ones included.
    app.emulator().inject_fault(Fault {
        endpoint: Endpoint::V2,
        kind: FaultKind::AuthOutage,
        times: None,
        grant: None,
        client_id: None,
    });
    let checked = check(&app.state, &id, "test", Proof::AskX).await.unwrap();
    assert_eq!(checked, Checked::Failed { cause: Cause::XRefusesValidTokens });
    let (h, _) = health(&app, &id).await;
    assert!(!h.needs_person(), "{h:?}");
}

#[tokio::test]
async fn a_regenerated_consumer_key_kills_every_1_0a_account_at_once_and_is_named_once() {
    let app = TestApp::demo().await;
    new_user(&app, "1600000000000000102", "acme_press").await;
    let careers = connect1(&app, CAREERS, "acme_careers").await;
    let press = connect1(&app, "1600000000000000102", "acme_press").await;
    // The admin regenerated the key at X and gave authwatch the new one,
    // which is the one it has: every token issued before dies (code 89).
    let c = app.state.x.oauth1().unwrap();
    app.emulator()
        .set_consumer_key(CLIENT_ID, Some(c.consumer_key.clone()), Some(c.consumer_secret.expose().to_owned()))
        .unwrap();
    for id in [&careers, &press] {
        let checked = check(&app.state, id, "test", Proof::AskX).await.unwrap();
        assert_eq!(checked, Checked::Failed { cause: Cause::Oauth1TokenInvalid });
    }
    let facts = apps::facts(&app.state.pool, CLIENT_ID).await.unwrap();
    assert!(facts.oauth1_keys_regenerated_since.is_some(), "{facts:?}");
    for id in [&careers, &press] {
        assert_eq!(
            health(&app, id).await,
            (Health::ActionNeeded(Action::Reconnect), Some(Cause::ConsumerKeyRegenerated))
        );
    }
    // The OAuth 2.0 accounts are untouched.
    let news = account(&app, "acme_news").await;
    assert!(!health(&app, &news.id).await.0.needs_person());
    let html = app.admin().await.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("the consumer key was regenerated"), "one warning names it");
    authwatch::server::notify::reconcile(&app.state, now_ms()).await.unwrap();
    let open: Vec<String> = prompts::open(&app.state.pool).await.unwrap().into_iter().map(|p| p.subject).collect();
    assert_eq!(open.iter().filter(|s| *s == "app:consumer-key-regenerated").count(), 1, "{open:?}");
    // Reconnecting brings an account back, and the app incident ends with it.
    let browser = app.admin().await;
    let to_x = start1(&app, &browser, &[("account_id", &careers)]).await;
    let back = consent1(&browser, &to_x, CAREERS, "authorize").await;
    assert_eq!(land(&app, &browser, &back).await.0, "/");
    assert_eq!(health(&app, &careers).await.0, Health::Healthy);
    assert!(apps::facts(&app.state.pool, CLIENT_ID).await.unwrap().oauth1_keys_regenerated_since.is_none());
    assert_eq!(health(&app, &press).await, (Health::ActionNeeded(Action::Reconnect), Some(Cause::Oauth1TokenInvalid)));
}

#[tokio::test]
async fn a_consumer_key_x_no_longer_knows_is_the_apps_to_fix_not_a_reconnect() {
    let app = TestApp::demo().await;
    let careers = connect1(&app, CAREERS, "acme_careers").await;
    let record = |fingerprint: &str| apps::AppRecord {
        client_id: CLIENT_ID,
        client_type: "confidential",
        environment: "demo",
        secret_fingerprint: app.state.x.app().client_secret.as_ref().map(|s| s.fingerprint()),
        consumer_key_fingerprint: Some(fingerprint.to_owned()),
    };
    // As a start records the configured consumer credentials.
    apps::upsert(&app.state.pool, &record("fp-before"), now_ms()).await.unwrap();
    // Regenerated at X, and authwatch still signs with the old key: code 32.
    app.emulator().regenerate_consumer_key(CLIENT_ID).unwrap();
    let checked = check(&app.state, &careers, "test", Proof::AskX).await.unwrap();
    assert_eq!(checked, Checked::Failed { cause: Cause::ConsumerKeyRejected });
    assert_eq!(health(&app, &careers).await, (Health::ActionNeeded(Action::FixApp), Some(Cause::ConsumerKeyRejected)));
    authwatch::server::notify::reconcile(&app.state, now_ms()).await.unwrap();
    let open: Vec<String> = prompts::open(&app.state.pool).await.unwrap().into_iter().map(|p| p.subject).collect();
    assert!(open.contains(&"app:consumer-key".to_owned()), "{open:?}");
    assert!(!open.contains(&format!("account:{careers}")), "nobody is sent to reconnect: {open:?}");
    let news = account(&app, "acme_news").await;
    assert!(!health(&app, &news.id).await.0.needs_person(), "OAuth 2.0 accounts are untouched");
    // The app's incident, not the account's: it clears for every account at
    // once, when a start with other consumer credentials records them.
    assert_eq!(account(&app, "acme_careers").await.incident_cause, None);
    apps::upsert(&app.state.pool, &record("fp-before"), now_ms()).await.unwrap();
    assert_eq!(health(&app, &careers).await.0, Health::ActionNeeded(Action::FixApp), "the same key: still the app's");
    apps::upsert(&app.state.pool, &record("fp-new"), now_ms()).await.unwrap();
    assert_eq!(health(&app, &careers).await.0, Health::Healthy, "a new key: the next call decides");
}

#[tokio::test]
async fn a_clock_out_of_xs_window_is_for_operations_not_the_account() {
    let app = TestApp::empty_demo().await;
    let id = connect1(&app, CAREERS, "acme_careers").await;
    // X's clock an hour ahead of ours: our timestamps fall outside its window.
    app.emulator().advance_time(3600);
    let checked = check(&app.state, &id, "test", Proof::AskX).await.unwrap();
    assert_eq!(checked, Checked::Failed { cause: Cause::ClockDrift });
    assert_eq!(health(&app, &id).await, (Health::ActionNeeded(Action::FixClock), Some(Cause::ClockDrift)));
    let event = authwatch::server::db::events::recent(&app.state.pool, &id, 1).await.unwrap().remove(0);
    assert!(event.x_error.as_deref().is_some_and(|e| e.contains("135")), "{:?}", event.x_error);
}

#[tokio::test]
async fn the_publish_proxy_signs_for_1_0a_accounts_and_the_broker_never_hands_out_their_secret() {
    let app = TestApp::empty_demo().await;
    let id = connect1(&app, CAREERS, "acme_careers").await;
    let api = Api::new(&app).await;
    let listed = api.get("/accounts").await;
    let mine = listed.body.as_array().unwrap().iter().find(|a| a["id"] == id.as_str()).unwrap().clone();
    assert_eq!((mine["auth"].as_str(), mine["token_expires_at"].is_null()), (Some("oauth1"), true), "{mine}");
    let token = api.get(&format!("/accounts/{id}/token")).await;
    token.assert_problem(409, "oauth1-signed-here");
    let body = token.body.to_string();
    for secret in app.emulator().issued_secrets() {
        assert!(!body.contains(&secret), "a 1.0a secret left authwatch");
    }
    app.emulator().reset_counts();
    let r = api.publish(&id, "p1", "Signed by authwatch").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "published");
    assert_eq!(app.emulator().counts().client(CLIENT_ID).tweets_oauth1, 1);
    assert!(app.emulator().tweets().iter().any(|t| t.text == "Signed by authwatch"));

    // Revoked: the v2 401 is confirmed by one second call, then the post is
    // held for the owner, and goes out after the reconnect.
    app.emulator().revoke_grant(CLIENT_ID, CAREERS);
    app.emulator().reset_counts();
    let held = api.publish(&id, "p2", "Waits for the reconnect").await;
    assert_eq!(held.status, 202, "{:?}", held.body);
    assert_eq!(held.body["cause"], "oauth1_token_invalid");
    assert_eq!(held.body["action"], "reconnect");
    let counts = app.emulator().counts().client(CLIENT_ID).clone();
    assert_eq!((counts.tweets_oauth1, counts.verify_credentials), (1, 1), "one post, one confirmation: {counts:?}");
    assert_eq!(posts::held(&app.state.pool, &id).await.unwrap().len(), 1);
    let browser = app.admin().await;
    let to_x = start1(&app, &browser, &[("account_id", &id)]).await;
    let back = consent1(&browser, &to_x, CAREERS, "authorize").await;
    assert_eq!(land(&app, &browser, &back).await.0, "/");
    common::pipeline::eventually("the held post goes out", || async {
        app.emulator().tweets().iter().any(|t| t.text == "Waits for the reconnect")
    })
    .await;

    // X refusing a working token on v2: retried once after the second call
    // says it works, then left for later — never held for a reconnect.
    app.emulator().inject_fault(Fault {
        endpoint: Endpoint::V2,
        kind: FaultKind::AuthOutage,
        times: None,
        grant: None,
        client_id: None,
    });
    app.emulator().reset_counts();
    let r = api.publish(&id, "p3", "During X's outage").await;
    assert_eq!(r.body["cause"], "x_refuses_valid_tokens", "{:?}", r.body);
    assert_eq!(r.body["who"], "nobody");
    let counts = app.emulator().counts().client(CLIENT_ID).clone();
    assert_eq!((counts.tweets_oauth1, counts.verify_credentials), (2, 1), "the one retry: {counts:?}");
    assert!(posts::held(&app.state.pool, &id).await.unwrap().is_empty());
}

/// X served from this test with an app authwatch is misconfigured for: no
/// callback registered, and authwatch signing with `consumer_secret`.
async fn live_with(app_name: &str, consumer_secret: &str) -> (TestApp, Emulator) {
    let emulator = Emulator::new(EmulatorSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let x = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    emulator
        .create_app(NewApp {
            name: app_name.into(),
            client_id: Some("oauth1-live".into()),
            client_secret: Some("oauth1-live-secret".into()),
            client_type: ClientType::Confidential,
            callbacks: vec![],
            in_project: true,
            consumer_key: Some("oauth1-live-consumer-key".into()),
            consumer_secret: Some("the-consumer-secret-x-knows".into()),
        })
        .unwrap();
    let app = TestApp::builder()
        .vars([
            ("AUTHWATCH_X_CLIENT_ID", "oauth1-live"),
            ("AUTHWATCH_X_CLIENT_SECRET", "oauth1-live-secret"),
            ("AUTHWATCH_X_AUTHORIZE_URL", &format!("{x}/i/oauth2/authorize")),
            ("AUTHWATCH_X_TOKEN_URL", &format!("{x}/2/oauth2/token")),
            ("AUTHWATCH_X_REVOKE_URL", &format!("{x}/2/oauth2/revoke")),
            ("AUTHWATCH_X_API_BASE", &x),
            ("AUTHWATCH_X_CONSUMER_KEY", "oauth1-live-consumer-key"),
            ("AUTHWATCH_X_CONSUMER_SECRET", consumer_secret),
        ])
        .start()
        .await;
    (app, emulator)
}

/// A live install's first user, signed in.
async fn first_admin(app: &TestApp) -> Client {
    let password = "a long enough password for the first admin";
    let hash = app.state.passwords.hash(password.to_owned()).await.unwrap();
    let role = authwatch::server::db::users::Role::Admin;
    authwatch::server::db::users::add(&app.state.pool, "admin@example.com", "Admin", &hash, role, now_ms())
        .await
        .unwrap();
    app.signed_in_as("admin@example.com", password).await
}

/// Starts a 1.0a connect as the first admin, which X refuses at its first
/// leg; returns the result page it lands on.
async fn first_leg_refused(app: &TestApp) -> String {
    let browser = first_admin(app).await;
    let r = browser.post(app.url("/auth/x/start")).form(&[("flow", "oauth1")]).send().await.unwrap();
    assert_eq!(location(&r), "/connect/result");
    browser.get(app.url("/connect/result")).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn a_bad_signature_or_an_unregistered_callback_stops_the_connect_with_xs_words() {
    // The consumer secret authwatch signs with is not X's: code 32 at the first leg.
    let (app, emulator) = live_with("bad secret", "not-the-secret-x-knows").await;
    let html = first_leg_refused(&app).await;
    assert!(html.contains("X refused to start the sign-in"), "{html}");
    assert!(html.contains("Could not authenticate you"), "X's words: {html}");
    assert_eq!(emulator.counts().client("oauth1-live").request_token, 1);
    assert!(token_rows(&app).await.is_empty());

    // The right secret, but X does not have the callback registered: its XML 415.
    let (app, _emulator) = live_with("no callback", "the-consumer-secret-x-knows").await;
    let html = first_leg_refused(&app).await;
    assert!(html.contains("Callback URL not approved"), "{html}");
    assert!(html.contains("403"), "{html}");
}

#[tokio::test]
async fn a_reconnect_link_works_with_oauth1_and_the_right_person_rules_are_unchanged() {
    use authwatch::api::CreateReconnectLink;
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let events = account(&app, "acme_events").await;
    // Someone who may not reconnect the account is refused before X is asked.
    let labs = account(&app, "acme_labs").await;
    let stranger = app.browser();
    app.emulator().reset_counts();
    let r = stranger
        .post(app.url("/auth/x/start"))
        .form(&[("account_id", labs.id.as_str()), ("flow", "oauth1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "signed out");
    assert_eq!(app.emulator().counts().client(CLIENT_ID).request_token, 0, "X was not asked");

    // The manager owns @acme_events and makes a link for it.
    let manager = app.manager().await;
    let r = manager.post(app.url(CreateReconnectLink::PATH)).form(&[("account_id", &events.id)]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let made: serde_json::Value = r.json().await.unwrap();
    let secret = made["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let guest = app.browser();
    let page = guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"value="oauth1""#), "the link's page offers the flow choice");
    let to_x = start1(&app, &guest, &[("link", &secret)]).await;
    let back = consent1(&guest, &to_x, &events.x_user_id, "authorize").await;
    let (to, html) = land(&app, &guest, &back).await;
    assert_eq!(to, "/connect/result", "{html}");
    assert!(html.contains("Reconnected @acme_events"), "{html}");
    assert_eq!(account(&app, "acme_events").await.flow, Flow::OAuth1);
    // Spent by the reconnect.
    assert_eq!(guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap().status(), 410);
}
