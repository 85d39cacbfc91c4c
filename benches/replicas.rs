//! Replicas on PostgreSQL: the token broker, the refresh sweep and the
//! dashboard measured on real `authwatch serve` processes in live mode, each
//! beside its baseline in the same run.
//!
//! 1. Token broker, 1 and 3 replicas on one PostgreSQL database, against a
//!    bare axum handler (a constant JSON body of the token answer's size, on
//!    its own port in this process): `BENCH_CONNECTIONS` keep-alive clients
//!    (client `i` asks replica `i mod n`) send requests back to back for
//!    `BENCH_SECS` after a warm-up (1 s; 0.2 s in smoke mode); req/s, p50,
//!    p99. Every answer must be 200 with the token.
//! 2. Sweep of `BENCH_ACCOUNTS` due accounts, 1 and 3 replicas, against the
//!    emulator's token endpoint alone (refresh grants posted straight at it,
//!    at the replicas' total refresh concurrency). The emulator is served
//!    over HTTP in this process; the accounts' grants are made in-process
//!    through its router (consent, code exchange) and written in one
//!    transaction of bulk INSERTs, sealed with the replicas' key, while the
//!    replicas already run. Zero lost tokens: X saw exactly one refresh per
//!    account, every account is at generation 2, and a sample of the stored
//!    refresh tokens still works at X.
//! 3. Dashboard first page at `BENCH_DASHBOARD_ACCOUNTS` accounts (bulk
//!    INSERTs in one transaction), on PostgreSQL and on SQLite: p50/p99 of
//!    `GET /` for a signed-in admin, and the server's peak RSS (VmHWM).
//!
//! Run: `AUTHWATCH_BENCH_POSTGRES=postgres://… cargo bench --features ssr --bench replicas`
//! (a server URL, like `AUTHWATCH_TEST_POSTGRES`: each scenario gets a fresh
//! database there). Without it the bench says it skips and exits 0.
//! Smoke: `BENCH_SMOKE=1` (or `cargo test --features ssr --bench replicas`):
//! 1 s per load, 200 due accounts, 1,000 dashboard accounts; it fails on a
//! lost token or an answer that is not 200, as the measurement does.
//!
//! Knobs: `BENCH_CONNECTIONS` (16), `BENCH_SECS` (5; 1 in smoke mode),
//! `BENCH_ACCOUNTS` (10000; 200), `BENCH_CONCURRENCY` (the replicas'
//! `AUTHWATCH_REFRESH_CONCURRENCY`, 16), `BENCH_DASHBOARD_ACCOUNTS` (100000;
//! 1000), `BENCH_REQUESTS` (300; 20): measured `GET /` per backend.

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use authwatch::emulator::{ClientType, Emulator, EmulatorSettings, NewApp, NewUser};
use authwatch::server::auth::password::Passwords;
use authwatch::server::crypto::Keyring;
use authwatch::server::db::users::{self, Role};
use authwatch::server::db::{self, accounts, apps, Pool, WriteScope};
use authwatch::server::pipeline::auth;
use authwatch::server::secret::Secret;
use authwatch::server::x::now_ms;
use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use futures::stream::{self, StreamExt};
use std::path::Path;
use std::time::{Duration, Instant};
use support::bench::{cpu_model, env_usize, percentile_ms, smoke};
use support::process::{self, ServerProcess};
use support::{postgres, TEST_KEY};
use tower::ServiceExt;

/// The variable naming the PostgreSQL server the bench creates its databases on.
const VAR: &str = "AUTHWATCH_BENCH_POSTGRES";
const CLIENT_ID: &str = "bench-replicas";
const CLIENT_SECRET: &str = "bench-replicas-secret";
const CALLBACK: &str = "http://127.0.0.1:9/auth/x/callback";
const SCOPES: &str = "tweet.read tweet.write users.read offline.access";
const ADMIN: (&str, &str) = ("admin@bench.example", "the-bench-admins-password");
/// Rows per INSERT statement: 1,000 rows of 10 columns stay under both
/// engines' limits on bound parameters.
const CHUNK: usize = 1_000;
const MINUTE: i64 = 60_000;

