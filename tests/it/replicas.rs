//! Three replicas on one PostgreSQL database, through a `kill -9`: three
//! real `authwatch serve` processes share one sweep of 2,000 due accounts
//! against one X emulator over real HTTP, while the pipeline asks all three
//! for tokens and publishes posts; one replica is killed in the middle of
//! the sweep and started again on its port. X must see exactly one refresh
//! per account, every stored token must still work, no message may go out
//! twice, the pipeline must see no failure after its one retry on another
//! replica, and no post may be published twice.
//!
//! PostgreSQL only (`AUTHWATCH_TEST_POSTGRES`): SQLite is one file of one
//! process.
//!
//! Each replica reaches X through a door of its own (a listener in front of
//! the one emulator) that records every refresh and can hold the replica's
//! calls. The kill comes while the victim's calls are held: its refreshes in
//! flight have been sent (their `started` event is written, their lease
//! taken) but X has not seen them. A kill after X rotated a refresh token
//! and before the answer was written loses that chain whatever the software
//! does (X keeps no grace window); that case is the crash-recovery tests'
//! (flagged as a lost answer, never guessed at). What this test proves is
//! that the replicas, sharing the work and recovering from the dead one,
//! never spend a refresh token twice and never lose one themselves.
//!
//! Posts go through the closed door to X and their answers are held: at the
//! kill, X has published posts the victim never heard about. The pipeline
//! sends each such request again, same idempotency key, to another replica;
//! the post must not go out a second time, and must end `unknown` (it may
//! be on X) rather than published twice.

use crate::support::process::{self, ServerProcess};
use crate::support::sinks::WebhookSink;
use crate::support::{postgres, TestApp, TEST_KEY};
use authwatch::emulator::{ClientType, Emulator, EmulatorSettings, NewApp, NewUser};
use authwatch::server::db::accounts;
use authwatch::server::demo;
use authwatch::server::lifecycle::connect::{Completed, Intent};
use authwatch::server::pipeline::auth;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const CLIENT_ID: &str = "chaos-app";
const CLIENT_SECRET: &str = "chaos-app-secret";
const CALLBACK: &str = "http://127.0.0.1:9/auth/x/callback";
const DUE: usize = 2_000;
/// Accounts whose grant the user revoked at X: each one's refresh is refused
/// and a person is prompted, so the replicas have messages to send. Fewer
/// than AUTHWATCH_INCIDENT_MIN_ACCOUNTS (5): five failing alike early in the
/// sweep may be one X incident, whose accounts' prompts wait for a probe.
/// (Their prompts still wait out the incident window, shortened below.)
const REVOKED: usize = 3;
const BROKER_CLIENTS: usize = 6;
const POST_CLIENTS: usize = 3;
/// A pause between one client's posts: enough posts to meet the kill, not
/// so many that they slow the sweep down.
const POST_PAUSE: Duration = Duration::from_millis(20);
/// How long a claimed post may stay `publishing` before a request with its
/// key gives it up as `unknown`: three X timeouts and ten seconds.
const STALE_CLAIM: Duration = Duration::from_secs(3 * 2 + 10);

/// One refresh X answered: the refresh token sent, and X's status.
type Refresh = (String, u16);

/// A listener in front of the emulator for one replica.
#[derive(Clone, Default)]
struct Door {
    /// While set, calls wait and are then refused (503) without reaching X;
    /// posts reach X and their answers wait.
    held: Arc<AtomicBool>,
    opened: Arc<Notify>,
    /// Calls other than posts that reached X and have not been answered yet.
    at_x: Arc<AtomicUsize>,
    /// Calls waiting at the closed door.
    waiting: Arc<AtomicUsize>,
    /// Posts X has published whose answers wait at the closed door.
    answers_held: Arc<AtomicUsize>,
    /// Every refresh that reached X.
    refreshes: Arc<Mutex<Vec<Refresh>>>,
}

impl Door {
    /// Serves `emulator`'s X endpoints behind this door; its base URL.
    async fn open(&self, emulator: &Emulator) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = emulator.x_router().layer(middleware::from_fn_with_state(self.clone(), pass));
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.opened.notify_waiters();
    }

    async fn until_open(&self) {
        while self.held.load(Ordering::SeqCst) {
            let opened = self.opened.notified();
            if !self.held.load(Ordering::SeqCst) {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), opened).await;
        }
    }
}

