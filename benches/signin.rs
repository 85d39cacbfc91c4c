//! The sign-in benchmark: a burst of concurrent sign-ins against the real
//! server binary, as a password-guessing botnet would send them.
//!
//! 1. Creates two users with `authwatch user add` in a fresh database: a
//!    victim whose password is being guessed, and a colleague who signs in
//!    with the right password during the burst.
//! 2. Starts `authwatch serve` as its own process in live mode (X endpoints
//!    point at an unused port: signing in never calls X), trusting one proxy
//!    hop, so that every request can come from its own address through
//!    `X-Forwarded-For` — the per-address budget does not help here, only the
//!    per-email one and the bound on concurrent argon2.
//! 3. Fires `BENCH_SIGN_INS` sign-ins at once: 40 % wrong passwords for the
//!    victim, 58 % wrong passwords spread over `BENCH_EMAILS` other emails
//!    (unknown ones: they cost a verification too), 2 % the colleague's right
//!    password. Samples the server's VmRSS every few milliseconds meanwhile.
//! 4. Reports the answers (signed in, invalid, throttled, busy, other),
//!    guesses verified per email (an "invalid" or a success is a verified
//!    guess), the server's own count of argon2 verifications when it exports
//!    one (`authwatch_password_verifications_total` on `/metrics`), latency
//!    percentiles, and the peak RSS (VmHWM). Last, the victim's right password
//!    must still be refused as throttled.
//!
//! Run: `cargo bench --features ssr --bench signin`
//! Smoke: `RUSTFLAGS="--cfg erase_components" cargo test --features ssr --bench signin`
//! (or `BENCH_SMOKE=1`, or the argument `--smoke`): 120 sign-ins, a few seconds, and a non-zero
//! exit when more than 5 guesses per email were verified, the peak RSS
//! exceeds 200 MB, or the victim's right password got in after the burst.
//!
//! Knobs (environment variables):
//! - `BENCH_SIGN_INS` (500; 120 in smoke mode): sign-ins in the burst.
//! - `BENCH_EMAILS` (50): other emails the burst spreads over.
//! - `BENCH_KEEP=1`: keep the temporary directory (database, `server.log`).
//! - `AUTHWATCH_BENCH_BIN`: the server binary. Default: the `authwatch`
//!   binary cargo builds for this bench (release under `cargo bench`, debug
//!   under `cargo test`; argon2 is optimised in both).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::bench::{cpu_model, env_usize, percentile_ms, smoke};
use support::process::{self, rss_kb, ServerProcess};

const CLIENT_ID: &str = "bench-client";
const CLIENT_SECRET: &str = "bench-secret";
const KEY: &str = "YXV0aHdhdGNoLWJlbmNoLWtleS0zMi1ieXRlcy0hISE=";
const VICTIM: (&str, &str) = ("victim@bench.example", "the-victims-password-1");
const COLLEAGUE: (&str, &str) = ("colleague@bench.example", "the-colleagues-password-1");
/// What the throttle allows per email within its window.
const MAX_PER_EMAIL: usize = 5;
const MAX_RSS_MB: f64 = 200.0;

fn main() -> ExitCode {
    let smoke = smoke();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run(smoke))
}

/// Which kind of sign-in a request of the burst is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Who {
    Victim,
    Other(usize),
    Colleague,
}

impl Who {
    fn of(i: usize, emails: usize) -> Self {
        match i % 50 {
            0 => Who::Colleague,
            1..=20 => Who::Victim,
            _ => Who::Other((i + i / 50) % emails.max(1)),
        }
    }

    fn email(self) -> String {
        match self {
            Who::Victim => VICTIM.0.to_owned(),
            Who::Colleague => COLLEAGUE.0.to_owned(),
            Who::Other(n) => format!("guess-{n}@bench.example"),
        }
    }
}

/// How the server answered a sign-in (it always redirects).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Answer {
    SignedIn,
    Invalid,
    Throttled,
    Busy,
    Other,
}

