#![cfg(feature = "ssr")]
//! The real router on a real port, demo mode, a real SQLite file, our client
//! talking to the emulator over HTTP.

use crate::support as common;

/// GETs `path` as the demo admin (every page needs a signed-in user).
async fn page(app: &TestApp, path: &str) -> Result<reqwest::Response, reqwest::Error> {
    app.admin().await.get(app.url(path)).send().await
}

use authwatch::domain::health::{diagnose, Cause, Health};
use authwatch::server::db::{accounts, apps};
use authwatch::server::lifecycle::{check, refresh};
use authwatch::server::x::now_ms;
use common::TestApp;

/// The health each demo account must show, by handle.
const EXPECTED: &[(&str, &str)] = &[
    ("acme_news", "healthy"),
    ("acme_support", "healthy"),
    ("acme_sports", "refresh-due"),
    ("acme_deals", "expired-refreshable"),
    ("acme_events", "reconnect"),
    ("acme_jobs", "reconnect"),
    ("acme_labs", "reconnect"),
    ("acme_travel", "healthy"),
];

async fn id_of(app: &TestApp, handle: &str) -> String {
    accounts::summaries(&app.state.pool)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.handle == handle)
        .unwrap_or_else(|| panic!("no account @{handle}"))
        .id
}

async fn health_of(app: &TestApp, handle: &str) -> (Health, Option<Cause>) {
    let id = id_of(app, handle).await;
    let s = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap();
    let facts = apps::facts(&app.state.pool, &s.client_id).await.unwrap();
    let d = diagnose(&s.facts(), &facts, &app.state.x.app().required_scopes, now_ms(), &app.state.policy);
    (d.health, d.cause)
}

