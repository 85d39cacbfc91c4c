#![cfg(feature = "ssr")]
//! Live updates: `/live` over real HTTP. A signed-in page hears `hello`, then
//! `changed` within a second of a change made through the app, in this
//! process or in another one on the same SQLite file; a burst of changes is a
//! handful of events, the last after the burst; signed out there is no
//! stream; beyond the cap, 503; a shutdown ends the streams.

use crate::support as common;

use authwatch::api::{CheckNow, RefreshNow};
use authwatch::emulator::{ClientType, Emulator, EmulatorSettings, NewApp, NewUser};
use authwatch::server::db::users;
use authwatch::server::demo::connect_as;
use authwatch::server::lifecycle::connect::Intent;
use authwatch::server::x::now_ms;
use common::process::{binary, ServerProcess};
use common::{account_id, TestApp};
use futures::StreamExt;
use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use std::time::{Duration, Instant};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// An open `/live` stream, read as a browser's `EventSource` reads it.
struct Live {
    answer: reqwest::Response,
    buffer: String,
}

impl Live {
    /// Opens `url` with `browser`; fails unless it is an event stream.
    async fn open(browser: &reqwest::Client, url: String) -> Self {
        // Asking for compression, as browsers do: events must not wait in an encoder.
        let answer = browser.get(url).header(ACCEPT_ENCODING, "br, gzip").send().await.expect("GET /live");
        assert_eq!(answer.status(), 200, "the stream opens");
        assert_eq!(header(&answer, CONTENT_TYPE.as_str()), "text/event-stream");
        assert_eq!(header(&answer, CONTENT_ENCODING.as_str()), "", "never compressed");
        Self { answer, buffer: String::new() }
    }

    /// The next event (keep-alive comments skipped), or `None` when none
    /// comes within `within`. Panics if the stream ends.
    async fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field =
                    |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_owned());
                if let Some(name) = field("event:") {
                    return Some(Event { name, data: field("data:").unwrap_or_default() });
                }
            }
            match tokio::time::timeout_at(deadline, self.answer.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                Ok(Ok(None)) => panic!("the stream ended"),
                Ok(Err(e)) => panic!("reading the stream: {e}"),
            }
        }
    }

    /// Whether the server ends the stream within `within` (events before
    /// the end are skipped).
    async fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.answer.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None) | Err(_)) => return true,
            }
        }
    }

    /// Expects `hello` first.
    async fn hello(&mut self) {
        let first = self.next(Duration::from_secs(5)).await.expect("a first event");
        assert_eq!(first.name, "hello");
        assert!(first.data.parse::<i64>().is_ok(), "hello says when the last change was: {first:?}");
    }

    /// Reads events until none has come for `quiet`: what the app was still
    /// announcing before a test's own change.
    async fn settle(&mut self, quiet: Duration) {
        while self.next(quiet).await.is_some() {}
    }
}

fn header(answer: &reqwest::Response, name: &str) -> String {
    answer.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Posts a server function's form as the page's script does (JSON answer).
async fn post(browser: &reqwest::Client, url: String, form: &[(&str, &str)]) {
    let answer = browser.post(url).form(form).send().await.expect("post");
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap_or_default());
}

#[tokio::test]
async fn a_signed_in_page_hears_hello_then_a_refresh_made_through_the_app_within_a_second() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account_id(&app, "acme_news").await;
    let mut live = Live::open(&admin, app.url("/live")).await;
    live.hello().await;
    live.settle(Duration::from_millis(700)).await;

    post(&admin, app.url(RefreshNow::PATH), &[("id", news.as_str())]).await;
    let event = live.next(Duration::from_secs(1)).await.expect("`changed` within a second of the refresh");
    assert_eq!(event.name, "changed");
    assert!(event.data.parse::<i64>().unwrap() > 0, "{event:?}");

    // A page opened afterwards hears when the last change was: it can tell
    // whether it missed one.
    let mut last = event;
    while let Some(event) = live.next(Duration::from_millis(700)).await {
        last = event;
    }
    let mut second = Live::open(&admin, app.url("/live")).await;
    let hello = second.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello, Event { name: "hello".into(), data: last.data });
}