fn main() {
    let Some(server) = std::env::var(VAR).ok().filter(|v| !v.is_empty()) else {
        println!(
            "replicas benchmark skipped: it runs on PostgreSQL; set {VAR} to a server URL (postgres://…/postgres)"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if !runtime.block_on(run(&server)) {
        eprintln!("\nFAILED: lost tokens or failed answers (see above)");
        std::process::exit(1);
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One line of the final table.
struct Row {
    scenario: String,
    value: String,
    baseline: String,
    verdict: String,
}

async fn run(server: &str) -> bool {
    let smoke = smoke();
    let connections = env_usize("BENCH_CONNECTIONS", 16);
    let secs = env_usize("BENCH_SECS", if smoke { 1 } else { 5 }) as u64;
    let due = env_usize("BENCH_ACCOUNTS", if smoke { 200 } else { 10_000 });
    let concurrency = env_usize("BENCH_CONCURRENCY", 16);
    let dashboard_accounts = env_usize("BENCH_DASHBOARD_ACCOUNTS", if smoke { 1_000 } else { 100_000 });
    let requests = env_usize("BENCH_REQUESTS", if smoke { 20 } else { 300 });
    println!("authwatch replicas benchmark{}", if smoke { " (smoke)" } else { "" });
    println!(
        "machine: {} CPU(s), {}; load average at start {}",
        std::thread::available_parallelism().map(|c| c.get()).unwrap_or(0),
        cpu_model(),
        loadavg()
    );

    let x = X::start().await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin = process::binary();
    let mut rows = Vec::new();
    let mut ok = true;

    ok &= broker(&x, server, tmp.path(), &bin, connections, secs, &mut rows).await;
    for replicas in [1, 3] {
        ok &= sweep(&x, server, tmp.path(), &bin, replicas, due, concurrency, &mut rows).await;
    }
    let pg = postgres::fresh_database(server).await;
    dashboard("PostgreSQL", &pg, tmp.path(), &bin, dashboard_accounts, requests, &mut rows).await;
    let sqlite = format!("sqlite://{}", tmp.path().join("dashboard.db").display());
    dashboard("SQLite", &sqlite, tmp.path(), &bin, dashboard_accounts, requests, &mut rows).await;

    println!("\n| scenario | measured | baseline (same run) | goal |");
    println!("|---|---:|---:|---|");
    for r in &rows {
        println!("| {} | {} | {} | {} |", r.scenario, r.value, r.baseline, r.verdict);
    }
    println!("\nload average at end {}", loadavg());
    ok
}

// ---------------------------------------------------------------- X

/// The emulator, served over HTTP on its own port; its router is also
/// called in-process to make grants without a connection each.
struct X {
    emulator: Emulator,
    router: Router,
    base: String,
}

impl X {
    async fn start() -> Self {
        let emulator = Emulator::new(EmulatorSettings {
            access_token_ttl_secs: 300,
            control_enabled: false,
            ..Default::default()
        });
        emulator
            .create_app(NewApp {
                name: "bench".into(),
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(CLIENT_SECRET.into()),
                client_type: ClientType::Confidential,
                callbacks: vec![CALLBACK.into()],
                in_project: true,
                consumer_key: None,
                consumer_secret: None,
            })
            .expect("app");
        let router = emulator.x_router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let served = router.clone();
        tokio::spawn(async move { axum::serve(listener, served).await });
        Self { emulator, router, base }
    }

    fn refresh_grants(&self) -> u64 {
        self.emulator.counts().client(CLIENT_ID).refresh_grants
    }

    /// A grant for a new X user, through the consent form and the code
    /// exchange, in-process: (user id, access token, refresh token).
    async fn grant(&self, username: &str) -> (String, String, String) {
        let user = self.emulator.create_user(NewUser { id: None, username: username.into(), name: username.into() });
        let verifier = format!("verifier-{username}-0123456789012345678901234567890123456789");
        let consent = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", CALLBACK),
                ("scope", SCOPES),
                ("state", "bench"),
                ("code_challenge", verifier.as_str()),
                ("code_challenge_method", "plain"),
                ("user_id", user.id.as_str()),
                ("action", "authorize"),
            ])
            .finish();
        let answer = self.call("/i/oauth2/authorize", None, consent).await;
        let location = answer.headers().get("location").and_then(|l| l.to_str().ok()).expect("a redirect").to_owned();
        let code = url::Url::parse(&location)
            .expect("redirect URL")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let exchange = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier.as_str()),
            ])
            .finish();
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        let answer = self.call("/2/oauth2/token", Some(&basic), exchange).await;
        assert_eq!(answer.status(), 200, "code exchange");
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16).await.expect("body");
        let tokens: serde_json::Value = serde_json::from_slice(&body).expect("token JSON");
        let field = |name: &str| tokens[name].as_str().expect("a token").to_owned();
        (user.id, field("access_token"), field("refresh_token"))
    }

    async fn call(&self, path: &str, authorization: Option<&str>, form: String) -> axum::response::Response {
        let mut request = axum::http::Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        self.router.clone().oneshot(request.body(Body::from(form)).expect("request")).await.expect("emulator")
    }

    /// `n` grants, a few at a time.
    async fn grants(&self, prefix: &str, n: usize) -> Vec<(String, String, String)> {
        stream::iter(0..n)
            .map(|i| async move { self.grant(&format!("{prefix}_{i}")).await })
            .buffered(8)
            .collect()
            .await
    }
}

