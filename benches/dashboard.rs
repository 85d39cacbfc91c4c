//! The dashboard benchmark.
//!
//! 1. Prepares a real SQLite file with `BENCH_ACCOUNTS` (10,000) accounts
//!    through the real repository code (`db::open`, `db::apps::upsert`,
//!    `db::accounts::save_grant`, `db::events::append`), in a realistic mix of
//!    states: healthy, due, expired, missing scopes, no refresh token, and
//!    open incidents (rejected refresh token, revoked, X down, rate limited).
//! 2. Profiles the data step in this process: `db::accounts::summaries`,
//!    `facts()` + `diagnose` over every row, and the whole `load_dashboard`
//!    server function (summaries + diagnose + filter/sort/page + DTOs).
//!    The server function runs as for a signed-in admin: the request carries
//!    the admin the router's gate would have put on it.
//! 3. Starts the real `authwatch` binary as its own process in live mode
//!    (X endpoints point at an unused local port: the dashboard never calls X),
//!    on that file, and waits for `/healthz`. Its refresh engine runs, but
//!    finds nothing due: the accounts it would refresh are recorded as backing
//!    off (`db::refresh_state::back_off`), because X is unreachable here and
//!    the engine's retries would otherwise compete with the dashboard.
//! 4. Signs in as the admin through `/auth/sign-in`, as a browser does, then
//!    loads `/`, `/?health=reconnect` and `/?search=acc_12` with reqwest at
//!    each concurrency level, and reports per-request latency (time to the
//!    last byte of the streamed page, and to the response headers), req/s,
//!    the server's CPU time per request, and its VmRSS / VmHWM.
//!
//! Run: `cargo bench --features ssr --bench dashboard`
//! Smoke: `RUSTFLAGS="--cfg erase_components" cargo test --features ssr --bench dashboard`
//! (or `BENCH_SMOKE=1`): 300 accounts, 50 requests per scenario, seconds; it
//! fails when a page does not load or carries no account rows.
//!
//! Knobs (environment variables):
//! - `BENCH_ACCOUNTS` (10000; 300 in smoke mode): accounts to prepare.
//! - `BENCH_REQUESTS` (2000; 50): measured requests per scenario.
//! - `BENCH_WARMUP` (50; 5): discarded requests before each scenario.
//! - `BENCH_CONCURRENCY` (`1,8`): concurrency levels, comma-separated.
//! - `BENCH_SERVER_LOG` (`warn,sqlx::query=debug`): the server's `AUTHWATCH_LOG`.
//!   sqlx's per-query debug lines are how the bench counts the dashboard data
//!   loads per page request (6 short lines per request: negligible cost).
//! - `BENCH_KEEP=1`: keep the temporary directory (database, `server.log`) and print its path.
//! - `AUTHWATCH_BENCH_BIN`: the server binary. Default: the `authwatch` binary
//!   cargo builds for this bench (`CARGO_BIN_EXE_authwatch`: release settings
//!   under `cargo bench`, the test build under `cargo test`).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use authwatch::api::dto::DashboardQuery;
use authwatch::api::load_dashboard;
use authwatch::domain::health::{diagnose, AttemptResult, Cause, Health};
use authwatch::domain::scopes::Scopes;
use authwatch::server::auth::password::Passwords;
use authwatch::server::auth::CurrentUser;
use authwatch::server::crypto::Keyring;
use authwatch::server::db::users::{self, Role, User};
use authwatch::server::db::{self, accounts, apps, events, refresh_state};
use authwatch::server::secret::Secret;
use authwatch::server::x::now_ms;
use base64::Engine;
use leptos::prelude::{provide_context, Owner, ScopedFuture};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::bench::{cpu_model, env_usize, percentile_ms as pct, smoke};
use support::process::{self, ServerProcess};
use support::TestApp;