async fn pass(State(door): State<Door>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/2/tweets" {
        // X publishes; while the door is closed the replica never hears so.
        let response = next.run(request).await;
        if door.held.load(Ordering::SeqCst) {
            door.answers_held.fetch_add(1, Ordering::SeqCst);
            door.until_open().await;
            door.answers_held.fetch_sub(1, Ordering::SeqCst);
        }
        return response;
    }
    if door.held.load(Ordering::SeqCst) {
        door.waiting.fetch_add(1, Ordering::SeqCst);
        door.until_open().await;
        door.waiting.fetch_sub(1, Ordering::SeqCst);
        // Never forwarded: X did not see this call.
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "held at the door").into_response();
    }
    door.at_x.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let refresh_token = (parts.uri.path() == "/2/oauth2/token")
        .then(|| {
            let form: HashMap<String, String> = form_urlencoded::parse(&bytes).into_owned().collect();
            (form.get("grant_type").map(String::as_str) == Some("refresh_token"))
                .then(|| form.get("refresh_token").cloned().unwrap_or_default())
        })
        .flatten();
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if let Some(token) = refresh_token {
        door.refreshes.lock().expect("refreshes").push((token, response.status().as_u16()));
    }
    door.at_x.fetch_sub(1, Ordering::SeqCst);
    response
}