async fn wait_for_expiry_of_the_one_second_token() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn the_dashboard_shows_every_demo_account_in_its_state() {
    let app = TestApp::demo().await;
    wait_for_expiry_of_the_one_second_token().await;
    let html = page(&app, "/").await.unwrap().text().await.unwrap();
    for (handle, slug) in EXPECTED {
        let row = format!(r#"data-account="{handle}" data-health="{slug}""#);
        assert!(html.contains(&row), "@{handle} should be {slug}");
    }
    // Missing scopes are highlighted, the clock drift warning is there once.
    let jobs = row_html(&html, "acme_jobs");
    assert!(jobs.contains("scope missing") && jobs.contains(">tweet.write<"), "{jobs}");
    assert_eq!(html.matches("scope missing").count(), 1, "only the account that lacks a scope");
    assert_eq!(html.matches(r#"data-cause="clock_drift""#).count(), 1, "one app-level drift warning");
    assert!(html.contains("ahead of X") || html.contains("behind X"));
    // The demo banner says what this is.
    assert!(html.contains("Demo mode: authwatch is talking to its built-in X emulator"));
}

#[tokio::test]
async fn demo_causes_are_classified_by_cause() {
    let app = TestApp::demo().await;
    // A copy of its tokens refreshed first; its access token still worked.
    assert_eq!(health_of(&app, "acme_events").await.1, Some(Cause::TokensCopied));
    assert_eq!(health_of(&app, "acme_labs").await.1, Some(Cause::UserRevoked));
    assert_eq!(health_of(&app, "acme_jobs").await.1, Some(Cause::ScopeMissing));
    let facts = apps::facts(&app.state.pool, authwatch::server::demo::CLIENT_ID).await.unwrap();
    let offset = facts.clock_offset_ms.expect("clock measured");
    assert!((94_000..=96_999).contains(&offset), "measured offset {offset} ms for a 95 s skew");
}

#[tokio::test]
async fn tokens_are_encrypted_at_rest_and_never_reach_a_page() {
    let app = TestApp::demo().await;
    let db = app.database_bytes().await;
    let summaries = accounts::summaries(&app.state.pool).await.unwrap();
    assert_eq!(summaries.len(), EXPECTED.len());
    let mut pages = page(&app, "/").await.unwrap().text().await.unwrap();
    for s in &summaries {
        pages += &page(&app, &format!("/accounts/{}", s.id)).await.unwrap().text().await.unwrap();
    }
    let ciphertexts: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT access_token_ct, refresh_token_ct FROM token_sets")
            .fetch_all(&app.state.pool)
            .await
            .unwrap();
    for s in &summaries {
        let tokens = accounts::tokens(&app.state.pool, &app.state.keyring, &s.id).await.unwrap().unwrap();
        let secrets =
            std::iter::once(tokens.access.expose().to_owned()).chain(tokens.refresh.map(|r| r.expose().to_owned()));
        for secret in secrets {
            assert!(secret.len() > 40, "a real X-format token");
            assert!(!contains(&db, secret.as_bytes()), "a token is in the database file in clear");
            assert!(!pages.contains(&secret), "a token reached a page");
        }
        assert!(pages.contains(&s.access_fingerprint), "the fingerprint is shown instead");
    }
    for (access, refresh) in ciphertexts {
        assert!(!pages.contains(&access));
        if let Some(r) = refresh {
            assert!(!pages.contains(&r));
        }
    }
}

/// The HTML of one account's dashboard row.
fn row_html<'a>(html: &'a str, handle: &str) -> &'a str {
    let start = html.find(&format!(r#"data-account="{handle}""#)).expect("row");
    let end = html[start..].find("</tr>").expect("row end");
    &html[start..start + end]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_account_page_answers_the_questions_and_unknown_ids_are_404() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_events").await;
    let html = page(&app, &format!("/accounts/{id}")).await.unwrap().text().await.unwrap();
    for question in [
        "Is it failing, and since when?",
        "Which token is current?",
        "Did the refresh token survive the last exchange?",
        "Do the granted scopes cover publishing?",
        "Were refreshes retried, and how often?",
        "Refresh or reconnect — and who acts?",
    ] {
        assert!(html.contains(question), "missing: {question}");
    }
    // X's exact error body is shown.
    assert!(html.contains("Value passed for the token was invalid."), "the exact X error");
    assert!(html.contains("the account&#x27;s owner") || html.contains("the account's owner"));

    let missing = page(&app, "/accounts/acc_doesnotexist").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Not found"));
    let nowhere = page(&app, "/no/such/page").await.unwrap();
    assert_eq!(nowhere.status(), 404);
}

#[tokio::test]
async fn the_settings_page_shows_the_callback_and_only_a_fingerprint_of_the_secret() {
    let app = TestApp::demo().await;
    let html = page(&app, "/settings").await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("http://{}/auth/x/callback", app.addr)));
    let secret = app.state.x.app().client_secret.as_ref().unwrap();
    assert!(!html.contains(secret.expose()));
    assert!(html.contains(&secret.fingerprint()));
    assert_eq!(page(&app, "/healthz").await.unwrap().text().await.unwrap(), "ok");
    let home = page(&app, "/").await.unwrap();
    let h = home.headers().clone();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    // The page's policy names this response's nonce, and every inline
    // script of the page carries it: nothing else inline can run.
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{csp}");
    let nonce =
        csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce in the policy").to_owned();
    assert!(nonce.len() >= 16, "{csp}");
    let html = home.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "every script carries the nonce");
    let again = page(&app, "/").await.unwrap();
    assert!(
        !again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce),
        "a fresh nonce per response"
    );
    // Not a page: the strictest policy.
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert!(health.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
}

#[tokio::test]
async fn a_refresh_saves_the_rotated_token_and_x_counts_exactly_one() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_news").await;
    let before = accounts::tokens(&app.state.pool, &app.state.keyring, &id).await.unwrap().unwrap();
    app.emulator().reset_counts();
    let done = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();
    assert_eq!(done, refresh::Refreshed::Saved { generation: before.generation + 1 });
    assert_eq!(app.emulator().counts().client(authwatch::server::demo::CLIENT_ID).refresh_grants, 1);
    let after = accounts::tokens(&app.state.pool, &app.state.keyring, &id).await.unwrap().unwrap();
    assert_ne!(
        after.refresh.as_ref().unwrap(),
        before.refresh.as_ref().unwrap(),
        "the rotated refresh token was saved"
    );
    // The old refresh token is dead at X: the stored one is the one that works.
    assert!(app.state.x.refresh(before.refresh.as_ref().unwrap()).await.is_err());
    assert!(matches!(
        app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap(),
        refresh::Refreshed::Saved { .. }
    ));
}

