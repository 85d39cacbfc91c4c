#![cfg(feature = "ssr")]
//! X's token endpoint answering success in a way `oauth2` refuses: X's JSON
//! under `text/plain`, `expires_in` as a string, or a body cut short that
//! still holds the new tokens. Over a real authwatch in demo mode, with the
//! emulator reached over HTTP, a refresh and a reconnect meet each one.
//! Whatever happens, no token X handed out may end up in the database file
//! (the session store included), on a page, in the connect message or in the
//! process log; a readable answer is a success, an unreadable one a refresh
//! answer lost — never a rejection, and never a reason to blank a token.

use crate::support as common;

use authwatch::domain::health::Cause;
use authwatch::emulator::{Endpoint, Fault, FaultKind, GrantKind};
use authwatch::server::db::accounts::{self, StoredTokens};
use authwatch::server::db::events;
use authwatch::server::demo;
use authwatch::server::lifecycle::refresh::Refreshed;
use common::{account_id, oauth, TestApp};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the process logs, at every level of authwatch's own code and
/// at debug for its dependencies, kept for the whole test binary.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// The process log, capturing from the first call on.
fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,authwatch=trace"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only subscriber of this test binary");
        log
    })
}

async fn demo_app() -> TestApp {
    log();
    TestApp::demo().await
}

async fn stored(app: &TestApp, id: &str) -> StoredTokens {
    accounts::tokens(&app.state.pool, &app.state.keyring, id).await.unwrap().expect("stored tokens")
}

async fn incident(app: &TestApp, id: &str) -> Option<Cause> {
    accounts::summary(&app.state.pool, id).await.unwrap().unwrap().incident().map(|i| i.cause)
}