/// The variables of a live install on `db_url` whose X is at `x`.
fn live(x: &str, db_url: &str, data_dir: &std::path::Path, webhook: &str) -> Vec<(String, String)> {
    [
        ("AUTHWATCH_X_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AUTHWATCH_X_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("AUTHWATCH_X_AUTHORIZE_URL", format!("{x}/i/oauth2/authorize")),
        ("AUTHWATCH_X_TOKEN_URL", format!("{x}/2/oauth2/token")),
        ("AUTHWATCH_X_REVOKE_URL", format!("{x}/2/oauth2/revoke")),
        ("AUTHWATCH_X_API_BASE", x.to_owned()),
        ("AUTHWATCH_X_CALLBACK_URL", CALLBACK.to_owned()),
        ("AUTHWATCH_ENVIRONMENT", "chaos".to_owned()),
        ("AUTHWATCH_DATABASE_URL", db_url.to_owned()),
        ("AUTHWATCH_ENCRYPTION_KEY", TEST_KEY.to_owned()),
        ("AUTHWATCH_DATA_DIR", data_dir.display().to_string()),
        // Sweep promptly; a dead replica's leases last 2 × 2 s.
        ("AUTHWATCH_SWEEP_INTERVAL_SECS", "1".to_owned()),
        ("AUTHWATCH_X_TIMEOUT_SECS", "2".to_owned()),
        ("AUTHWATCH_NOTIFY_INTERVAL_SECS", "1".to_owned()),
        // Accounts failing alike are held back from their own prompts while
        // they might still be one X incident (10 minutes by default).
        ("AUTHWATCH_INCIDENT_WINDOW_SECS", "2".to_owned()),
        ("AUTHWATCH_WEBHOOK_URL", webhook.to_owned()),
        ("AUTHWATCH_WEBHOOK_SECRET", "chaos-webhook-secret".to_owned()),
        ("AUTHWATCH_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What the pipeline's clients saw.
#[derive(Default)]
struct BrokerLoad {
    served: AtomicUsize,
    retried: AtomicUsize,
    failed: AtomicUsize,
    first_failures: Mutex<Vec<String>>,
}

/// Asks the replicas for tokens until `stop`: each client starts at its own
/// replica and, on a connection error or a 5xx, asks the next one once.
async fn ask_for_tokens(
    client: usize,
    bases: Arc<Vec<String>>,
    ids: Arc<Vec<String>>,
    key: String,
    load: Arc<BrokerLoad>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut n = client;
    while !stop.load(Ordering::Relaxed) {
        n += BROKER_CLIENTS;
        let id = &ids[n % ids.len()];
        let mut outcome = String::new();
        for attempt in 0..2 {
            let base = &bases[(client + n / BROKER_CLIENTS + attempt) % bases.len()];
            let answer = http.get(format!("{base}/api/v1/accounts/{id}/token")).bearer_auth(&key).send().await;
            match answer {
                Ok(r) if r.status().is_success() => {
                    let body = r.text().await.unwrap_or_default();
                    outcome = if body.contains("\"access_token\"") {
                        String::new()
                    } else {
                        format!("200 without a token: {body}")
                    };
                    break;
                }
                Ok(r) if r.status().is_server_error() => outcome = format!("{base}: HTTP {}", r.status()),
                Ok(r) => {
                    outcome = format!("{base}: HTTP {}: {}", r.status(), r.text().await.unwrap_or_default());
                    break;
                }
                Err(e) => outcome = format!("{base}: {e}"),
            }
            if attempt == 0 {
                load.retried.fetch_add(1, Ordering::Relaxed);
            }
        }
        if outcome.is_empty() {
            load.served.fetch_add(1, Ordering::Relaxed);
        } else {
            load.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = load.first_failures.lock().expect("failures");
            if first.len() < 5 {
                first.push(outcome);
            }
        }
    }
}

/// One post the pipeline sent, and what each of its requests was answered.
#[derive(Clone, Debug)]
struct Sent {
    account_id: String,
    key: String,
    text: String,
    /// Per request: `<replica> <status> <problem type>`, or `<replica> <connection error>`.
    answers: Vec<String>,
    /// The last request's status; `None` when it got no answer.
    status: Option<u16>,
    /// X's id for the post when it was answered published.
    x_post_id: Option<String>,
}

/// Publishes posts through the replicas until `stop`, each post with a key
/// of its own: each client starts at its own replica and, on a connection
/// error or a 5xx, sends the same request (same key) to the next one once.
async fn publish_posts(
    client: usize,
    bases: Arc<Vec<String>>,
    ids: Arc<Vec<String>>,
    key: String,
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut n = client;
    while !stop.load(Ordering::Relaxed) {
        n += POST_CLIENTS;
        let account_id = ids[(n * 7) % ids.len()].clone();
        let mut post = Sent {
            key: format!("chaos-post-{n}"),
            text: format!("Chaos post {n} for {account_id}"),
            account_id,
            answers: Vec::new(),
            status: None,
            x_post_id: None,
        };
        for attempt in 0..2 {
            let replica = (client + n / POST_CLIENTS + attempt) % bases.len();
            post.status = None;
            match publish(&http, &bases[replica], &key, &post).await {
                Ok((status, body)) => {
                    post.answers.push(format!("{replica} {status} {}", body["type"].as_str().unwrap_or("")));
                    post.status = Some(status);
                    post.x_post_id = body["x_post_id"].as_str().map(str::to_owned);
                    if status < 500 {
                        break;
                    }
                }
                Err(e) => post.answers.push(format!("{replica} {e}")),
            }
        }
        sent.lock().expect("sent").push(post);
        tokio::time::sleep(POST_PAUSE).await;
    }
}

/// `POST /api/v1/accounts/{id}/posts` for `post` at `base`: the status and the JSON body.
async fn publish(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    post: &Sent,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let r = http
        .post(format!("{base}/api/v1/accounts/{}/posts", post.account_id))
        .bearer_auth(key)
        .header("Idempotency-Key", &post.key)
        .json(&serde_json::json!({ "text": post.text }))
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or_default();
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_sweep_through_a_kill_9() {
    if postgres::server().is_none() {
        println!("skipped: three replicas share one PostgreSQL database; set {} to run", postgres::VAR);
        return;
    }
    let started = Instant::now();
    // X's own refusal of a duplicate would hide a post sent twice: here a
    // second send is a second post.
    let emulator = Emulator::new(EmulatorSettings {
        access_token_ttl_secs: 300,
        control_enabled: false,
        reject_duplicate_posts: false,
        ..Default::default()
    });
    emulator
        .create_app(NewApp {
            name: "chaos".into(),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(CLIENT_SECRET.into()),
            client_type: ClientType::Confidential,
            callbacks: vec![CALLBACK.into()],
            in_project: true,
            consumer_key: None,
            consumer_secret: None,
        })
        .expect("app");
    let doors: Vec<Door> = (0..4).map(|_| Door::default()).collect();
    let mut urls = Vec::new();
    for door in &doors {
        urls.push(door.open(&emulator).await);
    }
    let (sink, webhook) = WebhookSink::start().await;

    // The accounts, connected through the real code path by an app on a
    // fresh database (its engine does not run), due within the refresh lead.
    let seed_dir = tempfile::tempdir().expect("temp dir");
    let seeder = TestApp::builder()
        .vars(live(&urls[3], "", seed_dir.path(), &webhook).into_iter().filter(|(k, _)| k != "AUTHWATCH_DATABASE_URL"))
        .start()
        .await;
    let db_url = seeder.postgres.clone().expect("a PostgreSQL database");
    let state = seeder.state.clone();
    let users: Vec<String> = (0..DUE + REVOKED)
        .map(|i| {
            emulator.create_user(NewUser { id: None, username: format!("chaos_{i}"), name: format!("Chaos {i}") }).id
        })
        .collect();
    let ids: Vec<String> = stream::iter(users.clone())
        .map(|user| {
            let state = &state;
            async move {
                match demo::connect_as(state, &user, &Intent::NewAccount, "chaos", None).await {
                    Ok(Completed::Saved { connected, .. }) => connected.account_id,
                    other => panic!("connecting {user}: {other:?}"),
                }
            }
        })
        .buffered(16)
        .collect()
        .await;
    let (due_ids, revoked_ids) = ids.split_at(DUE);
    let mut revoked_tokens = HashSet::new();
    for (id, user) in revoked_ids.iter().zip(&users[DUE..]) {
        let tokens = accounts::tokens(&state.pool, &state.keyring, id).await.expect("tokens").expect("account");
        revoked_tokens.insert(tokens.refresh.expect("a refresh token").expose().to_owned());
        emulator.revoke_grant(CLIENT_ID, user);
    }
    let key = auth::create_key(&state.pool, "chaos", None, "chaos").await.expect("key").key.expose().to_owned();
    // Refreshed tokens live two hours: nothing is due twice in this run.
    emulator.update_settings(|s| s.access_token_ttl_secs = 7200);
    emulator.reset_counts();
    let seeded = started.elapsed();

    // Three replicas, each through its own door.
    let bin = process::binary();
    let logs = tempfile::tempdir().expect("temp dir");
    let vars: Vec<Vec<(String, String)>> = (0..3)
        .map(|i| {
            let dir = logs.path().join(format!("data-{i}"));
            std::fs::create_dir_all(&dir).expect("data dir");
            live(&urls[i], &db_url, &dir, &webhook)
        })
        .collect();
    let log = |i: usize| logs.path().join(format!("replica-{i}.log"));
    let mut replicas: Vec<Option<ServerProcess>> =
        (0..3).map(|i| Some(ServerProcess::start(&bin, &vars[i], log(i)))).collect();
    let http = reqwest::Client::new();
    for r in replicas.iter().flatten() {
        r.wait_healthy(&http).await;
    }
    let booted = started.elapsed();
    let bases: Arc<Vec<String>> = Arc::new(replicas.iter().flatten().map(ServerProcess::base).collect());

    // The pipeline's load on the broker, spread over the replicas.
    let load = Arc::new(BrokerLoad::default());
    let stop = Arc::new(AtomicBool::new(false));
    let due = Arc::new(due_ids.to_vec());
    let clients: Vec<_> = (0..BROKER_CLIENTS)
        .map(|c| tokio::spawn(ask_for_tokens(c, bases.clone(), due.clone(), key.clone(), load.clone(), stop.clone())))
        .collect();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let publishers: Vec<_> = (0..POST_CLIENTS)
        .map(|c| tokio::spawn(publish_posts(c, bases.clone(), due.clone(), key.clone(), sent.clone(), stop.clone())))
        .collect();

    // The kill: after some refreshes, before all; while the victim's calls
    // to X are held and none of its refreshes is at X, and X has published
    // posts of the victim's whose answers it never got.
    let victim = 1;
    let refreshed = || emulator.counts().client(CLIENT_ID).refresh_grants as usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    while refreshed() < DUE / 5 || doors[victim].refreshes.lock().expect("refreshes").is_empty() {
        assert!(Instant::now() < deadline, "the sweep did not start: {} refreshes", refreshed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doors[victim].hold();
    let deadline = Instant::now() + Duration::from_secs(10);
    while doors[victim].at_x.load(Ordering::SeqCst) > 0
        || doors[victim].waiting.load(Ordering::SeqCst) == 0
        || doors[victim].answers_held.load(Ordering::SeqCst) == 0
    {
        assert!(
            Instant::now() < deadline,
            "the victim was not refreshing any more (the sweep ended too soon), or published nothing: \
             {} calls waiting, {} posts' answers held",
            doors[victim].waiting.load(Ordering::SeqCst),
            doors[victim].answers_held.load(Ordering::SeqCst),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // What X answered has been written by now; what waits at the door never reached X.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_kill = refreshed();
    let held_at_kill = doors[victim].waiting.load(Ordering::SeqCst);
    let port = replicas[victim].as_ref().expect("victim").port();
    let posts_unanswered = doors[victim].answers_held.load(Ordering::SeqCst);
    replicas[victim].take().expect("victim").kill9();
    let killed = started.elapsed();
    let killed_at = Instant::now();
    doors[victim].release();
    let restarted = ServerProcess::start_on(&bin, &vars[victim], log(victim), port);
    restarted.wait_healthy(&http).await;
    replicas[victim] = Some(restarted);
    let back = started.elapsed();
    assert!(at_kill < DUE, "the kill came after the sweep: {at_kill} refreshes");

    // Until every due account is refreshed (the dead replica's leases run
    // out, its unfinished refreshes are recovered), and the prompts are sent.
    let deadline = Instant::now() + Duration::from_secs(90);
    let generations = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM token_sets t JOIN accounts a ON a.id = t.account_id
             WHERE t.generation = 2 AND a.incident_cause IS NULL",
        )
        .fetch_one(&state.pool)
        .await
        .expect("count")
    };
    let mut timeline = Vec::new();
    let mut next_mark = Instant::now();
    while generations().await < DUE as i64 {
        if Instant::now() >= next_mark {
            timeline.push(format!("{:.0} s: {}", started.elapsed().as_secs_f64(), refreshed()));
            next_mark += Duration::from_secs(2);
        }
        if Instant::now() > deadline {
            let logs: String = (0..3).map(|i| std::fs::read_to_string(log(i)).unwrap_or_default()).collect();
            panic!("only {} of {DUE} accounts were refreshed; logs:\n{logs}", generations().await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let swept = started.elapsed();
    let undelivered = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notifications WHERE delivered_at IS NULL")
            .fetch_one(&state.pool)
            .await
            .expect("count")
    };
    // The prompts get a time of their own after the sweep: on a loaded
    // machine the sweep may have used most of its deadline.
    let deadline = deadline.max(Instant::now() + Duration::from_secs(45));
    while sink.received.lock().expect("hooks").is_empty() || undelivered().await > 0 {
        assert!(Instant::now() < deadline, "the prompts for the revoked accounts were not delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("broker client");
    }
    for p in publishers {
        p.await.expect("post client");
    }
    // A post whose request died with the victim stays claimed: the other
    // replica answered its retry "in progress" (409). Once the claim is
    // stale, the pipeline asks again, as that answer says, with the same key.
    tokio::time::sleep_until((killed_at + STALE_CLAIM + Duration::from_secs(1)).into()).await;
    let mut sent = sent.lock().expect("sent").clone();
    let mut asked_again = 0;
    for post in sent.iter_mut().filter(|p| p.status == Some(409)) {
        let (status, body) = publish(&http, &bases[0], &key, post).await.expect("asking again");
        post.answers.push(format!("0 {status} {}", body["type"].as_str().unwrap_or("")));
        post.status = Some(status);
        post.x_post_id = body["x_post_id"].as_str().map(str::to_owned);
        asked_again += 1;
    }
    let settled = started.elapsed();
    // A last moment for a straggling duplicate delivery to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // X: exactly one refresh per due account, none refused but the revoked ones'.
    let refreshes: Vec<Refresh> = doors.iter().flat_map(|d| d.refreshes.lock().expect("refreshes").clone()).collect();
    let grants = refreshed();
    assert_eq!(grants, refreshes.len(), "every refresh went through a door");
    let refused: Vec<&Refresh> =
        refreshes.iter().filter(|(token, status)| *status != 200 && !revoked_tokens.contains(token)).collect();
    assert!(
        refused.is_empty(),
        "X refused {} refreshes of live accounts (a spent refresh token): {refused:?}",
        refused.len()
    );
    let mut spent: HashMap<&str, usize> = HashMap::new();
    for (token, _) in refreshes.iter().filter(|(_, status)| *status == 200) {
        *spent.entry(token.as_str()).or_default() += 1;
    }
    assert!(spent.values().all(|&n| n == 1), "a refresh token was accepted twice");
    assert_eq!(spent.len(), DUE, "one successful refresh per due account at X");
    let per_replica: Vec<usize> = doors[..3]
        .iter()
        .map(|d| d.refreshes.lock().expect("refreshes").iter().filter(|(_, s)| *s == 200).count())
        .collect();
    assert!(per_replica.iter().all(|&n| n > 0), "every replica took part in the sweep: {per_replica:?}");

    // The database: one saved refresh per account, and every stored token works at X.
    let saved: Vec<(String, i64)> = sqlx::query_as(
        "SELECT account_id, COUNT(*) FROM events WHERE kind = 'refresh' AND outcome = 'ok' GROUP BY account_id",
    )
    .fetch_all(&state.pool)
    .await
    .expect("refresh events");
    let saved: HashMap<String, i64> = saved.into_iter().collect();
    let x = reqwest::Client::new();
    let lost: Vec<String> = stream::iter(due_ids.iter())
        .map(|id| {
            let (state, x, saved, url) = (&state, &x, &saved, &urls[3]);
            async move {
                let tokens = accounts::tokens(&state.pool, &state.keyring, id).await.expect("tokens").expect("account");
                let me = x.get(format!("{url}/2/users/me")).bearer_auth(tokens.access.expose()).send().await;
                let refresh = x
                    .post(format!("{url}/2/oauth2/token"))
                    .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", tokens.refresh.expect("refresh").expose()),
                    ])
                    .send()
                    .await;
                let ok = |r: &Result<reqwest::Response, reqwest::Error>| r.as_ref().is_ok_and(|r| r.status() == 200);
                let fine = tokens.generation == 2 && saved.get(id.as_str()) == Some(&1) && ok(&me) && ok(&refresh);
                (!fine).then(|| {
                    format!("{id}: generation {}, saved refreshes {:?}", tokens.generation, saved.get(id.as_str()))
                })
            }
        })
        .buffer_unordered(16)
        .filter_map(|lost| async move { lost })
        .collect()
        .await;
    assert!(lost.is_empty(), "{} tokens lost: {:?}", lost.len(), &lost[..lost.len().min(10)]);
    let flagged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE incident_cause IS NOT NULL")
        .fetch_one(&state.pool)
        .await
        .expect("flagged");
    assert_eq!(flagged, REVOKED as i64, "only the revoked accounts are flagged");

    // Messages: each delivered once.
    let hooks: Vec<String> = sink.received.lock().expect("hooks").iter().map(|h| h.body.clone()).collect();
    let unique: HashSet<&String> = hooks.iter().collect();
    assert_eq!(unique.len(), hooks.len(), "a message was delivered twice: {hooks:#?}");
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications").fetch_one(&state.pool).await.expect("notifications");
    assert_eq!(rows as usize, hooks.len(), "each queued message was delivered exactly once");

    // The pipeline: no failure after its one retry.
    let first = load.first_failures.lock().expect("failures").clone();
    assert_eq!(load.failed.load(Ordering::Relaxed), 0, "the broker failed after a retry: {first:?}");
    assert!(load.served.load(Ordering::Relaxed) > 100, "the broker was under load");

    // Posts. At X: no text twice, and nothing the pipeline did not send.
    let mut at_x: HashMap<String, Vec<String>> = HashMap::new();
    for tweet in emulator.tweets() {
        at_x.entry(tweet.text).or_default().push(tweet.id);
    }
    let twice: Vec<(&String, &Vec<String>)> = at_x.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "{} posts published twice at X: {:?}", twice.len(), &twice[..twice.len().min(5)]);
    let texts: HashSet<&str> = sent.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts.len(), sent.len(), "every post has a text of its own");
    assert!(at_x.keys().all(|t| texts.contains(t.as_str())), "X published a post nobody sent");
    // In the database: one row per idempotency key, for exactly the keys sent.
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT idempotency_key, COUNT(*) FROM posts GROUP BY api_key_id, idempotency_key")
            .fetch_all(&state.pool)
            .await
            .expect("posts per key");
    assert!(rows.iter().all(|(_, n)| *n == 1), "an idempotency key has more than one row");
    assert_eq!(rows.len(), sent.len(), "one row per post sent");
    let rows: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("SELECT idempotency_key, text, status, x_post_id FROM posts")
            .fetch_all(&state.pool)
            .await
            .expect("posts");
    let rows: HashMap<String, (String, String, Option<String>)> =
        rows.into_iter().map(|(key, text, status, x_id)| (key, (text, status, x_id))).collect();
    // Each post: published once (as answered), or `unknown` — it may be on X
    // — when its request died with the victim; never anything else.
    let (mut published, mut unknown, mut unknown_at_x) = (0, 0, 0);
    let mut wrong = Vec::new();
    for post in &sent {
        let Some((text, status, x_id)) = rows.get(&post.key) else {
            wrong.push(format!("{}: no row", post.key));
            continue;
        };
        let at_x = at_x.get(&post.text).map(Vec::as_slice).unwrap_or_default();
        let died_with_victim = post.answers.iter().any(|a| a.starts_with(&format!("{victim} error")));
        let fine = text == &post.text
            && match status.as_str() {
                "published" => {
                    published += 1;
                    at_x.len() == 1
                        && x_id.as_deref() == Some(at_x[0].as_str())
                        && post.status == Some(201)
                        && post.x_post_id == *x_id
                }
                "unknown" => {
                    unknown += 1;
                    unknown_at_x += at_x.len();
                    died_with_victim && post.status == Some(502)
                }
                _ => false,
            };
        if !fine {
            wrong.push(format!("{}: {status}, {} at X, answered {:?}", post.key, at_x.len(), post.answers));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} posts not published once nor unknown: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    assert!(published > 100, "the pipeline published: {published} posts");
    assert!(
        unknown_at_x >= posts_unanswered && posts_unanswered > 0,
        "the victim's posts X published unanswered ({posts_unanswered}) are unknown, not published again: \
         {unknown_at_x} of {unknown} unknown posts are on X"
    );

    println!(
        "replicas: seeded {} accounts in {:.1} s; replicas healthy at {:.1} s; killed at {:.1} s after {at_kill} refreshes \
         ({held_at_kill} of its refreshes held at the door); back at {:.1} s; all {DUE} refreshed at {:.1} s; \
         refreshes per replica (victim's door counts both lives) {per_replica:?}; broker {} served, {} retried on \
         another replica, 0 failed; {} messages delivered once each; posts: {} sent, {published} published once, \
         {unknown} unknown ({unknown_at_x} of them on X, {posts_unanswered} unanswered at the kill), {asked_again} \
         asked again after the stale claim at {:.1} s; total {:.1} s; refreshes at X after the restart: {}",
        DUE + REVOKED,
        seeded.as_secs_f64(),
        booted.as_secs_f64(),
        killed.as_secs_f64(),
        back.as_secs_f64(),
        swept.as_secs_f64(),
        load.served.load(Ordering::Relaxed),
        load.retried.load(Ordering::Relaxed),
        hooks.len(),
        sent.len(),
        settled.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        timeline.join(", "),
    );
}