const CLIENT_ID: &str = "bench-client";
const CLIENT_SECRET: &str = "bench-secret";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const PROFILE_ITERATIONS: usize = 30;
const PATHS: [&str; 3] = ["/", "/?health=reconnect", "/?search=acc_12"];
const TARGET_P99_MS: f64 = 25.0;
const TARGET_RSS_MB: f64 = 64.0;
/// The admin the bench signs in as.
const ADMIN: (&str, &str) = ("admin@bench.example", "the-bench-admins-password");

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let smoke = smoke();
    let n_accounts = env_usize("BENCH_ACCOUNTS", if smoke { 300 } else { 10_000 });
    let n_requests = env_usize("BENCH_REQUESTS", if smoke { 50 } else { 2_000 });
    let warmup = env_usize("BENCH_WARMUP", if smoke { 5 } else { 50 });
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,8".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .collect();

    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let db_file = tmp.path().join("bench.db");
    let db_url = format!("sqlite://{}", db_file.display());
    let key = base64::engine::general_purpose::STANDARD.encode(b"authwatch-bench-key-32-bytes-!!!");

    println!("authwatch dashboard benchmark{}", if smoke { " (smoke)" } else { "" });
    println!(
        "machine: {} CPU(s), {}; accounts: {n_accounts}; requests per scenario: {n_requests} (+{warmup} warm-up); concurrency: {levels:?}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model(),
    );

    // 1. The database, through the real repository code.
    let started = Instant::now();
    let (mix, backing_off, admin) = prepare(&db_url, &data_dir, &key, n_accounts).await;
    let prep = started.elapsed();
    let db_bytes: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db_file.display())).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "\nprepared {n_accounts} accounts in {:.1} s ({:.2} ms/account); database {:.1} MB",
        prep.as_secs_f64(),
        prep.as_secs_f64() * 1000.0 / n_accounts.max(1) as f64,
        db_bytes as f64 / 1e6
    );
    println!("states written: {}", mix.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    println!("{backing_off} due accounts recorded as backing off, so the server's refresh engine stays idle");

    // 2. Where the time goes, in this process (the server is not running yet).
    let profile = profile(&db_url, &data_dir, &key, admin).await;

    // 3. The real server, its own process.
    let bin = process::binary();
    let server = ServerProcess::start(&bin, &live_vars(&db_url, &data_dir, &key), tmp.path().join("server.log"));
    let base = server.base();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let boot = server.wait_healthy(&client).await;
    let idle = server.memory();
    println!(
        "\nserver: {} (pid {}), live mode, ready in {} ms; idle VmRSS {:.1} MB",
        bin.display(),
        server.pid(),
        boot.as_millis(),
        idle.rss_mb
    );
    sign_in(&client, &base).await;

    // Sanity: the first page carries the data, not just a loading shell.
    let body = client.get(format!("{base}/")).send().await.expect("GET /").text().await.expect("body");
    let rows = body
        .split("href=\"/accounts/acc_")
        .skip(1)
        .filter(|rest| rest.split('"').next().is_some_and(|id| !id.contains('/')))
        .count();
    assert!(
        rows > 0 && body.contains(&format!("All {n_accounts}")),
        "the first page has no account rows:\n{}",
        &body[..body.len().min(2000)]
    );
    println!("first page: {} bytes of HTML, {rows} account rows", body.len());
    let mut page_requests = 1;

    // 4. Load.
    let mut results = Vec::new();
    for &concurrency in &levels {
        for path in PATHS {
            let url = format!("{base}{path}");
            load(&client, &url, concurrency, warmup).await; // warm-up, discarded
            page_requests += warmup + n_requests;
            let cpu_before = server.cpu_seconds();
            let r = load(&client, &url, concurrency, n_requests).await;
            let cpu = server.cpu_seconds() - cpu_before;
            let mem = server.memory();
            results.push(ScenarioResult {
                path,
                concurrency,
                stats: r,
                cpu_ms_per_req: cpu * 1000.0 / n_requests as f64,
                rss_after_mb: mem.rss_mb,
            });
        }
    }
    let after = server.memory();
    let loads = full_loads(&server.log_text(), n_accounts);
    drop(server);
    if std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("\nkept {}", tmp.keep().display());
    }

    // The report.
    println!("\nlatency = time to the last byte of the (streamed) page; ttfb = time to the response headers");
    println!(
        "{:<22} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>8} {:>9}",
        "path",
        "conc",
        "n",
        "p50 ms",
        "p90 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "ttfb p50",
        "req/s",
        "CPU ms/rq",
        "KB/resp",
        "RSS MB"
    );
    for r in &results {
        let s = &r.stats;
        println!(
            "{:<22} {:>4} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>8.1} {:>9.2} {:>8.1} {:>9.1}",
            r.path,
            r.concurrency,
            s.total.len(),
            pct(&s.total, 0.50),
            pct(&s.total, 0.90),
            pct(&s.total, 0.95),
            pct(&s.total, 0.99),
            pct(&s.total, 1.0),
            pct(&s.ttfb, 0.50),
            s.total.len() as f64 / s.wall.as_secs_f64(),
            r.cpu_ms_per_req,
            s.bytes as f64 / s.total.len().max(1) as f64 / 1024.0,
            r.rss_after_mb,
        );
    }
    println!(
        "\nserver memory: idle VmRSS {:.1} MB; after the load VmRSS {:.1} MB, VmHWM (peak) {:.1} MB",
        idle.rss_mb, after.rss_mb, after.hwm_mb
    );
    println!(
        "\nprofile, in-process, {PROFILE_ITERATIONS} iterations over {} accounts (median / min):",
        profile.accounts
    );
    for (what, samples) in &profile.steps {
        println!("  {what:<58} {:>7.2} ms / {:>7.2} ms", pct(samples, 0.5), pct(samples, 0.0));
    }
    println!("  serialized Dashboard DTO (first page): {} bytes", profile.dto_bytes);
    println!("  health mix (diagnosed): {}", profile.health_mix);
    match loads {
        Some(loads) => println!(
            "  server: {loads} full account loads (summaries returning {n_accounts} rows) for {page_requests} page requests = {:.2} per request",
            loads as f64 / page_requests as f64
        ),
        None => println!("  server: data loads per request not counted (BENCH_SERVER_LOG without sqlx::query=debug)"),
    }

    // The verdict against the issue's targets.
    if let Some(first) = results.iter().find(|r| r.path == "/" && r.concurrency == 1) {
        let p99 = pct(&first.stats.total, 0.99);
        println!(
            "\nverdict: first page p99 at concurrency 1 = {p99:.1} ms (target < {TARGET_P99_MS} ms: {}); peak RSS {:.1} MB (target < {TARGET_RSS_MB} MB: {})",
            if p99 < TARGET_P99_MS { "met".to_owned() } else { format!("missed by {:.1} ms", p99 - TARGET_P99_MS) },
            after.hwm_mb,
            if after.hwm_mb < TARGET_RSS_MB { "met".to_owned() } else { format!("missed by {:.1} MB", after.hwm_mb - TARGET_RSS_MB) },
        );
    }
}

