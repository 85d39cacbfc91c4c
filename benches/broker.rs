//! The token broker benchmark: `GET /api/v1/accounts/{id}/token` against a
//! bare axum handler, on the same machine, in the same run.
//!
//! In one process:
//! 1. Starts authwatch in demo mode in-process, as `tests/common` does, with
//!    a fresh SQLite file, and connects the demo accounts through the real
//!    OAuth code path; creates an API key with `pipeline::auth::create_key`.
//!    A second instance runs with `AUTHWATCH_API_CACHE_MS=0` (every call reads
//!    the key and the token from the database and decrypts the token).
//! 2. Starts a bare axum router, `GET /bare` answering a constant JSON body
//!    of the token answer's size, on its own port.
//! 3. The load generator: `BENCH_CONNECTIONS` tasks, each with its own
//!    keep-alive HTTP/1.1 connection (reqwest), sending requests back to back
//!    for `BENCH_SECONDS` after a one-second warm-up, recording each latency.
//!    Every answer must be 200 (and, for the broker, carry the account's
//!    token); any other answer fails the bench.
//! 4. Targets run in turn: bare, broker, broker without cache, then bare
//!    again, so a machine that slows down during the run shows up as two
//!    different bare rates.
//!
//! API calls are logged as in production (one `tracing` line per call, at
//! `info`), formatted and written to a file in the data directory.
//!
//! Run: `cargo bench --features ssr --bench broker`
//! Smoke: `RUSTFLAGS="--cfg erase_components" cargo test --features ssr --bench broker`
//! (or `BENCH_SMOKE=1`): 4 connections, 1 s per target; it fails when an
//! answer is not 200 with the token, or the broker calls X.
//! Knobs: `BENCH_CONNECTIONS` (32; 4 in smoke mode), `BENCH_SECONDS` (10; 1).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use authwatch::server::db::accounts;
use authwatch::server::pipeline::auth;
use authwatch::server::AppState;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::bench::smoke;
use support::TestApp;
use tokio::net::TcpListener;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if !runtime.block_on(run()) {
        eprintln!("\nFAILED: some answers were not 200 with a token (see above)");
        std::process::exit(1);
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// A running authwatch in demo mode with one all-accounts key.
struct App {
    state: AppState,
    base: String,
    key: String,
    _app: TestApp,
}

impl App {
    async fn start(cache_ms: &str) -> Self {
        let app = TestApp::builder().demo().var("AUTHWATCH_API_CACHE_MS", cache_ms).start().await;
        let state = app.state.clone();
        let created = auth::create_key(&state.pool, "bench", None, "bench").await.expect("key");
        Self { state, base: app.url(""), key: created.key.expose().to_owned(), _app: app }
    }
}

/// The bare handler: the smallest axum app answering a JSON body like the broker's.
async fn bare_server(body_len: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = serde_json::json!({ "access_token": "x".repeat(body_len.saturating_sub(20)) });
    let app = Router::new().route("/bare", get(move || std::future::ready(Json(body.clone()))));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/bare")
}

struct Run {
    name: &'static str,
    requests: usize,
    failures: usize,
    seconds: f64,
    latencies_us: Vec<u32>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 * p).ceil() as usize).clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Sends `GET url` back to back on `connections` keep-alive connections for
