#![cfg(feature = "ssr")]
//! Who may do what, over the real router: every actor × every page, server
//! function and route that matters, each cell asserted, and every refused
//! request shown to have changed nothing.

use crate::support as common;

use authwatch::api::{
    AddUser, AssignOwners, CheckNow, CreateReconnectLink, LoadDashboard, RefreshNow, RemoveUser, RunDemoAction,
};
use authwatch::server::auth::password;
use authwatch::server::db::users::{self, Role};
use common::TestApp;
use leptos::server_fn::ServerFn;
use reqwest::Client;

/// The actors of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Anonymous,
    /// Dana, a manager who owns @acme_jobs.
    Owner,
    /// Sam, a manager who owns nothing.
    OtherManager,
    Admin,
    /// Someone with a reconnect link for @acme_jobs and no dashboard user.
    LinkHolder,
}

const ACTORS: [Actor; 5] = [Actor::Anonymous, Actor::Owner, Actor::OtherManager, Actor::Admin, Actor::LinkHolder];

struct World {
    app: TestApp,
    jobs: String,
    link_secret: String,
    clients: Vec<(Actor, Client)>,
}

/// Everything the deny cells must leave alone.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    events: i64,
    generations: Vec<(String, i64)>,
    users: i64,
    links: i64,
    owners: Vec<(String, Option<String>, Option<String>)>,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    let pool = &app.state.pool;
    Snapshot {
        events: sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(pool).await.unwrap(),
        generations: sqlx::query_as("SELECT account_id, generation FROM token_sets ORDER BY account_id")
            .fetch_all(pool)
            .await
            .unwrap(),
        users: sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await.unwrap(),
        links: sqlx::query_scalar("SELECT COUNT(*) FROM reconnect_links").fetch_one(pool).await.unwrap(),
        owners: sqlx::query_as("SELECT id, owner_id, backup_owner_id FROM accounts ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap(),
    }
}