// ---------------------------------------------------------------- preparation

/// Which state an account is put in; the shares add up to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Healthy,
    RefreshDue,
    Expired,
    MissingScope,
    NoRefreshToken,
    RefreshRejected,
    Revoked,
    XDown,
    RateLimited,
}

impl Kind {
    fn of(i: usize) -> Self {
        match i % 100 {
            0..=61 => Kind::Healthy,
            62..=71 => Kind::RefreshDue,
            72..=79 => Kind::Expired,
            80..=83 => Kind::MissingScope,
            84..=85 => Kind::NoRefreshToken,
            86..=91 => Kind::RefreshRejected,
            92..=94 => Kind::Revoked,
            95..=98 => Kind::XDown,
            _ => Kind::RateLimited,
        }
    }
}

async fn prepare(db_url: &str, data_dir: &Path, key: &str, n: usize) -> (BTreeMap<String, usize>, usize, User) {
    let pool = db::open(db_url).await.expect("database");
    let now = now_ms();
    let hash = Passwords::new(1).await.expect("argon2").hash(ADMIN.1.into()).await.expect("password hash");
    let admin = users::add(&pool, ADMIN.0, "Bench Admin", &hash, Role::Admin, now).await.expect("admin");
    let record = apps::AppRecord {
        client_id: CLIENT_ID,
        client_type: "confidential",
        environment: "bench",
        secret_fingerprint: Some(Secret::new(CLIENT_SECRET).fingerprint()),
        consumer_key_fingerprint: None,
    };
    apps::upsert(&pool, &record, now).await.expect("app");
    let keyring = Keyring::load(Some(&Secret::new(key)), &[], data_dir).expect("keyring");
    let full = "tweet.read tweet.write users.read offline.access";

    // One writer: SQLite serialises writes anyway, and deferred transactions
    // upgraded by concurrent writers would fail with SQLITE_BUSY_SNAPSHOT.
    let mut mix = BTreeMap::new();
    let mut backing_off = 0;
    for i in 0..n {
        let kind = Kind::of(i);
        *mix.entry(format!("{kind:?}")).or_insert(0) += 1;
        // Spread the ages so the sort by expiry has work to do.
        let jitter = ((i * 7919) % 3600) as i64 * 1000;
        let connected_at = now - (1 + (i % 120) as i64) * DAY;
        let (scopes, refresh, issued_at, expires_at) = match kind {
            Kind::Healthy => (full, true, now - 30 * MINUTE - jitter / 4, now + 90 * MINUTE - jitter / 4),
            Kind::RefreshDue => (full, true, now - 110 * MINUTE, now + 10 * MINUTE - jitter / 8),
            Kind::Expired | Kind::RefreshRejected | Kind::Revoked => {
                (full, true, now - 3 * HOUR - jitter, now - HOUR - jitter)
            }
            Kind::MissingScope => {
                ("tweet.read users.read offline.access", true, now - 30 * MINUTE, now + 90 * MINUTE - jitter / 4)
            }
            Kind::NoRefreshToken => {
                ("tweet.read tweet.write users.read", false, now - 30 * MINUTE, now + 90 * MINUTE - jitter / 4)
            }
            Kind::XDown | Kind::RateLimited => (full, true, now - 2 * HOUR - jitter / 8, now - jitter / 8),
        };
        let account = accounts::NewAccount {
            x_user_id: format!("{}", 1_400_000_000_000_000_000u64 + i as u64),
            handle: format!("acc_{i}"),
            display_name: format!("Account {i}"),
            client_id: CLIENT_ID.to_owned(),
        };
        let grant = accounts::TokenGrant::new(
            Secret::new(format!("{:x<91}", format!("bench-access-{i}-"))),
            refresh.then(|| Secret::new(format!("{:y<91}", format!("bench-refresh-{i}-")))),
            Scopes::parse(scopes),
            issued_at,
            expires_at,
        )
        .expect("grant");
        let connected = accounts::save_grant(&pool, &keyring, &account, &grant, "owner@bench", None, connected_at)
            .await
            .expect("connect");
        let id = &connected.account_id;

        let failure = |kind, cause: Cause, status: u16, body: &str| events::NewEvent {
            kind,
            outcome: events::Outcome::Failed,
            cause: Some(cause),
            http_status: Some(status),
            x_error: Some(body.to_owned()),
            generation_before: Some(1),
            actor: "engine".into(),
            ..events::NewEvent::default()
        };
        let started = events::NewEvent {
            kind: events::EventKind::Refresh,
            outcome: events::Outcome::Started,
            generation_before: Some(1),
            actor: "engine".into(),
            ..events::NewEvent::default()
        };
        let at = expires_at - 15 * MINUTE;
        let incident = match kind {
            Kind::RefreshRejected => Some((
                events::EventKind::Refresh,
                Cause::RefreshTokenRejected,
                400,
                r#"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#,
            )),
            Kind::Revoked => Some((
                events::EventKind::Check,
                Cause::UserRevoked,
                401,
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
            )),
            Kind::XDown => Some((
                events::EventKind::Refresh,
                Cause::XUnavailable,
                503,
                r#"{"title":"Service Unavailable","status":503}"#,
            )),
            Kind::RateLimited => Some((
                events::EventKind::Refresh,
                Cause::RateLimited,
                429,
                r#"{"title":"Too Many Requests","status":429}"#,
            )),
            _ => None,
        };
        if let Some((event_kind, cause, status, body)) = incident {
            if event_kind == events::EventKind::Refresh {
                events::append(&pool, id, at, &started, AttemptResult::Inconclusive).await.expect("event");
            }
            let event = failure(event_kind, cause, status, body);
            events::append(&pool, id, at + 2_000, &event, AttemptResult::Failed(cause)).await.expect("event");
        } else if kind == Kind::Healthy && i % 4 == 0 {
            // Some history for the healthy ones: a passed check.
            let check = events::NewEvent {
                kind: events::EventKind::Check,
                actor: "engine".into(),
                ..events::NewEvent::default()
            };
            events::append(&pool, id, issued_at + 5 * MINUTE, &check, AttemptResult::Verified).await.expect("event");
        }
        // What the engine would refresh during the run (expired, due, or
        // backing off from X's trouble): keep it off X until after the bench.
        if matches!(kind, Kind::RefreshDue | Kind::Expired | Kind::XDown | Kind::RateLimited) {
            refresh_state::back_off(&pool, id, now + DAY).await.expect("back off");
            backing_off += 1;
        }
    }
    pool.close().await;
    (mix, backing_off, admin)
}

