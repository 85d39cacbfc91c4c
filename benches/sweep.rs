//! The refresh sweep benchmark.
//!
//! For each refresh concurrency level, in one process:
//! 1. Starts authwatch in demo mode in-process, as `tests/common` does
//!    (`Config::load` from a list of variables, `Server::new`, `serve_with`
//!    on `127.0.0.1:0`), with `AUTHWATCH_REFRESH_CONCURRENCY` = the level and
//!    a fresh SQLite file. The emulator is mounted at `/x-emulator` and our X
//!    client reaches it over real HTTP, as it would reach X.
//! 2. Connects `BENCH_BASELINE_GRANTS` accounts with 2-hour tokens (not due:
//!    the baseline's grants), then `BENCH_ACCOUNTS` accounts with 5-minute
//!    tokens (due: the refresh lead is 15 minutes), all through
//!    `demo::connect_as` (consent form → code → token exchange → users/me →
//!    save), a few at a time.
//! 3. Baseline: the emulator's token endpoint alone. `POST /2/oauth2/token`
//!    `grant_type=refresh_token` with reqwest, Basic auth with the demo app's
//!    credentials, at the same concurrency, as many requests as the sweep
//!    makes, over the baseline grants' refresh tokens (read from the database
//!    once; each round feeds the rotated tokens X returned to the next round;
//!    nothing is stored). Run once before and once after the sweep.
//! 4. The sweep: `state.engine.sweep(&state)` until nothing is due. Wall
//!    time → refreshes/s; the emulator's `refresh_grants` for the demo client
//!    must equal the number of swept accounts (one refresh each).
//! 5. Zero lost tokens: every swept account is at generation 2 with no
//!    incident, its latest refresh event is `ok`, and for a sample its stored
//!    refresh token still works at the emulator (`engine.refresh(.., None)`
//!    answers `Saved`). Any violation is printed and the bench exits 1.
//!
//! Run: `cargo bench --features ssr --bench sweep`
//! Smoke: `RUSTFLAGS="--cfg erase_components" cargo test --features ssr --bench sweep`
//! (or `BENCH_SMOKE=1`): 200 due accounts, 100 baseline grants, one level (4),
//! seconds; it fails on a lost token, as the measurement does.
//!
//! Knobs (environment variables):
//! - `BENCH_ACCOUNTS` (10000; 200 in smoke mode): due accounts to sweep.
//! - `BENCH_CONCURRENCY` (`4,16`; `4`): `AUTHWATCH_REFRESH_CONCURRENCY` levels,
//!   comma-separated; each level gets its own server, database and emulator.
//! - `BENCH_BASELINE_GRANTS` (2000; 100): grants the baseline refreshes in rounds.
//! - `BENCH_CONNECT_CONCURRENCY` (1): `connect_as` calls in flight while
//!   preparing. One at a time is already ~1,000 accounts/s; more in flight
//!   makes `db::accounts::save_grant` fail with SQLITE_BUSY_SNAPSHOT (517,
//!   "database is locked"), which the bench counts and repeats.
//! - `BENCH_VERIFY` (200): swept accounts whose stored refresh token is
//!   re-used through the engine afterwards (evenly spread; `all` for every one).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use authwatch::emulator::{Emulator, NewUser};
use authwatch::server::db::accounts;
use authwatch::server::demo::{self, CLIENT_ID};
use authwatch::server::lifecycle::connect::{Completed, Intent};
use authwatch::server::lifecycle::engine::Sweep;
use authwatch::server::lifecycle::refresh::Refreshed;
use authwatch::server::AppState;
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::bench::{env_usize, smoke};
use support::TestApp;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let ok = runtime.block_on(run());
    if !ok {
        eprintln!("\nFAILED: tokens were lost or refreshes went wrong (see above)");
        std::process::exit(1);
    }
}

/// A running authwatch in demo mode.
struct App {
    state: AppState,
    token_url: String,
    connect_retries: AtomicUsize,
    _app: TestApp,
}