impl Answer {
    fn of(status: u16, location: &str) -> Self {
        if status != 303 {
            return Answer::Other;
        }
        let error = location.strip_prefix("/sign-in?error=").map(|rest| rest.split('&').next().unwrap_or(""));
        match error {
            None if !location.starts_with("/sign-in") => Answer::SignedIn,
            Some("invalid") => Answer::Invalid,
            Some(e) if e.starts_with("throttled-") => Answer::Throttled,
            Some("busy") => Answer::Busy,
            _ => Answer::Other,
        }
    }

    /// Whether the server ran argon2 to give this answer.
    fn verified(self) -> bool {
        matches!(self, Answer::SignedIn | Answer::Invalid)
    }
}

async fn run(smoke: bool) -> ExitCode {
    let n = env_usize("BENCH_SIGN_INS", if smoke { 120 } else { 500 });
    let emails = env_usize("BENCH_EMAILS", 50);
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = tmp.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let db_url = format!("sqlite://{}", tmp.path().join("bench.db").display());
    let bin = process::binary();
    let vars = live_vars(&db_url, &data_dir);

    println!("authwatch sign-in benchmark{}", if smoke { " (smoke)" } else { "" });
    println!(
        "machine: {} CPU(s), {}; binary: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model(),
        bin.display()
    );

    for (email, password) in [VICTIM, COLLEAGUE] {
        add_user(&bin, &vars, email, password);
    }
    let server = ServerProcess::start(&bin, &vars, tmp.path().join("server.log"));
    let base = server.base();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(n)
        .build()
        .expect("client");
    server.wait_healthy(&client).await;
    let idle = server.memory();
    println!("server pid {}, idle VmRSS {:.1} MB, VmHWM so far {:.1} MB", server.pid(), idle.rss_mb, idle.hwm_mb);
    let verifications_before = verifications(&client, &base).await;

    // Sample the RSS while the burst runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let peak_kb = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak_kb, pid) = (sampling.clone(), peak_kb.clone(), server.pid());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kb) = rss_kb(pid) {
                    peak_kb.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // The burst: every request waits at the barrier, then all go at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, base, barrier) = (client.clone(), base.clone(), barrier.clone());
            tokio::spawn(async move {
                let who = Who::of(i, emails);
                let password = match who {
                    Who::Colleague => COLLEAGUE.1.to_owned(),
                    _ => format!("wrong-guess-{i}"),
                };
                let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                barrier.wait().await;
                let t = Instant::now();
                let answer = sign_in(&client, &base, &who.email(), &password, &ip).await;
                (who, answer, t.elapsed())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        results.push(t.await.expect("sign-in task"));
    }
    let wall = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let after = server.memory();
    let verifications_after = verifications(&client, &base).await;

    // After the burst, the victim's right password is still refused.
    let victim_after = sign_in(&client, &base, VICTIM.0, VICTIM.1, "10.255.255.254").await;
    drop(server);
    if std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("kept {}", tmp.keep().display());
    }

    // The report.
    let mut answers: BTreeMap<Answer, usize> = BTreeMap::new();
    let mut verified: BTreeMap<Who, usize> = BTreeMap::new();
    for (who, answer, _) in &results {
        *answers.entry(*answer).or_insert(0) += 1;
        if answer.verified() {
            *verified.entry(*who).or_insert(0) += 1;
        }
    }
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.2).collect();
    latencies.sort();
    println!("\n{n} concurrent sign-ins from {n} addresses in {:.2} s", wall.as_secs_f64());
    println!("answers: {}", answers.iter().map(|(a, c)| format!("{a:?} {c}")).collect::<Vec<_>>().join(", "));
    let victim = verified.get(&Who::Victim).copied().unwrap_or(0);
    let colleague_in = results.iter().filter(|r| r.0 == Who::Colleague && r.1 == Answer::SignedIn).count();
    let colleague_total = results.iter().filter(|r| r.0 == Who::Colleague).count();
    let others: Vec<usize> = verified.iter().filter(|(w, _)| matches!(w, Who::Other(_))).map(|(_, c)| *c).collect();
    let worst_email = verified.iter().filter(|(w, _)| **w != Who::Colleague).map(|(_, c)| *c).max().unwrap_or(0);
    println!(
        "guesses verified for the victim: {victim} (of {} tried)",
        results.iter().filter(|r| r.0 == Who::Victim).count()
    );
    println!(
        "guesses verified for the {emails} other emails: {} in all, at most {} for one",
        others.iter().sum::<usize>(),
        others.iter().max().copied().unwrap_or(0)
    );
    println!("the colleague's right password: {colleague_in} of {colleague_total} signed in");
    // The counter appears on /metrics once it has counted something.
    match verifications_after {
        Some(after) => {
            println!("argon2 verifications counted by the server: {}", after - verifications_before.unwrap_or(0))
        }
        None => println!("argon2 verifications counted by the server: not exported by this binary"),
    }
    println!(
        "latency (to the redirect): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&latencies, 0.50),
        pct(&latencies, 0.90),
        pct(&latencies, 0.99),
        pct(&latencies, 1.0)
    );
    let sampled_mb = peak_kb.load(Ordering::Relaxed) as f64 / 1024.0;
    println!(
        "server memory: idle VmRSS {:.1} MB; peak during the burst (sampled every 5 ms) {sampled_mb:.1} MB; VmHWM {:.1} MB",
        idle.rss_mb, after.hwm_mb
    );
    println!("after the burst, the victim's right password: {victim_after:?}");

    let mut failures = Vec::new();
    if worst_email > MAX_PER_EMAIL {
        failures.push(format!("{worst_email} guesses verified for one email (the limit is {MAX_PER_EMAIL})"));
    }
    if after.hwm_mb > MAX_RSS_MB {
        failures.push(format!("peak RSS {:.1} MB (the limit is {MAX_RSS_MB} MB)", after.hwm_mb));
    }
    if victim_after == Answer::SignedIn {
        failures.push("the victim's right password got in right after the burst (expected: throttled)".into());
    }
    if failures.is_empty() {
        println!(
            "\nverdict: met (≤ {MAX_PER_EMAIL} guesses per email, peak RSS ≤ {MAX_RSS_MB} MB, still throttled after)"
        );
        ExitCode::SUCCESS
    } else {
        println!("\nverdict: missed: {}", failures.join("; "));
        if smoke {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str, ip: &str) -> Answer {
    let response = client
        .post(format!("{base}/auth/sign-in"))
        .header("origin", base)
        .header("x-forwarded-for", ip)
        .form(&[("email", email), ("password", password), ("next", "/")])
        .send()
        .await;
    match response {
        Ok(r) => {
            let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
            Answer::of(r.status().as_u16(), &location)
        }
        Err(_) => Answer::Other,
    }
}

/// `authwatch_password_verifications_total` from `/metrics`, if exported.
async fn verifications(client: &reqwest::Client, base: &str) -> Option<u64> {
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    let line = text.lines().find(|l| l.starts_with("authwatch_password_verifications_total"))?;
    line.split_whitespace().last()?.parse::<f64>().ok().map(|v| v as u64)
}

// ---------------------------------------------------------------- the server process

fn live_vars(db_url: &str, data_dir: &Path) -> Vec<(String, String)> {
    let mut vars = process::live_vars(CLIENT_ID, CLIENT_SECRET, db_url, data_dir, KEY);
    vars.push(("AUTHWATCH_FORWARDED_FOR_HOPS".into(), "1".into()));
    vars.push(("AUTHWATCH_LOG".into(), "error".into()));
    vars
}

/// `authwatch user add --password-stdin`, as an operator would.
fn add_user(bin: &Path, vars: &[(String, String)], email: &str, password: &str) {
    let mut child = process::command(bin, vars)
        .args(["user", "add", "--email", email, "--name", email, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("authwatch user add");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("password");
    assert!(child.wait().expect("user add").success(), "authwatch user add {email} failed");
}

/// Nearest-rank percentile of samples, in ms.
fn pct(samples: &[Duration], q: f64) -> f64 {
    percentile_ms(samples, q)
}