#[tokio::test]
async fn a_prompt_raised_for_the_dashboard_is_announced_though_it_records_no_event() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let mut live = Live::open(&admin, app.url("/live")).await;
    live.hello().await;
    live.settle(Duration::from_millis(700)).await;
    // The demo's accounts that need a person, prompted: the dashboard's "Needs you".
    let done = authwatch::server::notify::reconcile(&app.state, now_ms()).await.unwrap();
    assert!(done.raised > 0, "the demo has accounts to prompt for");
    let event = live.next(Duration::from_secs(1)).await.expect("`changed` within a second of the prompts");
    assert_eq!(event.name, "changed");
}

#[tokio::test]
async fn signed_out_there_is_no_stream_only_a_401() {
    let app = TestApp::demo().await;
    let stranger = app.browser();
    let answer = stranger.get(app.url("/live")).send().await.unwrap();
    assert_eq!(answer.status(), 401, "not a redirect to the sign-in page: no person opens it");
    assert_ne!(header(&answer, CONTENT_TYPE.as_str()), "text/event-stream");
    assert_eq!(answer.text().await.unwrap(), "Sign in first.");

    // Signed out again: the session that opened streams opens no more.
    let admin = app.admin().await;
    Live::open(&admin, app.url("/live")).await.hello().await;
    let out = admin.post(app.url("/auth/sign-out")).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(admin.get(app.url("/live")).send().await.unwrap().status(), 401);

    // Nor with a made-up session cookie.
    let forged = reqwest::Client::new()
        .get(app.url("/live"))
        .header(reqwest::header::COOKIE, "authwatch.sid=AAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn a_server_shutting_down_ends_its_streams_instead_of_waiting_for_them() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let mut live = Live::open(&admin, app.url("/live")).await;
    live.hello().await;
    drop(app);
    assert!(live.ends_within(Duration::from_secs(2)).await, "the stream held the shutdown open");
}

#[tokio::test]
async fn beyond_the_cap_a_stream_is_refused_with_503_and_retry_after_until_one_closes() {
    let app = TestApp::builder().demo().var("AUTHWATCH_LIVE_STREAMS_MAX", "3").start().await;
    let admin = app.admin().await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut live = Live::open(&admin, app.url("/live")).await;
        live.hello().await;
        open.push(live);
    }
    // A hostile client asking for many more gets none of them.
    let refused = futures::future::join_all((0..20).map(|_| admin.get(app.url("/live")).send())).await;
    for answer in refused {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), 503);
        assert!(header(&answer, RETRY_AFTER.as_str()).parse::<u64>().is_ok_and(|s| s > 0), "Retry-After in seconds");
        assert!(answer.text().await.unwrap().contains("refreshes itself"), "says what the page does instead");
    }
    // The streams held are unharmed, and a closed one frees its slot.
    post(&admin, app.url(CheckNow::PATH), &[("id", account_id(&app, "acme_news").await.as_str())]).await;
    for live in &mut open {
        let mut event = live.next(Duration::from_secs(2)).await.expect("the held streams still hear changes");
        while event.name != "changed" {
            event = live.next(Duration::from_secs(2)).await.unwrap();
        }
    }
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = admin.get(app.url("/live")).send().await.unwrap();
        if answer.status() == 200 {
            break;
        }
        assert_eq!(answer.status(), 503);
        assert!(Instant::now() < deadline, "the closed stream's slot was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_burst_of_200_changes_is_a_few_events_and_the_last_comes_after_it() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account_id(&app, "acme_news").await;
    let mut live = Live::open(&admin, app.url("/live")).await;
    live.hello().await;
    live.settle(Duration::from_millis(700)).await;

    // 200 checks, 8 at a time, each an event in the database.
    let form = [("id", news.as_str())];
    let started = Instant::now();
    let burst = futures::stream::iter(0..200)
        .map(|_| post(&admin, app.url(CheckNow::PATH), &form))
        .buffer_unordered(8)
        .collect::<Vec<()>>();
    let mut heard = Vec::new();
    tokio::pin!(burst);
    let ended = loop {
        tokio::select! {
            _ = &mut burst => break started.elapsed(),
            event = live.next(Duration::from_secs(30)) => heard.push((started.elapsed(), event.expect("an event"))),
        }
    };
    while let Some(event) = live.next(Duration::from_millis(1500)).await {
        heard.push((started.elapsed(), event));
    }
    assert!(heard.iter().all(|(_, e)| e.name == "changed"), "{heard:?}");
    // Four a second at most: one per quarter second the burst and its tail lasted.
    let lasted = heard.last().map_or(ended, |(at, _)| *at);
    let bound = (lasted.as_millis() / 250) as usize + 2;
    assert!(heard.len() <= bound, "{} events for a burst of {ended:?}: at most {bound}", heard.len());
    assert!(heard.len() < 50, "a burst of 200 changes is not 200 events ({})", heard.len());
    let (last, _) = heard.last().expect("the burst was announced");
    assert!(*last >= ended, "an event after the burst's last change (burst {ended:?}, last event {last:?})");
}