impl App {
    async fn start(concurrency: usize) -> Self {
        let app = TestApp::builder().var("AUTHWATCH_REFRESH_CONCURRENCY", concurrency.to_string()).start().await;
        let state = app.state.clone();
        assert_eq!(state.engine.settings().concurrency, concurrency, "AUTHWATCH_REFRESH_CONCURRENCY was applied");
        let token_url = state.x.app().endpoints.token_url.to_string();
        Self { state, token_url, connect_retries: AtomicUsize::new(0), _app: app }
    }

    fn emulator(&self) -> &Emulator {
        self.state.emulator.as_ref().expect("demo mode has an emulator")
    }

    fn refresh_grants(&self) -> u64 {
        self.emulator().counts().client(CLIENT_ID).refresh_grants
    }

    /// Connects `n` new X users through the real code path, `parallel` at a
    /// time, with access tokens living `ttl_secs`. Returns their account ids.
    async fn connect(&self, prefix: &str, n: usize, ttl_secs: u64, parallel: usize) -> Vec<String> {
        self.emulator().update_settings(|s| s.access_token_ttl_secs = ttl_secs);
        let users: Vec<String> = (0..n)
            .map(|i| {
                let user = NewUser { id: None, username: format!("{prefix}_{i}"), name: format!("{prefix} {i}") };
                self.emulator().create_user(user).id
            })
            .collect();
        let state = &self.state;
        let retries = &self.connect_retries;
        let ids: Vec<String> = stream::iter(users)
            .map(|user| async move {
                // Concurrent connects can fail with SQLITE_BUSY_SNAPSHOT (517,
                // "database is locked"): `db::accounts::save_grant` reads before it
                // writes in a deferred transaction. Nothing is saved then; the
                // bench connects again (a new grant) and counts it.
                for _ in 0..20 {
                    match demo::connect_as(state, &user, &Intent::NewAccount, "bench", None).await {
                        Ok(Completed::Saved { connected, .. }) => return connected.account_id,
                        Ok(other) => panic!("connecting {user}: {other:?}"),
                        Err(e) if e.to_string().contains("database is locked") => {
                            retries.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("connecting {user}: {e}"),
                    }
                }
                panic!("connecting {user}: the database stayed locked")
            })
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
        self.emulator().update_settings(|s| s.access_token_ttl_secs = 7200);
        ids
    }
}

/// Process CPU time (user + system), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name `(…)`: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // CLK_TCK is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `authwatch_refresh_seconds` sum and count from the process's Prometheus recorder.
fn refresh_histogram() -> Option<(f64, f64)> {
    let text = authwatch::server::metrics::handle()?.render();
    if std::env::var("BENCH_DEBUG_METRICS").is_ok() {
        eprintln!("{}", text.lines().filter(|l| l.contains("refresh_seconds")).collect::<Vec<_>>().join("\n"));
    }
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    // Before the first refresh of the process the histogram does not exist yet.
    Some((
        value("authwatch_refresh_seconds_sum").unwrap_or(0.0),
        value("authwatch_refresh_seconds_count").unwrap_or(0.0),
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The emulator's token endpoint alone.
struct Baseline {
    requests: usize,
    wall: Duration,
    cpu: Duration,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Baseline {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
}

/// Refreshes `tokens` directly at the token endpoint, `concurrency` at a
/// time, in rounds until `requests` were sent; each round uses the refresh
/// tokens the previous one got back. Panics on any non-200.
async fn baseline(app: &App, tokens: &mut [String], requests: usize, concurrency: usize) -> Baseline {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let secret = app.state.x.app().client_secret.as_ref().expect("the demo app is confidential").expose().to_owned();
    let (client, secret, url) = (&client, &secret, &app.token_url);
    let mut latencies = Vec::with_capacity(requests);
    let cpu0 = cpu_time();
    let started = Instant::now();
    let mut left = requests;
    while left > 0 {
        let round = left.min(tokens.len());
        let answers: Vec<(usize, String, Duration)> = stream::iter(tokens[..round].iter().cloned().enumerate())
            .map(|(i, token)| async move {
                let sent = Instant::now();
                let response = client
                    .post(url.as_str())
                    .basic_auth(CLIENT_ID, Some(secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                    .send()
                    .await
                    .expect("token endpoint answers");
                let status = response.status();
                let body: serde_json::Value = response.json().await.expect("JSON body");
                assert!(status.is_success(), "baseline refresh: HTTP {status}: {body}");
                let next = body["refresh_token"].as_str().expect("a rotated refresh token").to_owned();
                (i, next, sent.elapsed())
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (i, next, latency) in answers {
            tokens[i] = next;
            latencies.push(latency);
        }
        left -= round;
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    latencies.sort();
    let mean_ms = latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / latencies.len().max(1) as f64;
    Baseline { requests, wall, cpu, mean_ms, p50_ms: percentile(&latencies, 0.5), p99_ms: percentile(&latencies, 0.99) }
}

/// One concurrency level's results.
struct Level {
    concurrency: usize,
    connect: Duration,
    connect_retries: usize,
    base_before: Baseline,
    base_after: Baseline,
    sweep_wall: Duration,
    sweep_cpu: Duration,
    sweeps: Vec<(Sweep, Duration)>,
    empty_sweep: Duration,
    grants: u64,
    x_mean_ms: Option<f64>,
    verified: usize,
    lost: usize,
    load: (String, String),
}

impl Level {
    fn sweep_rate(&self, n: usize) -> f64 {
        n as f64 / self.sweep_wall.as_secs_f64()
    }
    fn base_rate(&self) -> f64 {
        (self.base_before.rate() + self.base_after.rate()) / 2.0
    }
}

async fn run() -> bool {
    let smoke = smoke();
    let n = env_usize("BENCH_ACCOUNTS", if smoke { 200 } else { 10_000 });
    let grants = env_usize("BENCH_BASELINE_GRANTS", if smoke { 100 } else { 2_000 }).max(1);
    let connect_parallel = env_usize("BENCH_CONNECT_CONCURRENCY", 1);
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| if smoke { "4" } else { "4,16" }.into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| (1..=256).contains(&c))
        .collect();
    let verify = match std::env::var("BENCH_VERIFY").ok().as_deref().map(str::trim) {
        Some("all") => n,
        Some(v) => v.parse().unwrap_or(200).min(n),
        None => 200.min(n),
    };

    println!("authwatch refresh sweep benchmark{}", if smoke { " (smoke)" } else { "" });
    println!(
        "machine: {} CPU(s), {}; load average at start {}",
        std::thread::available_parallelism().map(|c| c.get()).unwrap_or(0),
        cpu_model(),
        loadavg()
    );
    println!(
        "due accounts: {n}; baseline grants: {grants}; refresh concurrency levels: {levels:?}; verified afterwards: {verify}"
    );

    let mut ok = true;
    let mut results = Vec::new();
    for &concurrency in &levels {
        let (level, good) = one_level(n, grants, concurrency, connect_parallel, verify).await;
        ok &= good;
        results.push(level);
    }

    println!("\n## Results ({n} due accounts; wall time; same process, same emulator)\n");
    println!("| concurrency | emulator token endpoint alone (req/s, before / after) | sweep (refreshes/s) | sweep / endpoint | sweep wall | CPU per refresh: sweep / endpoint | X call in sweep, mean | endpoint alone, mean / p50 / p99 | refresh_grants | lost tokens |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for l in &results {
        println!(
            "| {} | {:.0} / {:.0} | {:.0} | {:.0} % | {:.2} s | {:.2} ms / {:.2} ms | {} | {:.2} / {:.2} / {:.2} ms | {} | {} |",
            l.concurrency,
            l.base_before.rate(),
            l.base_after.rate(),
            l.sweep_rate(n),
            100.0 * l.sweep_rate(n) / l.base_rate(),
            l.sweep_wall.as_secs_f64(),
            l.sweep_cpu.as_secs_f64() * 1000.0 / n as f64,
            (l.base_before.cpu + l.base_after.cpu).as_secs_f64() * 1000.0 / (l.base_before.requests + l.base_after.requests) as f64,
            l.x_mean_ms.map(|m| format!("{m:.2} ms")).unwrap_or_else(|| "n/a".into()),
            l.base_before.mean_ms,
            l.base_before.p50_ms,
            l.base_before.p99_ms,
            l.grants,
            l.lost,
        );
    }
    println!();
    for l in &results {
        println!(
            "concurrency {}: connected {} accounts in {:.1} s ({} connects repeated after `database is locked`); sweeps {}; empty sweep afterwards {:.1} ms; {} stored refresh tokens re-used OK; load average {} → {}",
            l.concurrency,
            n + grants,
            l.connect.as_secs_f64(),
            l.connect_retries,
            l.sweeps.iter().map(|(s, d)| format!("[due {} saved {} failed {} lost_race {} errors {} in {:.2} s]", s.due, s.saved, s.failed, s.lost_race, s.errors, d.as_secs_f64())).collect::<Vec<_>>().join(" "),
            l.empty_sweep.as_secs_f64() * 1000.0,
            l.verified,
            l.load.0,
            l.load.1,
        );
    }
    println!("\nload average at end {}", loadavg());
    if ok {
        println!("zero lost tokens: OK");
    }
    ok
}

async fn one_level(
    n: usize,
    grants: usize,
    concurrency: usize,
    connect_parallel: usize,
    verify: usize,
) -> (Level, bool) {
    println!("\n# AUTHWATCH_REFRESH_CONCURRENCY={concurrency}");
    let load_start = loadavg();
    let app = App::start(concurrency).await;
    let state = &app.state;
    let mut ok = true;

    // Accounts: the baseline's grants (not due), then the due ones.
    let started = Instant::now();
    let base_ids = app.connect("base", grants, 7200, connect_parallel).await;
    let due_ids = app.connect("due", n, 300, connect_parallel).await;
    let connect = started.elapsed();
    let connect_retries = app.connect_retries.load(Ordering::Relaxed);
    println!(
        "connected {} + {} accounts through demo::connect_as ({connect_parallel} at a time) in {:.1} s ({:.0}/s); {connect_retries} connects failed with `database is locked` and were repeated",
        grants,
        n,
        connect.as_secs_f64(),
        (grants + n) as f64 / connect.as_secs_f64()
    );
    let mut base_tokens = Vec::with_capacity(grants);
    for id in &base_ids {
        let t = accounts::tokens(&state.pool, &state.keyring, id).await.expect("tokens").expect("account");
        base_tokens.push(t.refresh.expect("a refresh token").expose().to_owned());
    }

    // Baseline, before.
    let base_before = baseline(&app, &mut base_tokens, n, concurrency).await;
    println!(
        "endpoint alone (before): {} requests in {:.2} s = {:.0} req/s",
        base_before.requests,
        base_before.wall.as_secs_f64(),
        base_before.rate()
    );

    // The sweep.
    app.emulator().reset_counts();
    let histogram0 = refresh_histogram();
    let cpu0 = cpu_time();
    let mut sweeps = Vec::new();
    let empty_sweep;
    loop {
        let t = Instant::now();
        let s = state.engine.sweep(state).await;
        let d = t.elapsed();
        if s.due == 0 {
            empty_sweep = d;
            break;
        }
        println!(
            "sweep: due {} saved {} not_due {} lost_race {} failed {} errors {} in {:.2} s",
            s.due,
            s.saved,
            s.not_due,
            s.lost_race,
            s.failed,
            s.errors,
            d.as_secs_f64()
        );
        let stuck = s.saved == 0;
        sweeps.push((s, d));
        if stuck || sweeps.len() >= 10 {
            println!("LOST: the sweeps stopped making progress");
            ok = false;
            empty_sweep = Duration::ZERO;
            break;
        }
    }
    let sweep_wall: Duration = sweeps.iter().map(|(_, d)| *d).sum();
    let sweep_cpu = cpu_time().saturating_sub(cpu0);
    let grants_sent = app.refresh_grants();
    let x_mean_ms = match (histogram0, refresh_histogram()) {
        (Some((s0, c0)), Some((s1, c1))) if c1 > c0 => Some((s1 - s0) / (c1 - c0) * 1000.0),
        _ => None,
    };
    let swept: usize = sweeps.iter().map(|(s, _)| s.saved).sum();
    println!(
        "swept {swept} accounts in {:.2} s = {:.0} refreshes/s; emulator refresh_grants {grants_sent}; empty sweep {:.1} ms",
        sweep_wall.as_secs_f64(),
        n as f64 / sweep_wall.as_secs_f64(),
        empty_sweep.as_secs_f64() * 1000.0
    );
    if swept != n || grants_sent != n as u64 {
        println!("LOST: expected {n} saved refreshes and {n} refresh grants at the emulator, got {swept} saved and {grants_sent} grants");
        ok = false;
    }
    for (s, _) in &sweeps {
        if s.failed + s.lost_race + s.errors + s.not_due > 0 {
            println!("LOST: a sweep reported trouble: {s:?}");
            ok = false;
        }
    }

    // Baseline, after.
    let base_after = baseline(&app, &mut base_tokens, n, concurrency).await;
    println!(
        "endpoint alone (after): {} requests in {:.2} s = {:.0} req/s",
        base_after.requests,
        base_after.wall.as_secs_f64(),
        base_after.rate()
    );

    // Zero lost tokens.
    let mut lost = HashSet::new();
    let summaries: HashMap<String, accounts::AccountSummary> =
        accounts::summaries(&state.pool).await.expect("summaries").into_iter().map(|s| (s.id.clone(), s)).collect();
    for id in &due_ids {
        match summaries.get(id) {
            Some(s)
                if s.generation == 2
                    && s.incident().is_none()
                    && s.has_refresh_token
                    && s.last_refresh_ok == Some(true) => {}
            Some(s) => {
                if lost.len() < 10 {
                    println!(
                        "LOST: {id} generation {} incident {:?} refresh token {} last refresh ok {:?}",
                        s.generation, s.incident_cause, s.has_refresh_token, s.last_refresh_ok
                    );
                }
                lost.insert(id.clone());
            }
            None => {
                println!("LOST: {id} is gone");
                lost.insert(id.clone());
            }
        }
    }
    let latest: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT e.account_id, e.outcome FROM events e
         WHERE e.kind = 'refresh' AND e.id = (SELECT MAX(id) FROM events WHERE account_id = e.account_id AND kind = 'refresh')",
    )
    .fetch_all(&state.pool)
    .await
    .expect("latest refresh events")
    .into_iter()
    .collect();
    let not_ok: Vec<&String> = due_ids.iter().filter(|id| latest.get(*id).map(String::as_str) != Some("ok")).collect();
    println!("accounts whose latest refresh event is not `ok`: {}", not_ok.len());
    for id in not_ok.iter().take(10) {
        println!("LOST: {id}: latest refresh event {:?}", latest.get(*id));
    }
    lost.extend(not_ok.into_iter().cloned());

    // The stored refresh tokens still work: re-use a spread-out sample.
    let step = (due_ids.len() as f64 / verify.max(1) as f64).max(1.0);
    let sample: Vec<&String> =
        (0..verify).map(|i| &due_ids[((i as f64 * step) as usize).min(due_ids.len() - 1)]).collect();
    let mut verified = 0;
    for id in sample {
        match state.engine.refresh(state, id, "bench-verify", None).await {
            Ok(Refreshed::Saved { generation: 3 }) => verified += 1,
            other => {
                println!("LOST: {id}: re-using the stored refresh token gave {other:?}");
                lost.insert(id.clone());
            }
        }
    }
    println!("stored refresh tokens re-used through the engine: {verified}/{verify} saved");
    if !lost.is_empty() {
        println!("LOST TOKENS at concurrency {concurrency}: {}", lost.len());
        ok = false;
    }

    let level = Level {
        concurrency,
        connect,
        connect_retries,
        base_before,
        base_after,
        sweep_wall,
        sweep_cpu,
        sweeps,
        empty_sweep,
        grants: grants_sent,
        x_mean_ms,
        verified,
        lost: lost.len(),
        load: (load_start, loadavg()),
    };
    (level, ok)
}