// ---------------------------------------------------------------- seeding

/// An account to write: X user id, access and refresh tokens, expiry.
struct Seed {
    x_user_id: String,
    access: String,
    refresh: Option<String>,
    issued_at: i64,
    expires_at: i64,
}

/// Writes `seeds` as connected accounts of the bench's app in one
/// transaction of bulk INSERTs (accounts, token sets, connect events),
/// tokens sealed as the server seals them. Returns the account ids.
async fn seed(pool: &Pool, keyring: &Keyring, seeds: &[Seed]) -> Vec<String> {
    let now = now_ms();
    let record = apps::AppRecord {
        client_id: CLIENT_ID,
        client_type: "confidential",
        environment: "bench",
        secret_fingerprint: Some(Secret::new(CLIENT_SECRET).fingerprint()),
        consumer_key_fingerprint: None,
    };
    apps::upsert(pool, &record, now).await.expect("app");
    let ids: Vec<String> = (0..seeds.len()).map(|i| format!("acc_bench{i:08}")).collect();
    let mut tx = db::begin_write(pool, WriteScope::All).await.expect("transaction");
    for (chunk, seeds) in ids.chunks(CHUNK).zip(seeds.chunks(CHUNK)) {
        let values = |columns: usize| {
            (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "INSERT INTO accounts (id, x_user_id, handle, display_name, client_id, connected_at) VALUES {}",
            values(6)
        );
        let mut q = sqlx::query(&sql);
        for (id, s) in chunk.iter().zip(seeds) {
            let handle = id.replace("acc_bench", "bench_");
            q = q.bind(id).bind(&s.x_user_id).bind(handle.clone()).bind(handle).bind(CLIENT_ID).bind(now - MINUTE);
        }
        q.execute(&mut *tx).await.expect("accounts");

        let sql = format!(
            "INSERT INTO token_sets (account_id, generation, access_token_ct, refresh_token_ct, key_id,
                 access_fingerprint, refresh_fingerprint, scopes, issued_at, expires_at) VALUES {}",
            values(10)
        );
        let mut q = sqlx::query(&sql);
        for (id, s) in chunk.iter().zip(seeds) {
            let access = Secret::new(s.access.clone());
            let refresh = s.refresh.clone().map(Secret::new);
            let sealed = keyring.seal(&access, &format!("{id}/access"));
            q = q
                .bind(id)
                .bind(1_i64)
                .bind(sealed.ciphertext)
                .bind(refresh.as_ref().map(|r| keyring.seal(r, &format!("{id}/refresh")).ciphertext))
                .bind(sealed.key_id)
                .bind(access.fingerprint())
                .bind(refresh.as_ref().map(Secret::fingerprint))
                .bind(SCOPES)
                .bind(s.issued_at)
                .bind(s.expires_at);
        }
        q.execute(&mut *tx).await.expect("token sets");

        let sql = format!(
            "INSERT INTO events (account_id, at, kind, outcome, generation_after, actor, detail) VALUES {}",
            values(7)
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q
                .bind(id)
                .bind(now - MINUTE)
                .bind("connect")
                .bind("ok")
                .bind(1_i64)
                .bind("bench")
                .bind(format!("granted scopes: {SCOPES}"));
        }
        q.execute(&mut *tx).await.expect("events");
    }
    tx.commit().await.expect("commit");
    ids
}