#[tokio::test]
async fn a_second_process_on_the_same_file_hears_a_change_made_by_the_first_within_a_second() {
    // X, emulated, served from this test, so that both processes reach it.
    let emulator = Emulator::new(EmulatorSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let x = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().display().to_string();
    let vars: Vec<(String, String)> = [
        ("AUTHWATCH_X_CLIENT_ID", "replicas"),
        ("AUTHWATCH_X_CLIENT_SECRET", "replicas-secret"),
        ("AUTHWATCH_X_AUTHORIZE_URL", &format!("{x}/i/oauth2/authorize")),
        ("AUTHWATCH_X_TOKEN_URL", &format!("{x}/2/oauth2/token")),
        ("AUTHWATCH_X_REVOKE_URL", &format!("{x}/2/oauth2/revoke")),
        ("AUTHWATCH_X_API_BASE", &x),
        ("AUTHWATCH_DATA_DIR", &data),
        ("AUTHWATCH_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    // The first: this process. It creates the database, its key and a user.
    let first = TestApp::builder().vars(vars.clone()).start().await;
    emulator
        .create_app(NewApp {
            name: "replicas".into(),
            client_id: Some("replicas".into()),
            client_secret: Some("replicas-secret".into()),
            client_type: ClientType::Confidential,
            callbacks: vec![first.url("/auth/x/callback")],
            in_project: true,
            consumer_key: None,
            consumer_secret: None,
        })
        .unwrap();
    let password = "a long enough password for replicas";
    let hash = first.state.passwords.hash(password.to_owned()).await.unwrap();
    users::add(&first.state.pool, "ops@example.com", "Ops", &hash, users::Role::Admin, now_ms()).await.unwrap();

    // The second: the server binary, on the same file — or, when the suite
    // runs on PostgreSQL, on the same database, told of changes by its
    // notifications.
    let mut vars = vars;
    if let Some(url) = &first.postgres {
        vars.push(("AUTHWATCH_DATABASE_URL".into(), url.clone()));
        vars.push(("AUTHWATCH_ENCRYPTION_KEY".into(), crate::support::TEST_KEY.into()));
    }
    let log = data_dir.path().join("second.log");
    let second = ServerProcess::start(&binary(), &vars, log);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers([(reqwest::header::ORIGIN, second.base().parse().unwrap())].into_iter().collect())
        .build()
        .unwrap();
    second.wait_healthy(&client).await;
    let signed_in = client
        .post(format!("{}/auth/sign-in", second.base()))
        .form(&[("email", "ops@example.com"), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "{}", second.log_text());
    let mut live = Live::open(&client, format!("{}/live", second.base())).await;
    live.hello().await;
    live.settle(Duration::from_millis(700)).await;

    // A connect, made by the first process.
    let user = emulator.create_user(NewUser { id: None, username: "replica_news".into(), name: "Replica".into() });
    connect_as(&first.state, &user.id, &Intent::NewAccount, "test", None).await.unwrap();
    let connected = Instant::now();
    let event = live.next(Duration::from_secs(1)).await;
    assert_eq!(
        event.map(|e| e.name).as_deref(),
        Some("changed"),
        "the second process announces the first one's change within a second ({:?}); its log:\n{}",
        connected.elapsed(),
        second.log_text()
    );
}
