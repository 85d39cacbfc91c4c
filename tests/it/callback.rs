#![cfg(feature = "ssr")]
//! The OAuth callback against strangers: text in the address is shown only
//! when it answers a sign-in this browser started, a stranger's request
//! leaves no session behind, expired sessions are deleted, and "Connect
//! account" cannot replace the tokens of an account the user may not touch.

use crate::support as common;

use authwatch::server::db::{self, accounts, sessions};
use authwatch::server::demo::{self, CLIENT_ID};
use common::oauth::{account, consent, land, location, start, token_rows};
use common::TestApp;
use reqwest::Client;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

/// What an attacker would like our page to say, and the pieces of it to
/// look for in the page, raw or HTML-escaped.
const HOSTILE: &str = "<script>alert('owned')</script>Your account is suspended: call +1-555-0100 now";
const HOSTILE_PIECES: &[&str] = &["555-0100", "is suspended", "alert(", "&lt;script", "<script>alert"];

fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The page the callback at `query` leads to, and where it led.
async fn result_of(app: &TestApp, browser: &Client, query: &str) -> (String, String) {
    let r = browser.get(app.url(&format!("/auth/x/callback{query}"))).send().await.unwrap();
    assert_eq!(r.status(), 303, "the callback always redirects ({query})");
    let to = location(&r);
    let html = browser.get(app.url(&to)).send().await.unwrap().text().await.unwrap();
    (to, html.replace("<!>", ""))
}

/// Stores a session expiring at `expiry` the way the session layer does; returns its id.
async fn session_record(store: &sessions::Store, expiry: time::OffsetDateTime) -> String {
    let mut record = Record { id: Id::default(), data: Default::default(), expiry_date: expiry };
    store.create(&mut record).await.unwrap();
    record.id.to_string()
}

async fn session_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", sessions::table(db::Backend::of(&app.state.pool))))
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_error_in_the_address_is_shown_only_when_its_state_matched_an_attempt_of_this_browser() {
    let app = TestApp::empty_demo().await;
    let hostile = encoded(HOSTILE);
    let queries = [
        format!("?error={hostile}"),
        format!("?error={hostile}&state=forged"),
        format!("?error=invalid_request&error_description={hostile}&state=forged"),
        format!("?error=access_denied&error_description={hostile}"),
        format!("?state=forged&code=abc&error={hostile}"),
    ];
    let signed_in = app.admin().await;
    // A real attempt in another browser: its state is not this browser's.
    let elsewhere = app.admin().await;
    let foreign_to_x = start(&app, &elsewhere, None).await;
    let foreign_state =
        url::Url::parse(&foreign_to_x).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let foreign = format!("?error={hostile}&state={}", encoded(&foreign_state));
    for (who, browser) in [("anonymous", app.browser()), ("signed in", signed_in.clone())] {
        for query in queries.iter().chain([&foreign]) {
            let (to, html) = result_of(&app, &browser, query).await;
            assert!(to.starts_with("/connect/result"), "{who} {query}: {to}");
            for piece in HOSTILE_PIECES {
                assert!(!to.contains(piece) && !html.contains(piece), "{who} {query}: the page shows {piece:?}");
            }
            assert!(html.contains("Nothing changed"), "{who} {query}: a fixed sentence instead");
        }
    }

    // The same words, but answering a sign-in this browser started: X's.
    let to_x = start(&app, &signed_in, None).await;
    let state = url::Url::parse(&to_x).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let (to, html) = result_of(
        &app,
        &signed_in,
        &format!("?state={}&error=temporarily_unavailable&error_description=Try+later", encoded(&state)),
    )
    .await;
    assert_eq!(to, "/connect/result");
    assert!(
        html.contains("X answered “temporarily_unavailable” (Try later) instead of a code, so nothing changed"),
        "{html}"
    );
    // Spent: the same answer again is a stranger's.
    let (_, html) =
        result_of(&app, &signed_in, &format!("?state={}&error=temporarily_unavailable", encoded(&state))).await;
    assert!(!html.contains("temporarily_unavailable") && html.contains("expired or was already used"));
}

