//! The verdicts soak benchmark: are authwatch's verdicts ones a team can act
//! on, day after day, while X misbehaves?
//!
//! One authwatch in demo mode, in-process (as `tests/common` starts it), its
//! X client reaching the in-process emulator over real HTTP. `BENCH_ACCOUNTS`
//! accounts are connected through the real OAuth path, then
//! `BENCH_DAYS` simulated days pass. A day passing moves both clocks: the
//! emulator's (`advance_time`) and authwatch's stored times (the bench
//! shifts every time column of the database back by a day), so access
//! tokens expire, backoffs run out and checks meet a new UTC day as they
//! would. The engine, the notifier and the probes are driven by the bench,
//! in the order their tasks would run them. Each day:
//! 1. a day passes; a known set of genuine failures happens: 2 accounts
//!    revoke the app at X, 1 account's tokens are refreshed by a second
//!    client (a copy: the stored refresh token dies);
//! 2. the sweep refreshes every account — on day 0 (mod 4) through a 5xx
//!    storm of the token endpoint, on day 1 through a 429 storm — then the
//!    storm ends and the sweep runs again (20 simulated minutes later) until
//!    nothing is due; the notifier and the probes run after every sweep;
//! 3. X invalidates 3 accounts' access tokens early;
//! 4. the daily check runs (twice: a restart must not ask twice);
//! 5. a fifth of the accounts publish a post, a tenth of those a duplicate
//!    of an earlier post (`BENCH_DUPLICATES=0` to leave them out) — on day 2
//!    during X's auth outage (valid tokens refused on v2), on day 3 while the
//!    app's credits are depleted (402); then X recovers, 6 minutes pass (a
//!    probe interval), the probes and the notifier run;
//! 6. verdicts are read: every account `diagnose` sends to reconnect is
//!    either one of the genuine failures (found) or a false verdict; the
//!    genuine ones are then reconnected by their owners (as are false ones,
//!    whatever a person would have had to do).
//!
//! Reported: false "reconnect" verdicts (goal 0) with their causes; genuine
//! failures found within the sweep of their day (goal all); prompts and
//! notifications raised per incident of X (goal one each, none per account);
//! `GET /2/users/me` calls per account and day (goal ≤ 1). Exits 1 when a
//! goal is missed.
//!
//! Run: `cargo bench --features ssr --bench verdicts` (500 accounts, 8 days);
//! `cargo test --features ssr --bench verdicts` is the smoke run (40
//! accounts, 4 days: seconds), for the test command.
//! Knobs: `BENCH_ACCOUNTS`, `BENCH_DAYS`, `BENCH_SEED` (1), `BENCH_DUPLICATES`
//! (1), `BENCH_SMOKE` (1: the smoke run, 0: the soak, whatever the command).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use authwatch::domain::health::{diagnose, Action, AttemptResult, Cause, Health};
use authwatch::domain::prompts::{APP_BILLING, APP_X_INCIDENT};
use authwatch::emulator::{Emulator, Endpoint, Fault, FaultKind, GrantKind, NewUser};
use authwatch::server::db::events::{self, EventKind, NewEvent};
use authwatch::server::db::{accounts, apps, prompts};
use authwatch::server::demo::{self, CLIENT_ID};
use authwatch::server::lifecycle::connect::{Completed, Intent};
use authwatch::server::notify::reconcile;
use authwatch::server::probe;
use authwatch::server::x::now_ms;
use authwatch::server::AppState;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use support::bench::{env_usize, smoke};
use support::TestApp;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if !runtime.block_on(run()) {
        eprintln!("\nFAILED: a goal was missed (see above)");
        std::process::exit(1);
    }
}

/// A running authwatch in demo mode, with the accounts the bench connected.
struct App {
    state: AppState,
    base: String,
    api_key: String,
    http: reqwest::Client,
    /// Account id → X user id.
    x_user: HashMap<String, String>,
    _app: TestApp,
}