/// Signs `client` in as the bench's admin, as a browser does.
async fn sign_in(client: &reqwest::Client, base: &str) {
    let answer = client
        .post(format!("{base}/auth/sign-in"))
        .header("origin", base)
        .form(&[("email", ADMIN.0), ("password", ADMIN.1), ("next", "/")])
        .send()
        .await
        .expect("sign in");
    let location = answer.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!((answer.status().as_u16(), location.as_str()), (303, "/"), "signing in as {}", ADMIN.0);
}

// ---------------------------------------------------------------- profile

struct Profile {
    accounts: usize,
    steps: Vec<(String, Vec<Duration>)>,
    dto_bytes: usize,
    health_mix: String,
}

fn live_vars(db_url: &str, data_dir: &Path, key: &str) -> Vec<(String, String)> {
    let mut vars = process::live_vars(CLIENT_ID, CLIENT_SECRET, db_url, data_dir, key);
    let log = std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn,sqlx::query=debug".into());
    vars.push(("AUTHWATCH_LOG".into(), log));
    vars
}

async fn profile(db_url: &str, data_dir: &Path, key: &str, admin: User) -> Profile {
    // The app on the bench's database, in this process; nothing refreshes (its engine is not started).
    let app = TestApp::builder().vars(live_vars(db_url, data_dir, key)).start().await;
    let state = app.state.clone();
    let mut steps: Vec<(String, Vec<Duration>)> = Vec::new();

    let mut sql = Vec::new();
    let mut rows = Vec::new();
    for _ in 0..PROFILE_ITERATIONS {
        let t = Instant::now();
        rows = accounts::summaries(&state.pool).await.expect("summaries");
        sql.push(t.elapsed());
    }
    steps.push(("db::accounts::summaries (SQL + decode of every row)".into(), sql));

    let app = apps::facts(&state.pool, CLIENT_ID).await.expect("app facts");
    let required = state.x.app().required_scopes.clone();
    let now = now_ms();
    let mut facts_t = Vec::new();
    let mut diag_t = Vec::new();
    let mut mix: BTreeMap<&'static str, usize> = BTreeMap::new();
    for iteration in 0..PROFILE_ITERATIONS {
        let t = Instant::now();
        let facts: Vec<_> = rows.iter().map(|s| s.facts()).collect();
        facts_t.push(t.elapsed());
        let t = Instant::now();
        let diagnoses: Vec<_> = facts.iter().map(|f| diagnose(f, &app, &required, now, &state.policy)).collect();
        diag_t.push(t.elapsed());
        if iteration == 0 {
            for d in &diagnoses {
                *mix.entry(d.health.slug()).or_insert(0) += 1;
            }
        }
        black_box(diagnoses);
    }
    steps.push(("AccountSummary::facts for every row (Scopes::parse)".into(), facts_t));
    steps.push(("domain::health::diagnose for every row".into(), diag_t));

    // The request as the router's gate leaves it for a signed-in admin.
    let (mut request, ()) = axum::http::Request::new(()).into_parts();
    request.extensions.insert(CurrentUser(Some(Arc::new(admin))));
    let owner = Owner::new();
    owner.with(|| {
        provide_context(state.clone());
        provide_context(request);
    });
    let mut dto_bytes = 0;
    for (label, query) in [
        ("/", DashboardQuery { page: 1, ..DashboardQuery::default() }),
        (
            "/?health=reconnect",
            DashboardQuery { health: Some("reconnect".into()), page: 1, ..DashboardQuery::default() },
        ),
        ("/?search=acc_12", DashboardQuery { search: "acc_12".into(), page: 1, ..DashboardQuery::default() }),
    ] {
        let mut samples = Vec::new();
        for _ in 0..PROFILE_ITERATIONS {
            let fut = owner.with(|| ScopedFuture::new(load_dashboard(query.clone())));
            let t = Instant::now();
            let dashboard = fut.await.expect("load_dashboard");
            samples.push(t.elapsed());
            if label == "/" {
                dto_bytes = serde_json::to_string(&dashboard).expect("json").len();
            }
        }
        steps.push((format!("api::load_dashboard {label} (whole data step)"), samples));
    }
    let total: usize = mix.values().sum();
    let health_mix = Health::ALL
        .iter()
        .filter_map(|h| mix.get(h.slug()).map(|n| format!("{} {n}", h.slug())))
        .collect::<Vec<_>>()
        .join(", ");
    state.pool.close().await;
    Profile { accounts: total, steps, dto_bytes, health_mix }
}