#[tokio::test]
async fn a_fifty_request_burst_of_anonymous_callbacks_leaves_no_session_row() {
    let app = TestApp::empty_demo().await;
    let before = session_rows(&app).await;
    let hostile = encoded(HOSTILE);
    let long = "s".repeat(10_000);
    let queries: Vec<String> = (0..50)
        .map(|i| match i % 5 {
            0 => String::new(),
            1 => format!("?state=forged-{i}&code=abc"),
            2 => format!("?error={hostile}&state=x{i}"),
            3 => "?code=abc&error=access_denied".to_owned(),
            _ => format!("?state={long}&code=x"),
        })
        .collect();
    let answers = futures::future::join_all(queries.iter().map(|q| {
        let browser = app.browser();
        let url = app.url(&format!("/auth/x/callback{q}"));
        async move { browser.get(url).send().await.unwrap() }
    }))
    .await;
    for (q, r) in queries.iter().zip(&answers) {
        assert_eq!(r.status(), 303, "{q}");
        assert!(r.headers().get("set-cookie").is_none(), "no session cookie for {q}");
    }
    assert_eq!(session_rows(&app).await, before, "50 anonymous callbacks, no new session row");

    // Nor any other anonymous request that has no reason to keep anything.
    let guest = app.browser();
    let gets = [
        "/sign-in",
        "/no-such-page",
        "/r/not-a-real-link",
        "/connect/result",
        "/connect/result?problem=unknown-state",
        "/",
    ];
    for path in gets {
        let r = guest.get(app.url(path)).send().await.unwrap();
        assert!(r.headers().get("set-cookie").is_none(), "GET {path} set a cookie");
    }
    let posts: [&[(&str, &str)]; 3] = [&[("link", "not-a-real-link")], &[("account_id", "acc_nope")], &[]];
    for form in posts {
        let r = guest.post(app.url("/auth/x/start")).form(form).send().await.unwrap();
        assert!(r.headers().get("set-cookie").is_none(), "POST /auth/x/start {form:?} set a cookie");
    }
    assert_eq!(
        session_rows(&app).await,
        before,
        "no session row for the sign-in page, a 404, an unknown link or a refused start"
    );
}

#[tokio::test]
async fn each_fixed_problem_reads_on_the_result_page_and_unknown_codes_show_nothing_of_theirs() {
    let app = TestApp::empty_demo().await;
    let guest = app.browser();
    let page = |path: String| {
        let guest = guest.clone();
        let url = app.url(&path);
        async move { guest.get(url).send().await.unwrap().text().await.unwrap().replace("<!>", "") }
    };
    let (to, _) = result_of(&app, &guest, "?code=abc").await;
    assert_eq!(to, "/connect/result?problem=no-state");
    for problem in authwatch::api::dto::ConnectProblem::ALL {
        let flash = problem.flash();
        let html = page(problem.path()).await;
        assert!(html.contains(&flash.title), "{problem:?}");
        assert!(authwatch::api::dto::ConnectProblem::parse(problem.code()) == Some(problem));
    }
    let html = page(format!("/connect/result?problem={}", encoded(HOSTILE))).await;
    assert!(html.contains("Nothing to show"));
    for piece in HOSTILE_PIECES {
        assert!(!html.contains(piece), "shows {piece:?}");
    }
}

#[tokio::test]
async fn the_real_flows_keep_showing_their_results() {
    let app = TestApp::demo().await;
    // Connect: the dashboard says so.
    let admin = app.admin().await;
    let to_x = start(&app, &admin, None).await;
    let back = consent(&admin, &to_x, "1600000000000000101", "authorize").await;
    let (page, html) = land(&app, &admin, &back).await;
    assert_eq!(page, "/");
    assert!(html.contains("Connected @acme_careers"));
    // Cancel on X: X's answer, with a retry for the account.
    let labs = account(&app, "acme_labs").await;
    let to_x = start(&app, &admin, Some(&labs.id)).await;
    let back = consent(&admin, &to_x, &labs.x_user_id, "cancel").await;
    let (page, html) = land(&app, &admin, &back).await;
    assert_eq!(page, "/connect/result");
    assert!(html.contains("You clicked Cancel on X") && html.contains(&format!("/accounts/{}/reconnect", labs.id)));
}