impl App {
    async fn start() -> Self {
        let app = TestApp::builder()
            .var("AUTHWATCH_REFRESH_CONCURRENCY", "8")
            // Simulated time passes faster than the broker's memory of a
            // token ages: read every token from the database.
            .var("AUTHWATCH_API_CACHE_MS", "0")
            // One channel, so that every prompt change queues one message
            // (nothing delivers them: the bench counts what would be sent).
            .var("AUTHWATCH_WEBHOOK_URL", "http://127.0.0.1:9/hook")
            .var("AUTHWATCH_WEBHOOK_SECRET", "whsec_bench_not_a_secret")
            .start()
            .await;
        let state = app.state.clone();
        let key =
            authwatch::server::pipeline::auth::create_key(&state.pool, "bench", None, "bench").await.expect("API key");
        Self {
            state,
            base: app.url("/api/v1"),
            api_key: key.key.expose().to_owned(),
            http: reqwest::Client::new(),
            x_user: HashMap::new(),
            _app: app,
        }
    }

    fn emulator(&self) -> &Emulator {
        self.state.emulator.as_ref().expect("demo mode has an emulator")
    }

    async fn connect(&mut self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let user = self.emulator().create_user(NewUser {
                id: None,
                username: format!("brand_{i}"),
                name: format!("Brand {i}"),
            });
            match demo::connect_as(&self.state, &user.id, &Intent::NewAccount, "bench", None).await.expect("connect") {
                Completed::Saved { connected, .. } => {
                    self.x_user.insert(connected.account_id.clone(), user.id);
                    ids.push(connected.account_id);
                }
                other => panic!("connecting: {other:?}"),
            }
        }
        ids
    }

    /// The account's owner reconnects it in the browser.
    async fn reconnect(&self, id: &str) {
        demo::connect_as(&self.state, &self.x_user[id], &Intent::NewAccount, "owner", None).await.expect("reconnect");
    }

    /// Time passes: X's clock and every time authwatch stored move `ms`.
    async fn pass(&self, ms: i64) {
        self.emulator().advance_time((ms / 1000) as u64);
        let pool = &self.state.pool;
        let statements = [
            "UPDATE accounts SET connected_at = connected_at - $1, last_refresh_at = last_refresh_at - $1, last_check_at = last_check_at - $1,
                 last_verified_at = last_verified_at - $1, incident_since = incident_since - $1, incident_at = incident_at - $1",
            "UPDATE token_sets SET issued_at = issued_at - $1, expires_at = expires_at - $1",
            "UPDATE events SET at = at - $1",
            "UPDATE refresh_state SET next_attempt_at = next_attempt_at - $1, lease_until = lease_until - $1",
            "UPDATE prompts SET opened_at = opened_at - $1, escalated_at = escalated_at - $1, closed_at = closed_at - $1",
            "UPDATE notifications SET created_at = created_at - $1, next_attempt_at = next_attempt_at - $1, delivered_at = delivered_at - $1, gave_up_at = gave_up_at - $1",
            "UPDATE posts SET created_at = created_at - $1, updated_at = updated_at - $1, published_at = published_at - $1",
            "UPDATE x_apps SET credentials_rejected_since = credentials_rejected_since - $1, clock_measured_at = clock_measured_at - $1,
                 credits_depleted_since = credits_depleted_since - $1, credits_probed_at = credits_probed_at - $1,
                 x_incident_probed_at = x_incident_probed_at - $1, x_recovered_at = x_recovered_at - $1",
        ];
        for sql in statements {
            sqlx::query(sql).bind(ms).execute(pool).await.expect("time passes");
        }
        if ms >= DAY_MS {
            sqlx::query("UPDATE user_reads SET day = day - $1")
                .bind(ms / DAY_MS)
                .execute(pool)
                .await
                .expect("days pass");
        }
        // An event, so that every in-memory copy of the accounts reloads.
        let any: String =
            sqlx::query_scalar("SELECT id FROM accounts LIMIT 1").fetch_one(pool).await.expect("an account");
        let tick = NewEvent {
            kind: EventKind::Owner,
            actor: "bench".into(),
            detail: Some(format!("{} min pass", ms / MINUTE_MS)),
            ..NewEvent::default()
        };
        events::append(pool, &any, now_ms(), &tick, AttemptResult::Inconclusive).await.expect("tick");
    }

    /// What the notifier and the prober's tasks do between sweeps.
    async fn tend(&self) {
        probe::run(&self.state, now_ms()).await.expect("probes");
        reconcile(&self.state, now_ms()).await.expect("reconcile");
    }

    async fn publish(&self, id: &str, key: &str, text: &str) -> u16 {
        let r = self
            .http
            .post(format!("{}/accounts/{id}/posts", self.base))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .expect("publish");
        r.status().as_u16()
    }

    /// A second client refreshes the account with a copy of its tokens.
    async fn copy_refreshes(&self, id: &str) {
        let tokens = accounts::tokens(&self.state.pool, &self.state.keyring, id).await.unwrap().unwrap();
        let app = self.state.x.app();
        let secret = app.client_secret.as_ref().expect("confidential").expose().to_owned();
        let refresh = tokens.refresh.expect("a refresh token");
        let r = self
            .http
            .post(app.endpoints.token_url.clone())
            .basic_auth(&app.client_id, Some(secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.expose())])
            .send()
            .await
            .expect("the copy refreshes");
        assert_eq!(r.status(), 200, "the copy's refresh works");
    }

    /// Accounts `diagnose` sends to reconnect now, with their causes.
    async fn reconnect_verdicts(&self) -> BTreeMap<String, Cause> {
        let app = apps::facts(&self.state.pool, CLIENT_ID).await.unwrap();
        let now = now_ms();
        accounts::summaries(&self.state.pool)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|s| {
                let d = diagnose(&s.facts(), &app, &self.state.x.app().required_scopes, now, &self.state.policy);
                (d.health == Health::ActionNeeded(Action::Reconnect))
                    .then(|| (s.id, d.cause.unwrap_or(Cause::RefreshTokenRejected)))
            })
            .collect()
    }

    fn users_me(&self) -> u64 {
        self.emulator().counts().client(CLIENT_ID).users_me
    }
}