/// `seconds` (after a one-second warm-up that is not counted).
async fn load(
    name: &'static str,
    url: &str,
    bearer: Option<&str>,
    expect: Option<&str>,
    connections: u64,
    seconds: u64,
) -> Run {
    let warm_until = Instant::now() + Duration::from_secs(1);
    let until = warm_until + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let url = url.to_owned();
            let bearer = bearer.map(str::to_owned);
            let expect = expect.map(str::to_owned);
            tokio::spawn(async move {
                let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
                let mut latencies = Vec::with_capacity(100_000);
                let mut failures = 0usize;
                loop {
                    let started = Instant::now();
                    if started >= until {
                        break;
                    }
                    let mut request = http.get(&url);
                    if let Some(b) = &bearer {
                        request = request.bearer_auth(b);
                    }
                    let ok = match request.send().await {
                        Ok(r) if r.status() == 200 => match r.text().await {
                            Ok(body) => expect.as_deref().is_none_or(|e| body.contains(e)),
                            Err(_) => false,
                        },
                        _ => false,
                    };
                    if started >= warm_until {
                        if ok {
                            latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                        } else {
                            failures += 1;
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.expect("load task");
        latencies_us.extend(l);
        failures += f;
    }
    latencies_us.sort_unstable();
    Run { name, requests: latencies_us.len(), failures, seconds: seconds as f64, latencies_us }
}

async fn run() -> bool {
    let smoke = smoke();
    let connections = env_u64("BENCH_CONNECTIONS", if smoke { 4 } else { 32 });
    let seconds = env_u64("BENCH_SECONDS", if smoke { 1 } else { 10 });
    let data = tempfile::tempdir().expect("temp dir");
    let log = std::fs::File::create(data.path().join("api.log")).expect("log file");
    let _ =
        tracing_subscriber::fmt().with_env_filter("warn,authwatch::api=info").with_writer(Mutex::new(log)).try_init();

    let cached = App::start("1000").await;
    let uncached = App::start("0").await;
    let news = |app: &App| {
        let pool = app.state.pool.clone();
        async move {
            accounts::summaries(&pool)
                .await
                .expect("accounts")
                .into_iter()
                .find(|s| s.handle == "acme_news")
                .expect("acme_news")
                .id
        }
    };
    let (cached_id, uncached_id) = (news(&cached).await, news(&uncached).await);
    let token_url = |app: &App, id: &str| format!("{}/api/v1/accounts/{id}/token", app.base);
    let sample: serde_json::Value = reqwest::Client::new()
        .get(token_url(&cached, &cached_id))
        .bearer_auth(&cached.key)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let body_len = sample.to_string().len();
    let bare = bare_server(body_len).await;
    let expect = |id: &str| format!("\"account_id\":\"{id}\"");

    for app in [&cached, &uncached] {
        app.state.emulator.as_ref().expect("demo emulator").reset_counts();
    }
    println!(
        "token broker benchmark{}: {connections} connections, {seconds} s per target, answer ~{body_len} bytes",
        if smoke { " (smoke)" } else { "" }
    );
    let runs = vec![
        load("bare axum handler", &bare, None, None, connections, seconds).await,
        load(
            "GET token (cache 1 s)",
            &token_url(&cached, &cached_id),
            Some(&cached.key),
            Some(&expect(&cached_id)),
            connections,
            seconds,
        )
        .await,
        load(
            "GET token (no cache)",
            &token_url(&uncached, &uncached_id),
            Some(&uncached.key),
            Some(&expect(&uncached_id)),
            connections,
            seconds,
        )
        .await,
        load("bare axum handler (again)", &bare, None, None, connections, seconds).await,
    ];
    println!("\n| target | requests | req/s | p50 ms | p99 ms | failures |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
            r.name,
            r.requests,
            r.rate(),
            r.percentile(0.50),
            r.percentile(0.99),
            r.failures
        );
    }
    let bare_rate = (runs[0].rate() + runs[3].rate()) / 2.0;
    for r in &runs[1..3] {
        println!(
            "{}: {:.0} % of the bare handler's rate (mean of both bare runs)",
            r.name,
            100.0 * r.rate() / bare_rate
        );
    }
    // acme_news's token lives two hours: the broker must serve it without calling X.
    let x_calls: u64 =
        [&cached, &uncached].iter().map(|a| a.state.emulator.as_ref().map_or(0, |e| e.counts().total.token)).sum();
    println!("calls to X's token endpoint during the runs: {x_calls}");
    runs.iter().all(|r| r.failures == 0 && r.requests > 0) && x_calls == 0
}