#[tokio::test]
async fn expired_sessions_are_deleted_by_the_running_server() {
    // A database with sessions in it before the server starts, written by
    // the store itself.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
    let (expired, live) = {
        let pool = db::open(&url).await.unwrap();
        let store = sessions::Store::open(&url).await.unwrap();
        let now = time::OffsetDateTime::now_utc();
        let expired = session_record(&store, now - time::Duration::minutes(1)).await;
        let live = session_record(&store, now + time::Duration::hours(1)).await;
        pool.close().await;
        (expired, live)
    };
    // A live install (the demo refuses a configured database).
    let mut vars = common::LIVE.to_vec();
    vars.push(("AUTHWATCH_DATABASE_URL", url.as_str()));
    let app = TestApp::start(vars).await;
    let ids = || async {
        sqlx::query_scalar::<_, String>(&format!(
            "SELECT id FROM {} ORDER BY id",
            sessions::table(db::Backend::of(&app.state.pool))
        ))
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids().await.contains(&expired) {
        assert!(std::time::Instant::now() < deadline, "the expired session is still there: {:?}", ids().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ids().await, vec![live], "only the expired one goes");
    assert!(sessions::DELETE_EXPIRED_EVERY >= std::time::Duration::from_secs(60), "not a busy loop");

    // And again on the timer, not only at start.
    let later =
        session_record(&app.state.sessions, time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300)).await;
    let task =
        tokio::spawn(sessions::delete_expired_every(app.state.sessions.clone(), std::time::Duration::from_millis(100)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids().await.contains(&later) {
        assert!(std::time::Instant::now() < deadline, "not deleted on the next round");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    task.abort();
}

/// Dana (a manager) owns @acme_news and others, not @acme_labs (Ada's).
#[tokio::test]
async fn connect_account_as_an_account_the_user_may_not_reconnect_is_refused_and_revoked() {
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    assert_ne!(labs.owner_id, None);
    let dana: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(demo::MANAGER.email)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(!labs.is_owned_by(&dana), "the demo data this test relies on");
    let before = token_rows(&app).await;
    let events_before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&app.state.pool).await.unwrap();
    app.emulator().reset_counts();

    let manager = app.manager().await;
    let to_x = start(&app, &manager, None).await;
    let back = consent(&manager, &to_x, &labs.x_user_id, "authorize").await;
    let (page, html) = land(&app, &manager, &back).await;
    let html = html.replace("<!>", "");
    assert_eq!(page, "/connect/result");
    assert!(html.contains("This account is not yours to reconnect"), "{html}");
    assert!(html.contains("You signed in to X as @acme_labs, which authwatch already watches"), "{html}");
    assert!(html.contains("Nothing was saved, and the sign-in as @acme_labs was revoked"));
    assert!(html.contains("Ask Ada Admin or an admin"), "{html}");
    assert_eq!(token_rows(&app).await, before, "tokens and generations unchanged");
    let after = account(&app, "acme_labs").await;
    assert_eq!(
        (after.owner_id, after.backup_owner_id),
        (labs.owner_id.clone(), labs.backup_owner_id.clone()),
        "owners unchanged"
    );
    assert_eq!(after.incident_cause, labs.incident_cause, "still needs its owner");
    let events_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(events_after, events_before, "no reconnect on the timeline");
    let counts = app.emulator().counts().client(CLIENT_ID);
    assert_eq!((counts.code_grants, counts.revoke), (1, 1), "the code was exchanged, and the new token revoked at X");

    // Her own account the same way: a reconnect.
    let news = account(&app, "acme_news").await;
    assert!(news.is_owned_by(&dana));
    let to_x = start(&app, &manager, None).await;
    let back = consent(&manager, &to_x, &news.x_user_id, "authorize").await;
    let (page, html) = land(&app, &manager, &back).await;
    assert_eq!(page, "/");
    assert!(html.contains("Reconnected @acme_news"));
    assert_eq!(account(&app, "acme_news").await.generation, news.generation + 1);

    // Made @acme_labs' backup owner, she may.
    let owners = accounts::Owners { owner: labs.owner_id.clone(), backup: Some(dana.clone()) };
    accounts::set_owners(&app.state.pool, &labs.id, &owners, "test", "test", 1).await.unwrap();
    let to_x = start(&app, &manager, None).await;
    let back = consent(&manager, &to_x, &labs.x_user_id, "authorize").await;
    let (_, html) = land(&app, &manager, &back).await;
    assert!(html.contains("Reconnected @acme_labs"), "{html}");
    let after = account(&app, "acme_labs").await;
    assert_eq!(after.generation, labs.generation + 1);
    assert_eq!(after.owner_id, labs.owner_id, "the owner stays the owner");
}

#[tokio::test]
async fn an_admin_may_connect_over_any_account_and_a_new_account_is_the_connecting_users() {
    let app = TestApp::demo().await;
    let news = account(&app, "acme_news").await;
    let admin = app.admin().await;
    let to_x = start(&app, &admin, None).await;
    let back = consent(&admin, &to_x, &news.x_user_id, "authorize").await;
    let (_, html) = land(&app, &admin, &back).await;
    assert!(html.contains("Reconnected @acme_news"));
    assert_eq!(account(&app, "acme_news").await.owner_id, news.owner_id, "an admin's reconnect leaves the owner");

    let manager = app.manager().await;
    let to_x = start(&app, &manager, None).await;
    let back = consent(&manager, &to_x, "1600000000000000101", "authorize").await;
    let (_, html) = land(&app, &manager, &back).await;
    assert!(html.contains("Connected @acme_careers"));
    let careers = account(&app, "acme_careers").await;
    let dana: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(demo::MANAGER.email)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(careers.owner_id.as_deref(), Some(dana.as_str()));
}