/// The prompts raised so far: (subject kind, account id) per prompt id.
async fn prompts_by_id(app: &App) -> BTreeMap<i64, (String, Option<String>)> {
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, subject, account_id FROM prompts").fetch_all(&app.state.pool).await.unwrap();
    rows.into_iter().map(|(id, subject, account)| (id, (subject, account))).collect()
}

async fn notifications(app: &App) -> usize {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications").fetch_one(&app.state.pool).await.unwrap();
    n as usize
}

#[derive(Default)]
struct Totals {
    false_verdicts: BTreeMap<String, usize>,
    false_accounts: HashSet<String>,
    genuine: usize,
    found_in_sweep: usize,
    found_by_end_of_day: usize,
    x_incidents: usize,
    x_incident_prompts: usize,
    billing_prompts: usize,
    account_prompts_for_healthy: usize,
    account_prompts_for_genuine: usize,
    notifications: usize,
    users_me_max_per_account_day: u64,
    users_me_total: u64,
}

async fn run() -> bool {
    let smoke = smoke();
    let n = env_usize("BENCH_ACCOUNTS", if smoke { 40 } else { 500 });
    let days = env_usize("BENCH_DAYS", if smoke { 4 } else { 8 });
    let duplicates = env_usize("BENCH_DUPLICATES", 1) == 1;
    let mut rng = StdRng::seed_from_u64(env_usize("BENCH_SEED", 1) as u64);
    let started = Instant::now();

    let mut app = App::start().await;
    let ids = app.connect(n).await;
    println!(
        "verdicts soak: {n} accounts, {days} days, duplicates {}, connected in {:.1} s",
        if duplicates { "on" } else { "off" },
        started.elapsed().as_secs_f64()
    );
    let mut totals = Totals::default();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut post_no = 0usize;

    for day in 0..days {
        app.pass(DAY_MS).await;
        let prompts_before = prompts_by_id(&app).await;
        let notifications_before = notifications(&app).await;
        let users_me_before = app.users_me();
        let storm = match day % 4 {
            0 => Some(("5xx storm of the token endpoint", FaultKind::Status(503))),
            1 => Some(("429 storm of the token endpoint", FaultKind::RateLimited)),
            _ => None,
        };

        // 1. Genuine failures.
        let mut shuffled = ids.clone();
        shuffled.shuffle(&mut rng);
        let revoked: Vec<String> = shuffled[..2].to_vec();
        let copied: Vec<String> = shuffled[2..3].to_vec();
        for id in &revoked {
            app.emulator().revoke_grant(CLIENT_ID, &app.x_user[id]);
        }
        for id in &copied {
            app.copy_refreshes(id).await;
        }
        let genuine: HashSet<String> = revoked.iter().chain(&copied).cloned().collect();
        totals.genuine += genuine.len();

        // 2. The sweep, through the day's storm.
        if let Some((_, kind)) = &storm {
            app.emulator().inject_fault(Fault::new(Endpoint::Token, kind.clone()).grant(GrantKind::RefreshToken));
        }
        for round in 0..8 {
            let swept = app.state.engine.sweep(&app.state).await;
            app.tend().await;
            if round == 0 {
                app.emulator().clear_faults();
            }
            if swept.due == 0 && round > 0 {
                break;
            }
            app.pass(20 * MINUTE_MS).await;
        }
        let after_sweep = app.reconnect_verdicts().await;
        totals.found_in_sweep += genuine.iter().filter(|id| after_sweep.contains_key(*id)).count();

        // 3. X kills a few access tokens early.
        for id in &shuffled[3..6] {
            app.emulator().invalidate_access_tokens(CLIENT_ID, Some(&app.x_user[id]));
        }

        // 4. The daily check, twice.
        app.state.engine.check_all(&app.state).await;
        app.state.engine.check_all(&app.state).await;

        // 5. Publishing, through the day's trouble at X.
        let trouble = match day % 4 {
            2 => {
                app.emulator().inject_fault(Fault::new(Endpoint::V2, FaultKind::AuthOutage));
                Some("X's auth outage (v2 refuses valid tokens)")
            }
            3 => {
                app.emulator().inject_fault(Fault::new(Endpoint::V2, FaultKind::CreditsDepleted).client(CLIENT_ID));
                Some("credits depleted (402)")
            }
            _ => None,
        };
        // The early deaths publish too: their 401 must cost one refresh, no verdict.
        let publishers: Vec<String> = shuffled[3..3 + (n / 5).max(3).min(n - 3)].to_vec();
        for (i, id) in publishers.iter().enumerate() {
            post_no += 1;
            let earlier = texts.iter().find(|(a, _)| a == id).map(|(_, t)| t.clone());
            let text = match earlier {
                Some(t) if duplicates && i % 10 == 0 => t,
                _ => format!("Day {day}, post {post_no}"),
            };
            app.publish(id, &format!("post-{post_no}"), &text).await;
            texts.push((id.clone(), text));
        }
        app.tend().await;
        app.emulator().clear_faults();
        app.pass(6 * MINUTE_MS).await;
        app.tend().await;
        app.tend().await;
        // Held posts released after a verification go out on their own task.
        tokio::time::sleep(Duration::from_millis(200)).await;

        // 6. Verdicts.
        let verdicts = app.reconnect_verdicts().await;
        totals.found_by_end_of_day += genuine.iter().filter(|id| verdicts.contains_key(*id)).count();
        let mut false_today = 0;
        for (id, cause) in &verdicts {
            if !genuine.contains(id) {
                if std::env::var("BENCH_DEBUG").is_ok() {
                    for e in events::recent(&app.state.pool, id, 12).await.unwrap().into_iter().rev() {
                        eprintln!(
                            "  {id} {} {} {:?} {:?} {:?}",
                            e.kind.as_str(),
                            e.outcome.as_str(),
                            e.cause,
                            e.actor,
                            e.detail
                        );
                    }
                }
                false_today += 1;
                *totals.false_verdicts.entry(cause.as_str().to_owned()).or_default() += 1;
                totals.false_accounts.insert(id.clone());
            }
        }
        let prompts_after = prompts_by_id(&app).await;
        let mut raised = (0, 0, 0, 0);
        for (id, (subject, account)) in &prompts_after {
            if prompts_before.contains_key(id) {
                continue;
            }
            match (subject.as_str(), account) {
                (APP_X_INCIDENT, _) => raised.0 += 1,
                (APP_BILLING, _) => raised.1 += 1,
                (_, Some(a)) if genuine.contains(a) => raised.2 += 1,
                (_, Some(_)) => raised.3 += 1,
                _ => {}
            }
        }
        totals.x_incident_prompts += raised.0;
        totals.billing_prompts += raised.1;
        totals.account_prompts_for_genuine += raised.2;
        totals.account_prompts_for_healthy += raised.3;
        totals.x_incidents += usize::from(storm.as_ref().is_some_and(|(_, k)| *k != FaultKind::RateLimited))
            + usize::from(trouble.is_some());
        let sent = notifications(&app).await - notifications_before;
        totals.notifications += sent;
        let users_me = app.users_me() - users_me_before;
        totals.users_me_total += users_me;
        let max_reads: Option<i64> =
            sqlx::query_scalar("SELECT MAX(calls) FROM user_reads").fetch_one(&app.state.pool).await.unwrap();
        sqlx::query("DELETE FROM user_reads").execute(&app.state.pool).await.unwrap();
        totals.users_me_max_per_account_day = totals.users_me_max_per_account_day.max(max_reads.unwrap_or(0) as u64);
        println!(
            "day {day}: {:<42} {:<44} genuine {} found {}/{} | false reconnect {false_today} | prompts: X incident {}, billing {}, genuine accounts {}, other accounts {} | notifications {sent} | users/me {users_me} ({:.3}/account)",
            storm.as_ref().map_or("sweep: no storm", |(s, _)| s),
            trouble.unwrap_or("publishing: X answers normally"),
            genuine.len(),
            genuine.iter().filter(|id| after_sweep.contains_key(*id)).count(),
            genuine.len(),
            raised.0,
            raised.1,
            raised.2,
            raised.3,
            users_me as f64 / n as f64,
        );

        // Owners reconnect what they were asked to (and what they were
        // wrongly asked to: that is the cost of a false verdict).
        for id in verdicts.keys() {
            app.reconnect(id).await;
        }
        app.tend().await;
    }

    let open: Vec<_> = prompts::open(&app.state.pool).await.unwrap();
    let by_subject: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT CASE WHEN p.subject LIKE 'account:%' THEN 'account' ELSE p.subject END, n.kind, COUNT(*)
         FROM notifications n JOIN prompts p ON p.id = n.prompt_id GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    println!("\nafter {days} days ({:.1} s wall):", started.elapsed().as_secs_f64());
    println!(
        "  false \"reconnect\" verdicts: {} on {} accounts (goal 0), by cause: {:?}",
        totals.false_verdicts.values().sum::<usize>(),
        totals.false_accounts.len(),
        totals.false_verdicts
    );
    println!(
        "  genuine failures found within the sweep of their day: {}/{} (goal all); by the end of the day: {}/{}",
        totals.found_in_sweep, totals.genuine, totals.found_by_end_of_day, totals.genuine
    );
    println!(
        "  incidents of X injected: {}; prompts raised for them: {} X incident + {} billing; account prompts for accounts that were fine: {} (goal 0); for genuine failures: {}",
        totals.x_incidents, totals.x_incident_prompts, totals.billing_prompts, totals.account_prompts_for_healthy, totals.account_prompts_for_genuine
    );
    println!("  notifications queued (one webhook configured: one per prompt change): {} — by subject and kind: {by_subject:?}", totals.notifications);
    println!(
        "  GET /2/users/me (probes and checks; not the reconnects' own): {} calls in {days} days for {n} accounts = {:.3} per account per day; highest billed reads of one account in one day: {} (goal <= 1)",
        totals.users_me_total,
        totals.users_me_total as f64 / (n * days) as f64,
        totals.users_me_max_per_account_day
    );
    println!("  prompts open at the end: {}", open.len());

    let mut ok = true;
    let mut miss = |what: String| {
        eprintln!("MISSED: {what}");
        ok = false;
    };
    if !totals.false_verdicts.is_empty() {
        miss(format!("false reconnect verdicts: {:?}", totals.false_verdicts));
    }
    if totals.found_in_sweep != totals.genuine {
        miss(format!("genuine failures found within their sweep: {}/{}", totals.found_in_sweep, totals.genuine));
    }
    if totals.account_prompts_for_healthy > 0 {
        miss(format!("{} account prompts for accounts that were fine", totals.account_prompts_for_healthy));
    }
    if totals.users_me_max_per_account_day > 1 || totals.users_me_total as f64 > (n * days) as f64 {
        miss("more than one users/me per account and day".into());
    }
    ok
}