#[tokio::test]
async fn a_rotated_client_secret_is_one_app_level_incident_not_n_reconnects() {
    let app = TestApp::demo().await;
    app.emulator().set_client_secret(authwatch::server::demo::CLIENT_ID, "rotated");
    let id = id_of(&app, "acme_news").await;
    let before = accounts::tokens(&app.state.pool, &app.state.keyring, &id).await.unwrap().unwrap();
    let outcome = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();
    assert_eq!(outcome, refresh::Refreshed::Failed { cause: Cause::AppCredentialsRejected, retry_at: None });
    for handle in ["acme_news", "acme_support", "acme_travel"] {
        assert_eq!(health_of(&app, handle).await.0, Health::ActionNeeded(authwatch::domain::health::Action::FixApp));
    }
    let html = page(&app, "/").await.unwrap().text().await.unwrap();
    assert_eq!(html.matches(r#"data-cause="app_credentials_rejected""#).count(), 1);
    // Nothing was overwritten by the failed refresh.
    let after = accounts::tokens(&app.state.pool, &app.state.keyring, &id).await.unwrap().unwrap();
    assert_eq!(after.generation, before.generation);
    assert_eq!(after.refresh, before.refresh);
}

#[tokio::test]
async fn a_grant_revoked_at_x_is_found_by_a_check() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_support").await;
    let s = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap();
    app.emulator().revoke_grant(authwatch::server::demo::CLIENT_ID, &s.x_user_id);
    assert_eq!(
        check::check(&app.state, &id, "test", check::Proof::AskX).await.unwrap(),
        check::Checked::Failed { cause: Cause::UserRevoked }
    );
    let (health, cause) = health_of(&app, "acme_support").await;
    assert_eq!(health, Health::ActionNeeded(authwatch::domain::health::Action::Reconnect));
    assert_eq!(cause, Some(Cause::UserRevoked));
}

#[tokio::test]
async fn concurrent_connects_all_land() {
    let app = TestApp::demo().await;
    let users: Vec<_> = (0..8)
        .map(|i| {
            app.emulator().create_user(authwatch::emulator::NewUser {
                id: None,
                username: format!("many_{i}"),
                name: format!("Many {i}"),
            })
        })
        .collect();
    let connects = users.iter().map(|u| {
        let state = app.state.clone();
        let id = u.id.clone();
        async move {
            authwatch::server::demo::connect_as(
                &state,
                &id,
                &authwatch::server::lifecycle::connect::Intent::NewAccount,
                "test",
                None,
            )
            .await
        }
    });
    for result in futures::future::join_all(connects).await {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(accounts::summaries(&app.state.pool).await.unwrap().len(), EXPECTED.len() + 8);
}

#[tokio::test]
async fn a_refusal_reads_as_a_sentence_for_a_person_on_the_page_and_to_the_caller() {
    use authwatch::api::RefreshNow;
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let manager = app.manager().await;
    // The page: the refusal's own words, and its status.
    let r = manager.get(app.url("/settings")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Only admins can see the X app&#x27;s settings.")
            || html.contains("Only admins can see the X app's settings."),
        "{html}"
    );
    assert!(!html.contains("error running server function"), "no framework wording before the sentence");
    // The server function called as the page calls it: the status set from
    // the error, and the same sentence.
    let labs = common::account_id(&app, "acme_labs").await;
    let r = manager.post(app.url(RefreshNow::PATH)).form(&[("id", labs.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let said = r.text().await.unwrap();
    assert!(said.contains("Only this account's owner, its backup owner or an admin can do this."), "{said}");
    assert!(!said.contains("ServerError"), "{said}");
}

#[tokio::test]
async fn a_refused_request_is_not_answered_as_a_server_failure() {
    use authwatch::api::{AddUser, RemoveUser};
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    // A rule the request breaks: 422 and what to change, not a 500.
    let r = admin
        .post(app.url(AddUser::PATH))
        .form(&[
            ("email", "not an address"),
            ("name", "Ann"),
            ("role", "Manager"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("That is not an email address."));
    // Something that does not exist: 404.
    let r = admin.post(app.url(RemoveUser::PATH)).form(&[("id", "no-such-user")]).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("No such user."));
}