/// The status of `GET /2/users/me` at the emulator with this access token.
async fn users_me(app: &TestApp, access: &str) -> u16 {
    reqwest::Client::new()
        .get(app.url("/x-emulator/2/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn x_user_id(handle: &str) -> &'static str {
    demo::ACCOUNTS.iter().find(|a| a.handle == handle).unwrap().x_user_id
}

/// The next token call of `grant` gets `kind`.
fn fault_once(app: &TestApp, kind: FaultKind, grant: GrantKind) {
    app.emulator().inject_fault(Fault::new(Endpoint::Token, kind).grant(grant).times(1));
}

/// Reconnects `handle` as the demo admin in a browser, X answering the code
/// exchange with `kind`; returns where the callback sent the browser and the
/// page with the connect message.
async fn reconnect(app: &TestApp, handle: &str, kind: FaultKind) -> (String, String) {
    let id = account_id(app, handle).await;
    let browser = app.admin().await;
    let to_x = oauth::start(app, &browser, Some(&id)).await;
    let callback = oauth::consent(&browser, &to_x, x_user_id(handle), "authorize").await;
    fault_once(app, kind, GrantKind::AuthorizationCode);
    oauth::land(app, &browser, &callback).await
}

/// No token, code or client secret the emulator handed out is in the
/// database file (WAL and session store included), on the account page or
/// the dashboard as the demo admin or manager, in `pages`, or in the log.
async fn assert_no_token_anywhere(app: &TestApp, account: &str, pages: &[(&str, &str)]) {
    let mut secrets = app.emulator().issued_secrets();
    secrets.extend(app.state.x.app().client_secret.as_ref().map(|s| s.expose().to_owned()));
    assert!(secrets.len() > 20, "the emulator handed out the demo's tokens and this test's");

    let database = app.database_bytes().await;
    assert!(contains(&database, b"acme_sports") && contains(&database, b"sessions"), "the database file was read");
    let mut places: Vec<(String, Vec<u8>)> = vec![("the database file".into(), database)];
    for (who, browser) in [("admin", app.admin().await), ("manager", app.manager().await)] {
        for path in [format!("/accounts/{account}"), "/".to_owned()] {
            let answer = browser.get(app.url(&path)).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{path} as the demo {who}");
            let html = answer.text().await.unwrap();
            assert!(html.contains("acme_"), "{path} as the demo {who} shows accounts");
            places.push((format!("{path} as the demo {who}"), html.into_bytes()));
        }
    }
    for (name, page) in pages {
        places.push(((*name).to_owned(), page.as_bytes().to_vec()));
    }
    places.push(("the process log".into(), log().text().into_bytes()));
    for secret in &secrets {
        for (place, bytes) in &places {
            // The message names the place and the secret's kind, never the secret.
            assert!(!contains(bytes, secret.as_bytes()), "a secret X issued ({} chars) is in {place}", secret.len());
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A readable answer refreshes: the new generation is saved with its
/// rotated refresh token, both work at X.
async fn assert_refreshed(app: &TestApp, id: &str, before: &StoredTokens) -> StoredTokens {
    let after = stored(app, id).await;
    assert_eq!(after.generation, before.generation + 1);
    assert_ne!(after.access, before.access);
    assert_ne!(after.refresh, before.refresh, "the rotated refresh token is saved");
    assert_eq!(after.scopes, before.scopes, "the granted scopes were read too");
    assert_eq!(users_me(app, after.access.expose()).await, 200, "the new access token works at X");
    assert_eq!(incident(app, id).await, None);
    // The rotated refresh token is the live one: the next refresh goes through.
    let next = app.state.engine.refresh(&app.state, id, "test", None).await.unwrap();
    assert_eq!(next, Refreshed::Saved { generation: before.generation + 2 });
    after
}

#[tokio::test]
async fn a_refresh_answered_as_text_plain_is_read_and_leaks_no_token() {
    let app = demo_app().await;
    let id = account_id(&app, "acme_sports").await;
    let before = stored(&app, &id).await;
    fault_once(&app, FaultKind::SuccessAsTextPlain, GrantKind::RefreshToken);

    let outcome = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();

    assert_no_token_anywhere(&app, &id, &[]).await;
    assert_eq!(outcome, Refreshed::Saved { generation: before.generation + 1 });
    assert_refreshed(&app, &id, &before).await;
    assert!(log().text().contains("read it leniently"), "the quirk is logged");
    assert!(app.emulator().faults().is_empty(), "the fault was met");
}

#[tokio::test]
async fn a_refresh_with_expires_in_as_a_string_is_read_with_its_lifetime() {
    let app = demo_app().await;
    let id = account_id(&app, "acme_sports").await;
    let before = stored(&app, &id).await;
    app.emulator().update_settings(|s| s.access_token_ttl_secs = 5400);
    fault_once(&app, FaultKind::ExpiresInAsString, GrantKind::RefreshToken);

    let outcome = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();

    assert_no_token_anywhere(&app, &id, &[]).await;
    assert_eq!(outcome, Refreshed::Saved { generation: before.generation + 1 });
    let after = assert_refreshed(&app, &id, &before).await;
    assert_eq!(after.expires_at - after.issued_at, 5_400_000, "X's \"5400\", not a default");
}

#[tokio::test]
async fn an_unreadable_refresh_answer_is_a_lost_answer_and_blanks_nothing() {
    let app = demo_app().await;
    let id = account_id(&app, "acme_sports").await;
    let before = stored(&app, &id).await;
    fault_once(&app, FaultKind::TruncatedSuccess, GrantKind::RefreshToken);

    let outcome = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();

    assert_no_token_anywhere(&app, &id, &[]).await;
    assert!(matches!(outcome, Refreshed::Failed { cause: Cause::RefreshAnswerLost, .. }), "{outcome:?}");
    assert_eq!(incident(&app, &id).await, Some(Cause::RefreshAnswerLost), "flagged, never a rejection");
    let after = stored(&app, &id).await;
    assert_eq!(
        (after.generation, &after.access, &after.refresh),
        (before.generation, &before.access, &before.refresh),
        "the stored tokens stand"
    );
    // The event says what happened, with nothing of X's answer in it.
    let last = events::recent(&app.state.pool, &id, 1).await.unwrap().remove(0);
    let kept = last.x_error.unwrap_or_default();
    assert!(kept.contains("HTTP 200") && kept.contains("nothing of that answer was kept"), "{kept}");
    assert!(!kept.contains("access_token") && !kept.contains("bearer"), "{kept}");

    // The existing verification path: the stored refresh token was spent by
    // the answer that got lost, so the account needs a reconnect.
    app.state.engine.sweep(&app.state).await;
    assert_eq!(incident(&app, &id).await, Some(Cause::RotationLost));
    assert_eq!(stored(&app, &id).await.generation, before.generation, "still nothing blanked or replaced");
    assert_no_token_anywhere(&app, &id, &[]).await;
}

#[tokio::test]
async fn a_reconnect_answered_as_text_plain_or_with_a_string_expiry_is_saved() {
    let app = demo_app().await;
    for (handle, kind) in [("acme_news", FaultKind::SuccessAsTextPlain), ("acme_support", FaultKind::ExpiresInAsString)]
    {
        let id = account_id(&app, handle).await;
        let before = stored(&app, &id).await;

        let (to, page) = reconnect(&app, handle, kind.clone()).await;

        assert_no_token_anywhere(&app, &id, &[("the connect message", &page)]).await;
        assert_eq!(to, "/", "{kind:?}: the reconnect succeeded");
        assert!(page.contains(&format!("Reconnected @{handle}")), "{kind:?}: the message is shown");
        assert!(!page.contains("permission is missing"), "{kind:?}: the scopes were read");
        assert_refreshed(&app, &id, &before).await;
        assert!(app.emulator().faults().is_empty(), "{kind:?} was met");
    }
}

#[tokio::test]
async fn an_unreadable_reconnect_answer_saves_nothing_and_leaks_no_token() {
    let app = demo_app().await;
    let id = account_id(&app, "acme_news").await;
    let before = stored(&app, &id).await;

    let (to, page) = reconnect(&app, "acme_news", FaultKind::TruncatedSuccess).await;

    assert_no_token_anywhere(&app, &id, &[("the connect message", &page)]).await;
    assert_eq!(to, "/connect/result");
    assert!(page.contains("could not be understood") && page.contains("nothing of that answer was kept"), "{page}");
    let after = stored(&app, &id).await;
    assert_eq!(
        (after.generation, &after.access, &after.refresh),
        (before.generation, &before.access, &before.refresh),
        "nothing saved, nothing blanked"
    );
    assert!(app.emulator().faults().is_empty(), "the fault was met");
}