fn keyring(dir: &Path) -> Keyring {
    Keyring::load(Some(&Secret::new(TEST_KEY)), &[], dir).expect("keyring")
}

/// The variables of a live replica on `db_url` whose X is the emulator.
fn live(x: &X, db_url: &str, data_dir: &Path, concurrency: usize) -> Vec<(String, String)> {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let mut vars = process::live_vars(CLIENT_ID, CLIENT_SECRET, db_url, data_dir, TEST_KEY);
    vars.retain(|(k, _)| !k.starts_with("AUTHWATCH_X_"));
    let base = &x.base;
    vars.extend(
        [
            ("AUTHWATCH_X_CLIENT_ID", CLIENT_ID.to_owned()),
            ("AUTHWATCH_X_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("AUTHWATCH_X_AUTHORIZE_URL", format!("{base}/i/oauth2/authorize")),
            ("AUTHWATCH_X_TOKEN_URL", format!("{base}/2/oauth2/token")),
            ("AUTHWATCH_X_REVOKE_URL", format!("{base}/2/oauth2/revoke")),
            ("AUTHWATCH_X_API_BASE", base.clone()),
            ("AUTHWATCH_X_CALLBACK_URL", CALLBACK.to_owned()),
            ("AUTHWATCH_SWEEP_INTERVAL_SECS", "1".to_owned()),
            ("AUTHWATCH_REFRESH_CONCURRENCY", concurrency.to_string()),
            ("AUTHWATCH_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v)),
    );
    vars
}

/// `n` replicas on `db_url`, healthy.
async fn replicas(bin: &Path, vars: &[(String, String)], n: usize, logs: &Path, name: &str) -> Vec<ServerProcess> {
    let started: Vec<ServerProcess> =
        (0..n).map(|i| ServerProcess::start(bin, vars, logs.join(format!("{name}-{i}.log")))).collect();
    let http = reqwest::Client::new();
    for r in &started {
        r.wait_healthy(&http).await;
    }
    started
}

// ---------------------------------------------------------------- 1. broker

/// What a load runs before it counts: a second, a fifth of one in smoke mode.
fn warm_up() -> Duration {
    Duration::from_millis(if smoke() { 200 } else { 1_000 })
}

struct Load {
    requests: usize,
    failures: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    fn line(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            self.rate(),
            percentile_ms(&self.latencies, 0.5),
            percentile_ms(&self.latencies, 0.99)
        )
    }
}

/// `connections` keep-alive clients, client `i` sending `GET urls[i % n]`
/// back to back for `secs` after a warm-up.
async fn load(urls: &[String], bearer: Option<&str>, connections: usize, secs: u64) -> Load {
    let warm_until = Instant::now() + warm_up();
    let until = warm_until + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let bearer = bearer.map(str::to_owned);
            tokio::spawn(async move {
                let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
                let (mut latencies, mut failures) = (Vec::new(), 0);
                while Instant::now() < until {
                    let started = Instant::now();
                    let mut request = http.get(&url);
                    if let Some(b) = &bearer {
                        request = request.bearer_auth(b);
                    }
                    let ok = match request.send().await {
                        Ok(r) if r.status() == 200 => r.text().await.is_ok_and(|b| b.contains("\"access_token\"")),
                        _ => false,
                    };
                    if started >= warm_until {
                        if ok {
                            latencies.push(started.elapsed());
                        } else {
                            failures += 1;
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let (mut latencies, mut failures) = (Vec::new(), 0);
    for t in tasks {
        let (l, f) = t.await.expect("load task");
        latencies.extend(l);
        failures += f;
    }
    latencies.sort();
    Load { requests: latencies.len(), failures, seconds: secs as f64, latencies }
}

async fn bare_handler(body_len: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = serde_json::json!({ "access_token": "x".repeat(body_len.saturating_sub(20)) });
    let app = Router::new().route("/bare", get(move || std::future::ready(Json(body.clone()))));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/bare")
}

async fn broker(
    x: &X,
    server: &str,
    tmp: &Path,
    bin: &Path,
    connections: usize,
    secs: u64,
    rows: &mut Vec<Row>,
) -> bool {
    println!("\n# token broker: {connections} keep-alive clients, {secs} s per target");
    let db_url = postgres::fresh_database(server).await;
    let pool = db::open(&db_url).await.expect("database");
    let now = now_ms();
    let seeds: Vec<Seed> = (0..100)
        .map(|i| Seed {
            x_user_id: format!("{}", 1_600_000_000_000_000_000u64 + i),
            access: format!("{:x<91}", format!("broker-access-{i}-")),
            refresh: Some(format!("{:y<91}", format!("broker-refresh-{i}-"))),
            issued_at: now - MINUTE,
            expires_at: now + 119 * MINUTE,
        })
        .collect();
    let ids = seed(&pool, &keyring(&tmp.join("broker-keys")), &seeds).await;
    let key = auth::create_key(&pool, "bench", None, "bench").await.expect("key").key.expose().to_owned();
    // X is unreachable: a token this fresh is served without calling X.
    let data = tmp.join("broker-data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut vars = process::live_vars(CLIENT_ID, CLIENT_SECRET, &db_url, &data, TEST_KEY);
    vars.push(("AUTHWATCH_LOG".into(), "warn".into()));
    let mut servers = replicas(bin, &vars, 1, tmp, "broker").await;
    let token_url = |s: &ServerProcess| format!("{}/api/v1/accounts/{}/token", s.base(), ids[0]);
    let sample = reqwest::Client::new()
        .get(token_url(&servers[0]))
        .bearer_auth(&key)
        .send()
        .await
        .expect("token")
        .text()
        .await
        .expect("body");
    assert!(sample.contains("\"access_token\""), "the broker answers the token: {sample}");
    let bare = vec![bare_handler(sample.len()).await];
    let grants_before = x.refresh_grants();

    let bare_1 = load(&bare, None, connections, secs).await;
    println!("bare axum handler: {}", bare_1.line());
    let one = load(&[token_url(&servers[0])], Some(&key), connections, secs).await;
    println!("broker, 1 replica: {}", one.line());
    servers.extend(replicas(bin, &vars, 2, tmp, "broker-more").await);
    let urls: Vec<String> = servers.iter().map(token_url).collect();
    let three = load(&urls, Some(&key), connections, secs).await;
    println!("broker, 3 replicas: {}", three.line());
    let bare_2 = load(&bare, None, connections, secs).await;
    println!("bare axum handler (again): {}", bare_2.line());
    let bare_rate = (bare_1.rate() + bare_2.rate()) / 2.0;
    let x_calls = x.refresh_grants() - grants_before;

    for (name, r) in [("1 replica", &one), ("3 replicas", &three)] {
        let share = 100.0 * r.rate() / bare_rate;
        let p99 = percentile_ms(&r.latencies, 0.99);
        rows.push(Row {
            scenario: format!("broker GET token, {name}, {connections} clients"),
            value: r.line(),
            baseline: format!("bare handler {:.0} / {:.0} req/s (before / after)", bare_1.rate(), bare_2.rate()),
            verdict: format!(
                "{share:.0} % of bare{}; p99 < 10 ms: {}",
                match (name, share >= 50.0) {
                    ("1 replica", true) => " (goal ≥ 50 %: met)",
                    ("1 replica", false) => " (goal ≥ 50 %: missed)",
                    _ => "",
                },
                if p99 < 10.0 { "met" } else { "missed" }
            ),
        });
    }
    let failures = bare_1.failures + one.failures + three.failures + bare_2.failures;
    println!("failed answers: {failures}; refreshes at X meanwhile: {x_calls}");
    pool.close().await;
    failures == 0 && one.requests > 0 && three.requests > 0
}

// ---------------------------------------------------------------- 2. sweep

/// The emulator's token endpoint alone: `requests` refresh grants at
/// `concurrency`, in rounds over `tokens` (each round spends what the last
/// one got back). Requests per second.
async fn raw_rate(x: &X, tokens: &mut [String], requests: usize, concurrency: usize) -> f64 {
    let http = reqwest::Client::new();
    let url = format!("{}/2/oauth2/token", x.base);
    let started = Instant::now();
    let mut left = requests;
    while left > 0 {
        let round = left.min(tokens.len());
        let next: Vec<(usize, String)> = stream::iter(tokens[..round].iter().cloned().enumerate())
            .map(|(i, token)| {
                let (http, url) = (&http, &url);
                async move {
                    let answer = http
                        .post(url)
                        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                        .send()
                        .await
                        .expect("token endpoint");
                    assert_eq!(answer.status(), 200, "raw refresh");
                    let body: serde_json::Value = answer.json().await.expect("JSON");
                    (i, body["refresh_token"].as_str().expect("rotated refresh token").to_owned())
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (i, token) in next {
            tokens[i] = token;
        }
        left -= round;
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

#[allow(clippy::too_many_arguments)]
async fn sweep(
    x: &X,
    server: &str,
    tmp: &Path,
    bin: &Path,
    n_replicas: usize,
    n: usize,
    concurrency: usize,
    rows: &mut Vec<Row>,
) -> bool {
    let total = concurrency * n_replicas;
    println!("\n# sweep of {n} due accounts, {n_replicas} replica(s) at refresh concurrency {concurrency} each");
    let started = Instant::now();
    x.emulator.update_settings(|s| s.access_token_ttl_secs = 300);
    let grants = x.grants(&format!("due{n_replicas}"), n).await;
    let mut raw_tokens: Vec<String> =
        x.grants(&format!("raw{n_replicas}"), n.min(2_000)).await.into_iter().map(|(_, _, r)| r).collect();
    x.emulator.update_settings(|s| s.access_token_ttl_secs = 7200);
    println!("{} grants made in-process in {:.1} s", grants.len() + raw_tokens.len(), started.elapsed().as_secs_f64());

    let raw_before = raw_rate(x, &mut raw_tokens, n, total).await;
    println!("emulator token endpoint alone at concurrency {total}: {raw_before:.0} req/s");

    let db_url = postgres::fresh_database(server).await;
    let pool = db::open(&db_url).await.expect("database");
    let keys = keyring(&tmp.join(format!("sweep{n_replicas}-keys")));
    let vars = live(x, &db_url, &tmp.join(format!("sweep{n_replicas}-data")), concurrency);
    let servers = replicas(bin, &vars, n_replicas, tmp, &format!("sweep{n_replicas}")).await;

    let now = now_ms();
    let seeds: Vec<Seed> = grants
        .iter()
        .map(|(user, access, refresh)| Seed {
            x_user_id: user.clone(),
            access: access.clone(),
            refresh: Some(refresh.clone()),
            issued_at: now - 115 * MINUTE,
            expires_at: now + 5 * MINUTE,
        })
        .collect();
    let before = x.refresh_grants();
    let seeded_at = Instant::now();
    let ids = seed(&pool, &keys, &seeds).await;
    let committed = Instant::now();
    println!("{n} due accounts written in one transaction in {:.2} s", (committed - seeded_at).as_secs_f64());

    let at_gen2 = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM token_sets WHERE generation = 2")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    let deadline = committed + Duration::from_secs(60 + n as u64 / 50);
    let mut first = None;
    let mut last_poll = Instant::now();
    loop {
        if first.is_none() && x.refresh_grants() > before {
            first = Some(Instant::now());
        }
        if last_poll.elapsed() >= Duration::from_millis(50) {
            last_poll = Instant::now();
            if at_gen2().await >= n as i64 {
                break;
            }
        }
        if Instant::now() > deadline {
            println!("LOST: only {} of {n} accounts refreshed before the deadline", at_gen2().await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let done = Instant::now();
    let first = first.unwrap_or(committed);
    let sweep_secs = (done - first).as_secs_f64();
    let rate = n as f64 / sweep_secs;
    // A moment for a stray second refresh to show at X.
    tokio::time::sleep(warm_up() * 3 / 2).await;
    let refreshes = x.refresh_grants() - before;
    drop(servers);

    let raw_after = raw_rate(x, &mut raw_tokens, n, total).await;
    let raw = (raw_before + raw_after) / 2.0;
    println!(
        "swept in {sweep_secs:.2} s from the first refresh ({:.2} s from the commit) = {rate:.0} refreshes/s; \
         raw endpoint after: {raw_after:.0} req/s; refreshes at X: {refreshes}",
        (done - committed).as_secs_f64()
    );

    // Zero lost tokens.
    let not_at_2: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM token_sets WHERE generation <> 2")
        .fetch_one(&pool)
        .await
        .expect("count");
    let flagged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE incident_cause IS NOT NULL")
        .fetch_one(&pool)
        .await
        .expect("count");
    let http = reqwest::Client::new();
    let step = (ids.len() / 200).max(1);
    let dead: usize = stream::iter(ids.iter().step_by(step))
        .map(|id| {
            let (pool, keys, http, x) = (&pool, &keys, &http, x);
            async move {
                let tokens = accounts::tokens(pool, keys, id).await.expect("tokens").expect("account");
                let answer = http
                    .post(format!("{}/2/oauth2/token", x.base))
                    .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", tokens.refresh.expect("refresh").expose()),
                    ])
                    .send()
                    .await;
                usize::from(!answer.is_ok_and(|a| a.status() == 200))
            }
        })
        .buffer_unordered(16)
        .fold(0, |sum, d| async move { sum + d })
        .await;
    let sampled = ids.iter().step_by(step).count();
    let lost = not_at_2 as usize + flagged as usize + dead;
    println!(
        "accounts not at generation 2: {not_at_2}; flagged: {flagged}; stored refresh tokens refused by X: \
         {dead} of {sampled} sampled; refreshes at X {refreshes} for {n} accounts"
    );
    let share = 100.0 * rate / raw;
    rows.push(Row {
        scenario: format!("sweep {n} due, {n_replicas} replica(s) × concurrency {concurrency}"),
        value: format!("{rate:.0} refreshes/s ({sweep_secs:.2} s); lost {lost}; X refreshes {refreshes}"),
        baseline: format!("raw token endpoint at {total}: {raw_before:.0} / {raw_after:.0} req/s"),
        verdict: format!("{share:.0} % of raw (goal ≥ 25 %: {})", if share >= 25.0 { "met" } else { "missed" }),
    });
    pool.close().await;
    lost == 0 && refreshes == n as u64
}

// ---------------------------------------------------------------- 3. dashboard

async fn dashboard(engine: &str, db_url: &str, tmp: &Path, bin: &Path, n: usize, requests: usize, rows: &mut Vec<Row>) {
    println!("\n# dashboard first page, {n} accounts, {engine}");
    let pool = db::open(db_url).await.expect("database");
    let now = now_ms();
    let hash = Passwords::new(1).await.expect("argon2").hash(ADMIN.1.into()).await.expect("password hash");
    users::add(&pool, ADMIN.0, "Bench Admin", &hash, Role::Admin, now).await.expect("admin");
    let seeds: Vec<Seed> = (0..n)
        .map(|i| {
            let jitter = ((i * 7919) % 3600) as i64 * 1000;
            Seed {
                x_user_id: format!("{}", 1_700_000_000_000_000_000u64 + i as u64),
                access: format!("{:x<91}", format!("dash-access-{i}-")),
                refresh: Some(format!("{:y<91}", format!("dash-refresh-{i}-"))),
                issued_at: now - 30 * MINUTE - jitter / 4,
                expires_at: now + 90 * MINUTE - jitter / 4,
            }
        })
        .collect();
    let started = Instant::now();
    let dir = tmp.join(format!("dashboard-{engine}"));
    std::fs::create_dir_all(&dir).expect("data dir");
    seed(&pool, &keyring(&dir), &seeds).await;
    println!("{n} accounts written in one transaction in {:.1} s", started.elapsed().as_secs_f64());
    pool.close().await;

    let mut vars = process::live_vars(CLIENT_ID, CLIENT_SECRET, db_url, &dir, TEST_KEY);
    vars.push(("AUTHWATCH_LOG".into(), "warn".into()));
    let server = ServerProcess::start(bin, &vars, tmp.join(format!("dashboard-{engine}.log")));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    server.wait_healthy(&client).await;
    let base = server.base();
    let answer = client
        .post(format!("{base}/auth/sign-in"))
        .header("origin", &base)
        .form(&[("email", ADMIN.0), ("password", ADMIN.1), ("next", "/")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), 303, "signing in as {}", ADMIN.0);
    let page = client.get(format!("{base}/")).send().await.expect("GET /").text().await.expect("body");
    assert!(page.contains("href=\"/accounts/acc_bench"), "the first page has account rows");
    let mut samples = Vec::with_capacity(requests);
    for i in 0..requests + 5 {
        let t = Instant::now();
        let answer = client.get(format!("{base}/")).send().await.expect("GET /");
        assert_eq!(answer.status(), 200, "GET /");
        answer.bytes().await.expect("body");
        if i >= 5 {
            samples.push(t.elapsed());
        }
    }
    let memory = server.memory();
    let (p50, p99) = (percentile_ms(&samples, 0.5), percentile_ms(&samples, 0.99));
    println!("GET / p50 {p50:.1} ms, p99 {p99:.1} ms over {requests} requests; VmHWM {:.1} MB", memory.hwm_mb);
    rows.push(Row {
        scenario: format!("dashboard GET /, {n} accounts, {engine}"),
        value: format!("p50 {p50:.1} ms, p99 {p99:.1} ms; peak RSS {:.1} MB", memory.hwm_mb),
        baseline: "—".into(),
        verdict: format!(
            "p99 < 50 ms: {}; RSS < 128 MB: {}",
            if p99 < 50.0 { "met" } else { "missed" },
            if memory.hwm_mb < 128.0 { "met" } else { "missed" }
        ),
    });
}