async fn world() -> World {
    let app = TestApp::demo().await;
    let hash = app.state.passwords.hash("sam-password-123".into()).await.unwrap();
    users::add(&app.state.pool, "sam@demo.authwatch", "Sam Other", &hash, Role::Manager, 0).await.unwrap();
    let jobs = common::account_id(&app, "acme_jobs").await;
    let admin = app.admin().await;
    let made: serde_json::Value = admin
        .post(app.url(CreateReconnectLink::PATH))
        .form(&[("account_id", jobs.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link_secret = made["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let mut clients = Vec::new();
    for actor in ACTORS {
        let client = match actor {
            Actor::Anonymous | Actor::LinkHolder => app.browser(),
            Actor::Owner => app.manager().await,
            Actor::OtherManager => app.signed_in_as("sam@demo.authwatch", "sam-password-123").await,
            Actor::Admin => app.admin().await,
        };
        clients.push((actor, client));
    }
    World { app, jobs, link_secret, clients }
}

/// What one request answered: the status, and where a redirect led.
async fn answer(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
    (status, location)
}

/// Runs `request` for every actor and checks the answers. For the cells
/// expected to be refused, the database must not change at all.
async fn row<F, Fut>(w: &World, what: &str, expected: [u16; 5], request: F)
where
    F: Fn(Actor, Client) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    for ((actor, client), want) in w.clients.iter().zip(expected) {
        let before = snapshot(&w.app).await;
        let (status, location) = answer(request(*actor, client.clone()).await).await;
        assert_eq!(status, want, "{what} as {actor:?} (redirect: {location})");
        if status == 303 && want == 303 && location.starts_with("/sign-in") {
            assert!(location.starts_with("/sign-in?next="), "{what}: sign-in redirect keeps the way back: {location}");
        }
        if matches!(status, 401 | 403) || location.starts_with("/sign-in") {
            assert_eq!(snapshot(&w.app).await, before, "{what} as {actor:?} was refused but changed something");
        }
    }
}

#[tokio::test]
async fn the_access_matrix() {
    let w = world().await;
    let jobs = w.jobs.clone();
    let app = &w.app;
    //                                   anonymous owner other admin link
    row(&w, "GET /", [303, 200, 200, 200, 303], |_, c| async move { c.get(app.url("/")).send().await.unwrap() }).await;
    let page = format!("/accounts/{jobs}");
    row(&w, "GET account page", [303, 200, 200, 200, 303], |_, c| {
        let url = app.url(&page);
        async move { c.get(url).send().await.unwrap() }
    })
    .await;
    let reconnect_page = format!("/accounts/{jobs}/reconnect");
    row(&w, "GET reconnect page", [303, 200, 403, 200, 303], |_, c| {
        let url = app.url(&reconnect_page);
        async move { c.get(url).send().await.unwrap() }
    })
    .await;
    row(&w, "GET /settings", [303, 403, 403, 200, 303], |_, c| async move {
        c.get(app.url("/settings")).send().await.unwrap()
    })
    .await;
    row(
        &w,
        "GET /users",
        [303, 403, 403, 200, 303],
        |_, c| async move { c.get(app.url("/users")).send().await.unwrap() },
    )
    .await;
    row(&w, "server fn load_dashboard", [401, 200, 200, 200, 401], |_, c| async move {
        c.post(app.url(LoadDashboard::PATH)).form(&[("query[search]", ""), ("query[page]", "1")]).send().await.unwrap()
    })
    .await;
    row(&w, "server fn refresh_now", [401, 200, 403, 200, 401], |_, c| {
        let jobs = jobs.clone();
        async move { c.post(app.url(RefreshNow::PATH)).form(&[("id", jobs)]).send().await.unwrap() }
    })
    .await;
    row(&w, "server fn check_now", [401, 200, 403, 200, 401], |_, c| {
        let jobs = jobs.clone();
        async move { c.post(app.url(CheckNow::PATH)).form(&[("id", jobs)]).send().await.unwrap() }
    })
    .await;
    row(&w, "server fn create_reconnect_link", [401, 200, 403, 200, 401], |_, c| {
        let jobs = jobs.clone();
        async move { c.post(app.url(CreateReconnectLink::PATH)).form(&[("account_id", jobs)]).send().await.unwrap() }
    })
    .await;
    row(&w, "server fn add_user", [401, 403, 403, 200, 401], |actor, c| async move {
        let email = format!("new-{actor:?}@example.com").to_lowercase();
        c.post(app.url(AddUser::PATH))
            .form(&[
                ("email", email.as_str()),
                ("name", "New Person"),
                ("role", "Manager"),
                ("password", "a-long-enough-password"),
            ])
            .send()
            .await
            .unwrap()
    })
    .await;
    row(&w, "server fn run_demo_action", [401, 403, 403, 200, 401], |_, c| async move {
        c.post(app.url(RunDemoAction::PATH)).form(&[("action", "SkewClock")]).send().await.unwrap()
    })
    .await;
    // Reconnect: the link holder may, for this account, with the link.
    let secret = w.link_secret.clone();
    row(&w, "POST /auth/x/start (reconnect)", [401, 303, 403, 303, 303], |actor, c| {
        let (jobs, secret) = (jobs.clone(), secret.clone());
        async move {
            let form: Vec<(&str, String)> =
                if actor == Actor::LinkHolder { vec![("link", secret)] } else { vec![("account_id", jobs)] };
            c.post(app.url("/auth/x/start")).form(&form).send().await.unwrap()
        }
    })
    .await;
    row(&w, "POST /auth/x/start (new account)", [401, 303, 303, 303, 401], |_, c| async move {
        c.post(app.url("/auth/x/start")).form(&[("account_id", "")]).send().await.unwrap()
    })
    .await;
    // The callback needs the attempt this browser started; a forged one changes nothing.
    row(&w, "GET /auth/x/callback (forged)", [303, 303, 303, 303, 303], |_, c| async move {
        let r = c.get(app.url("/auth/x/callback?state=forged&code=forged")).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/connect/result?problem=unknown-state");
        r
    })
    .await;
    // Last: reassigning changes who owns @acme_jobs.
    let sam: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'sam@demo.authwatch'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    row(&w, "server fn assign_owners", [401, 403, 403, 200, 401], |_, c| {
        let (jobs, sam) = (jobs.clone(), sam.clone());
        async move {
            c.post(app.url(AssignOwners::PATH))
                .form(&[("account_id", jobs.as_str()), ("owner", sam.as_str()), ("backup_owner", "")])
                .send()
                .await
                .unwrap()
        }
    })
    .await;
    // Removing a user: admins only; the admin removes the user the others made.
    row(&w, "server fn remove_user", [401, 403, 403, 200, 401], |_, c| async move {
        let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'new-admin@example.com'")
            .fetch_optional(&app.state.pool)
            .await
            .unwrap()
            .unwrap_or_else(|| "usr_removed".into());
        c.post(app.url(RemoveUser::PATH)).form(&[("id", id)]).send().await.unwrap()
    })
    .await;
    let link_page = format!("/r/{}", w.link_secret);
    row(&w, "GET the link's page", [200, 200, 200, 200, 200], |_, c| {
        let url = app.url(&link_page);
        async move { c.get(url).send().await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn a_post_from_another_site_is_refused_and_changes_nothing() {
    let app = TestApp::demo().await;
    let jobs = common::account_id(&app, "acme_jobs").await;
    let admin = app.admin().await;
    let before = snapshot(&app).await;
    for origin in ["https://evil.example", "null", &format!("http://{}.evil.example", app.addr.ip())] {
        let r = admin
            .post(app.url(RefreshNow::PATH))
            .header("origin", origin)
            .form(&[("id", jobs.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "Origin {origin}");
        assert!(r.text().await.unwrap().contains("CSRF"));
    }
    // No Origin: Sec-Fetch-Site or Referer must vouch for it; neither is refused too.
    let bare =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = bare
        .post(app.url("/auth/sign-in"))
        .form(&[("email", "ada@demo.authwatch"), ("password", "demo-admin-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a sign-in with no Origin at all (login CSRF)");
    let r = bare.post(app.url("/auth/sign-out")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = bare
        .post(app.url("/auth/sign-in"))
        .header("referer", app.url("/sign-in"))
        .form(&[("email", "ada@demo.authwatch"), ("password", "demo-admin-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "a same-origin Referer vouches");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn signing_in_out_and_the_throttle() {
    let app = TestApp::demo().await;
    let browser = app.browser();
    let r = browser.get(app.url("/accounts/x?tab=1")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/sign-in?next=%2Faccounts%2Fx%3Ftab%3D1");
    let page = browser.get(app.url("/sign-in")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("demo-manager-password"), "demo mode shows the demo users");

    // The session cookie: HttpOnly, SameSite=Lax (not Secure over plain http).
    let r = browser
        .post(app.url("/auth/sign-in"))
        .form(&[("email", "DANA@demo.authwatch "), ("password", "demo-manager-password"), ("next", "/accounts/x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/accounts/x", "back to where they were going");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    assert_eq!(browser.get(app.url("/")).send().await.unwrap().status(), 200);
    let r = browser.post(app.url("/auth/sign-out")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/sign-in?signed_out=1");
    assert_eq!(browser.get(app.url("/")).send().await.unwrap().status(), 303, "signed out");

    // An open redirect is not possible through `next`.
    let r = browser
        .post(app.url("/auth/sign-in"))
        .form(&[("email", "dana@demo.authwatch"), ("password", "demo-manager-password"), ("next", "//evil.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");

    // Five wrong passwords block this email for a while, with a clear message,
    // even with the right password; another user is not blocked.
    let guesser = app.browser();
    for i in 0..5 {
        let r = guesser
            .post(app.url("/auth/sign-in"))
            .form(&[("email", "dana@demo.authwatch"), ("password", &format!("wrong-{i}"))])
            .send()
            .await
            .unwrap();
        assert!(r.headers()["location"].to_str().unwrap().starts_with("/sign-in?error=invalid"));
    }
    let r = guesser
        .post(app.url("/auth/sign-in"))
        .form(&[("email", "dana@demo.authwatch"), ("password", "demo-manager-password")])
        .send()
        .await
        .unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/sign-in?error=throttled-15"), "{to}");
    let html = guesser.get(app.url(&to)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Too many failed sign-ins") && html.contains("wait 15 min"),
        "the page says why and for how long"
    );
    app.admin().await;
    // The block ends: once the failures are older than the window, it works.
    sqlx::query("UPDATE sign_in_failures SET at = at - 15 * 60 * 1000").execute(&app.state.pool).await.unwrap();
    app.manager().await;
}

#[tokio::test]
async fn removing_a_user_ends_their_session_and_never_the_last_admin() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let dana = app.manager().await;
    let dana_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'dana@demo.authwatch'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let ada_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@demo.authwatch'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let r = admin.post(app.url(RemoveUser::PATH)).form(&[("id", ada_id.as_str())]).send().await.unwrap();
    assert_ne!(r.status(), 200, "not oneself");
    let r = admin.post(app.url(RemoveUser::PATH)).form(&[("id", dana_id.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(dana.get(app.url("/")).send().await.unwrap().status(), 303, "her session ended");
    let unowned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE owner_id IS NULL")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(unowned, 4, "her accounts go to the admins");
    assert!(!users::remove(&app.state.pool, &ada_id, "test", 0).await.unwrap(), "the last admin stays");
}

#[tokio::test]
async fn sessions_end_after_inactivity_and_cookies_are_secure_over_https() {
    let app = TestApp::start(vec![("AUTHWATCH_SESSION_IDLE_SECS", "1")]).await;
    let browser = app.admin().await;
    assert_eq!(browser.get(app.url("/")).send().await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303, "idle for longer than the limit: signed out");

    // Served behind a TLS proxy: the public URL is https.
    let app = TestApp::start(vec![("AUTHWATCH_PUBLIC_URL", "https://authwatch.example")]).await;
    let r = app
        .browser()
        .post(app.url("/auth/sign-in"))
        // What a browser sends there: the page's origin is the public one.
        .header("origin", "https://authwatch.example")
        .form(&[("email", "ada@demo.authwatch"), ("password", "demo-admin-password")])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn the_setup_page_works_once_and_only_while_nobody_can_sign_in() {
    // A live app (not demo): no users at first.
    let app = TestApp::start(vec![
        ("AUTHWATCH_X_CLIENT_ID", "live-app"),
        ("AUTHWATCH_X_CLIENT_SECRET", "live-secret"),
        ("AUTHWATCH_X_API_BASE", "http://127.0.0.1:9"),
    ])
    .await;
    let browser = app.browser();
    let r = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/setup", "nobody can sign in yet");
    let page = browser.get(app.url("/sign-in")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("demo-admin-password"), "no demo users outside demo mode");
    let r = browser
        .post(app.url("/auth/setup"))
        .form(&[("email", "ops@example.com"), ("name", "Ops"), ("password", "short"), ("confirm", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/setup?error=short");
    let form = [
        ("email", "ops@example.com"),
        ("name", "Ops"),
        ("password", "long-enough-pass"),
        ("confirm", "long-enough-pass"),
    ];
    let r = browser.post(app.url("/auth/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/");
    assert_eq!(browser.get(app.url("/users")).send().await.unwrap().status(), 200, "signed in as the new admin");
    // A second setup, from anyone, is refused.
    let late = app.browser();
    let r = late
        .post(app.url("/auth/setup"))
        .form(&[
            ("email", "evil@example.com"),
            ("name", "E"),
            ("password", "long-enough-pass"),
            ("confirm", "long-enough-pass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/sign-in?error=set-up");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_cli_adds_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_authwatch"))
        .args([
            "user",
            "add",
            "--admin",
            "--email",
            "Root@Example.com",
            "--name",
            "Root",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("AUTHWATCH_X_CLIENT_ID", "cli-app")
        .env("AUTHWATCH_X_CLIENT_SECRET", "cli-secret")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a-strong-password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Added Root <root@example.com> as admin"));
    let pool = authwatch::server::db::open(&format!("sqlite://{}/authwatch.db", dir.path().display())).await.unwrap();
    let (user, hash) = users::credentials(&pool, "root@example.com").await.unwrap().unwrap();
    assert_eq!(user.role, Role::Admin);
    assert!(hash.starts_with("$argon2id$"));
    assert_eq!(
        password::Passwords::new(1).await.unwrap().verify("a-strong-password".into(), Some(hash)).await,
        Ok(true)
    );
}

/// The owner column of every dashboard row, by handle, as the admin's
/// browser gets it from the server function.
async fn dashboard_owners(app: &TestApp, admin: &Client) -> Vec<(String, Option<String>)> {
    let r = admin
        .post(app.url(LoadDashboard::PATH))
        .form(&[("query[search]", ""), ("query[page]", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let dashboard: authwatch::api::dto::Dashboard = r.json().await.unwrap();
    let mut owners: Vec<_> = dashboard.rows.into_iter().map(|row| (row.handle, row.owner)).collect();
    owners.sort();
    owners
}

#[tokio::test]
async fn removing_a_user_with_the_cli_shows_their_accounts_without_an_owner_at_once() {
    let app = TestApp::builder().sqlite().demo().start().await;
    let admin = app.admin().await;
    // The dashboard has been read once, so the server holds its snapshot.
    let before = dashboard_owners(&app, &admin).await;
    let hers: Vec<&str> =
        before.iter().filter(|(_, o)| o.as_deref() == Some("Dana Manager")).map(|(h, _)| h.as_str()).collect();
    assert_eq!(hers, ["acme_events", "acme_jobs", "acme_news", "acme_sports"], "{before:?}");

    // `authwatch user remove`, another process on the same database.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authwatch"))
        .args(["user", "remove", "--email", "dana@demo.authwatch", "--data-dir"])
        .arg(app.data_dir.path())
        .env("AUTHWATCH_DEMO", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Removed Dana Manager"));

    let after = dashboard_owners(&app, &admin).await;
    for (handle, owner) in &after {
        let expected = if hers.contains(&handle.as_str()) {
            None
        } else {
            before.iter().find(|(h, _)| h == handle).unwrap().1.clone()
        };
        assert_eq!(owner, &expected, "@{handle}: {after:?}");
    }
    // Each of her accounts says on its timeline why it has no owner.
    let news = common::account_id(&app, "acme_news").await;
    let timeline = authwatch::server::db::events::recent(&app.state.pool, &news, 1).await.unwrap();
    assert_eq!((timeline[0].kind.as_str(), timeline[0].actor.as_str()), ("owner", "command line"));
    assert!(timeline[0].detail.as_deref().unwrap_or_default().contains("Dana Manager"), "{:?}", timeline[0].detail);
}

#[tokio::test]
async fn removing_a_user_on_the_users_page_shows_their_accounts_without_an_owner_at_once() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let before = dashboard_owners(&app, &admin).await;
    assert_eq!(before.iter().filter(|(_, o)| o.as_deref() == Some("Dana Manager")).count(), 4, "{before:?}");
    let dana_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'dana@demo.authwatch'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let r = admin.post(app.url(RemoveUser::PATH)).form(&[("id", dana_id.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let after = dashboard_owners(&app, &admin).await;
    assert_eq!(after.iter().filter(|(_, o)| o.is_none()).count(), 4, "{after:?}");
    assert!(after.iter().all(|(_, o)| o.as_deref() != Some("Dana Manager")), "{after:?}");
}