/// How many times the server loaded every account (`summaries` returning
/// `n` rows), from sqlx's debug lines in its log; `None` if not logged.
fn full_loads(log: &str, n: usize) -> Option<usize> {
    let plain = strip_ansi(log);
    let rows = format!("rows_returned={n} ");
    let queries = plain.lines().filter(|l| l.contains("sqlx::query")).count();
    (queries > 0).then(|| plain.lines().filter(|l| l.contains("SELECT a.id, a.x_user_id") && l.contains(&rows)).count())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- load

struct Stats {
    total: Vec<Duration>,
    ttfb: Vec<Duration>,
    wall: Duration,
    bytes: usize,
}

struct ScenarioResult {
    path: &'static str,
    concurrency: usize,
    stats: Stats,
    cpu_ms_per_req: f64,
    rss_after_mb: f64,
}

/// `requests` GETs of `url`, `concurrency` at a time, each timed to its last byte.
async fn load(client: &reqwest::Client, url: &str, concurrency: usize, requests: usize) -> Stats {
    let next = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, next, samples) = (client.clone(), url.to_owned(), next.clone(), samples.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    let response = client.get(&url).send().await.expect("request");
                    let ttfb = t.elapsed();
                    assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {url}");
                    let body = response.bytes().await.expect("body");
                    mine.push((t.elapsed(), ttfb, body.len()));
                }
                samples.lock().expect("samples").extend(mine);
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("load task");
    }
    let wall = started.elapsed();
    let samples = std::mem::take(&mut *samples.lock().expect("samples"));
    let mut total: Vec<_> = samples.iter().map(|s| s.0).collect();
    let mut ttfb: Vec<_> = samples.iter().map(|s| s.1).collect();
    total.sort();
    ttfb.sort();
    Stats { total, ttfb, wall, bytes: samples.iter().map(|s| s.2).sum() }
}
