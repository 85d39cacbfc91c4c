#![cfg(feature = "ssr")]
//! The refresh engine against the emulator over real HTTP: one refresh per
//! account however many callers and engines, lost answers detected and
//! verified, X's trouble never mistaken for a dead account.

use crate::support as common;

use authwatch::domain::health::{diagnose, Cause, Health};
use authwatch::emulator::{Endpoint, Fault, FaultKind, GrantKind, NewUser};
use authwatch::server::config::EngineSettings;
use authwatch::server::db::{self, accounts, apps, events};
use authwatch::server::demo::{self, CLIENT_ID};
use authwatch::server::lifecycle::connect::Intent;
use authwatch::server::lifecycle::engine::Engine;
use authwatch::server::lifecycle::refresh::Refreshed;
use authwatch::server::x::now_ms;
use common::TestApp;
use std::sync::Arc;

async fn id_of(app: &TestApp, handle: &str) -> String {
    accounts::summaries(&app.state.pool).await.unwrap().into_iter().find(|s| s.handle == handle).unwrap().id
}

async fn health(app: &TestApp, id: &str) -> (Health, Option<Cause>) {
    let s = accounts::summary(&app.state.pool, id).await.unwrap().unwrap();
    let facts = apps::facts(&app.state.pool, CLIENT_ID).await.unwrap();
    let d = diagnose(&s.facts(), &facts, &app.state.x.app().required_scopes, now_ms(), &app.state.policy);
    (d.health, d.cause)
}

fn refreshes(app: &TestApp) -> u64 {
    app.emulator().counts().client(CLIENT_ID).refresh_grants
}

/// Connects `n` more accounts whose access tokens live 5 minutes: due.
async fn connect_due_accounts(app: &TestApp, n: usize) -> Vec<String> {
    app.emulator().update_settings(|s| s.access_token_ttl_secs = 300);
    let mut ids = Vec::new();
    for i in 0..n {
        let user =
            app.emulator().create_user(NewUser { id: None, username: format!("due_{i}"), name: format!("Due {i}") });
        match demo::connect_as(&app.state, &user.id, &Intent::NewAccount, "test", None).await.unwrap() {
            authwatch::server::lifecycle::connect::Completed::Saved { connected, .. } => ids.push(connected.account_id),
            other => panic!("{other:?}"),
        }
    }
    app.emulator().update_settings(|s| s.access_token_ttl_secs = 7200);
    ids
}

#[tokio::test]
async fn a_hundred_concurrent_callers_get_one_refresh_at_x() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_sports").await; // expires in 10 min: due
    let before = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap().generation;
    app.emulator().reset_counts();
    let due_before = now_ms() + app.state.policy.refresh_lead_ms;
    let calls = (0..100).map(|_| {
        let state = app.state.clone();
        let id = id.clone();
        tokio::spawn(async move { state.engine.refresh(&state, &id, "test", Some(due_before)).await })
    });
    let results = futures::future::join_all(calls).await;
    assert_eq!(refreshes(&app), 1, "exactly one refresh reached X");
    for r in results {
        match r.unwrap().unwrap() {
            Refreshed::Saved { generation } | Refreshed::NotDue { generation } | Refreshed::LostRace { generation } => {
                assert_eq!(generation, before + 1, "every caller sees the new generation")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(health(&app, &id).await.0, Health::Healthy);
}

#[tokio::test]
async fn two_engines_on_one_database_refresh_each_account_once() {
    let app = TestApp::demo().await;
    let extra = connect_due_accounts(&app, 12).await;
    // A second app instance: its own connection pool to the same SQLite file
    // and its own engine, as a second server process would have.
    let mut other = app.state.clone();
    other.pool = db::open(&app.state.config.database_url()).await.unwrap();
    other.engine = Arc::new(Engine::new(EngineSettings::default()));
    app.emulator().reset_counts();

    let (a, b) = tokio::join!(app.state.engine.sweep(&app.state), other.engine.sweep(&other));
    // acme_sports (10 min) and acme_deals (expired) are due too; dead grants are not retried.
    let due = extra.len() + 2;
    assert_eq!(refreshes(&app), due as u64, "one refresh per due account, {a:?} {b:?}");
    assert_eq!(a.saved + b.saved, due);
    assert_eq!(a.failed + b.failed, 0, "no invalid_request from a burnt chain");
    for id in &extra {
        assert_eq!(health(&app, id).await.0, Health::Healthy);
        assert_eq!(accounts::summary(&app.state.pool, id).await.unwrap().unwrap().generation, 2);
    }
    // Nothing is due any more: a third sweep sends nothing.
    app.state.engine.sweep(&app.state).await;
    assert_eq!(refreshes(&app), due as u64);
}

#[tokio::test]
async fn a_refresh_answer_lost_after_rotation_is_flagged_then_verified_dead() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_sports").await;
    app.emulator()
        .inject_fault(Fault::new(Endpoint::Token, FaultKind::RotateAndDrop).grant(GrantKind::RefreshToken).times(1));
    let first = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();
    assert!(matches!(first, Refreshed::Failed { cause: Cause::RefreshAnswerLost, .. }), "{first:?}");
    let (h, cause) = health(&app, &id).await;
    assert_eq!((h, cause), (Health::RefreshDue, Some(Cause::RefreshAnswerLost)), "flagged, not guessed");

    // The engine verifies with the stored refresh token: X had rotated it.
    let sweep = app.state.engine.sweep(&app.state).await;
    assert_eq!(sweep.failed, 1);
    let (h, cause) = health(&app, &id).await;
    assert_eq!(
        (h, cause),
        (Health::ActionNeeded(authwatch::domain::health::Action::Reconnect), Some(Cause::RotationLost))
    );
}

#[tokio::test]
async fn a_dropped_answer_without_rotation_is_verified_alive() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_sports").await;
    app.emulator()
        .inject_fault(Fault::new(Endpoint::Token, FaultKind::DropConnection).grant(GrantKind::RefreshToken).times(1));
    let first = app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();
    assert!(matches!(first, Refreshed::Failed { cause: Cause::RefreshAnswerLost, .. }), "{first:?}");
    // Verification happens at the next sweep, without waiting for the backoff
    // of X's trouble: the stored token still works, so it is saved.
    let second = app.state.engine.refresh(&app.state, &id, "test", Some(now_ms())).await.unwrap();
    assert!(matches!(second, Refreshed::Saved { .. }), "{second:?}");
    assert_eq!(health(&app, &id).await.0, Health::Healthy);
}

#[tokio::test]
async fn an_outage_or_rate_limit_never_sends_an_account_to_reconnect_and_retries_are_bounded() {
    let app = TestApp::demo().await;
    let extra = connect_due_accounts(&app, 5).await;
    for kind in [FaultKind::Status(503), FaultKind::RateLimited] {
        app.emulator().clear_faults();
        sqlx::query("UPDATE refresh_state SET next_attempt_at = 0").execute(&app.state.pool).await.unwrap();
        app.emulator().inject_fault(Fault::new(Endpoint::Token, kind.clone()).grant(GrantKind::RefreshToken));
        app.emulator().reset_counts();
        let sweep = app.state.engine.sweep(&app.state).await;
        let sent = refreshes(&app);
        assert_eq!(sent as usize, sweep.due, "one attempt per due account, {kind:?}");
        assert!(sweep.due >= extra.len());
        for id in &extra {
            let (h, cause) = health(&app, id).await;
            assert_eq!(h, Health::XUnavailable, "{kind:?}");
            assert!(matches!(cause, Some(Cause::XUnavailable | Cause::RateLimited)));
            assert!(!h.needs_person());
        }
        // Backing off: an immediate second sweep sends nothing.
        let again = app.state.engine.sweep(&app.state).await;
        assert_eq!(again.due, 0, "{kind:?}");
        assert_eq!(refreshes(&app), sent);
        // The outage counts once per incident, not once per attempt.
        let s = accounts::summary(&app.state.pool, &extra[0]).await.unwrap().unwrap();
        let since = s.incident_since.unwrap();
        sqlx::query("UPDATE refresh_state SET next_attempt_at = 0").execute(&app.state.pool).await.unwrap();
        app.state.engine.sweep(&app.state).await;
        let s = accounts::summary(&app.state.pool, &extra[0]).await.unwrap().unwrap();
        assert_eq!(s.incident_since, Some(since), "same incident");
    }
    // X recovers: the next sweep after the backoff saves every account.
    app.emulator().clear_faults();
    sqlx::query("UPDATE refresh_state SET next_attempt_at = 0").execute(&app.state.pool).await.unwrap();
    app.state.engine.sweep(&app.state).await;
    for id in &extra {
        assert_eq!(health(&app, id).await.0, Health::Healthy);
    }
}

#[tokio::test]
async fn an_unfinished_refresh_found_at_start_is_flagged_and_verified() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_news").await;
    let generation = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap().generation;
    // A process wrote its intent and died before the answer.
    let started = events::NewEvent {
        kind: events::EventKind::Refresh,
        outcome: events::Outcome::Started,
        generation_before: Some(generation),
        actor: "scheduler".into(),
        ..Default::default()
    };
    events::append(&app.state.pool, &id, now_ms(), &started, authwatch::domain::health::AttemptResult::Inconclusive)
        .await
        .unwrap();
    assert_eq!(app.state.engine.recover(&app.state).await, 1);
    assert_eq!(health(&app, &id).await.1, Some(Cause::RefreshAnswerLost));
    app.state.engine.sweep(&app.state).await;
    assert_eq!(health(&app, &id).await.0, Health::Healthy, "the stored token still worked");
    assert_eq!(app.state.engine.recover(&app.state).await, 0);
}

#[tokio::test]
async fn metrics_describe_accounts_and_refreshes() {
    let token = "metrics-scraper-token-0123456789";
    let app = TestApp::start(vec![("AUTHWATCH_METRICS_TOKEN", token)]).await;
    authwatch::server::demo::seed(&app.state, app.emulator()).await.expect("demo seeding");
    let id = id_of(&app, "acme_news").await;
    app.state.engine.refresh(&app.state, &id, "test", None).await.unwrap();
    let text =
        reqwest::Client::new().get(app.url("/metrics")).bearer_auth(token).send().await.unwrap().text().await.unwrap();
    for needle in [
        "authwatch_accounts{health=\"healthy\"}",
        "authwatch_accounts{health=\"reconnect\"}",
        "authwatch_refreshes_total{outcome=\"saved\",cause=\"\"}",
        "authwatch_refresh_seconds_bucket",
        "authwatch_soonest_expiry_seconds",
        "authwatch_clock_offset_seconds",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    assert!(!text.contains(
        &accounts::tokens(&app.state.pool, &app.state.keyring, &id).await.unwrap().unwrap().access.expose().to_owned()
    ));
}

#[tokio::test]
async fn the_daily_check_takes_a_recent_refresh_as_proof_and_asks_x_otherwise() {
    let app = TestApp::demo().await;
    // Connected two days ago, as far as authwatch knows: a connect proves the
    // grant alive too, and one today would spare the check.
    sqlx::query("UPDATE accounts SET last_verified_at = last_verified_at - 2 * 86400000")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let news = id_of(&app, "acme_news").await;
    app.state.engine.refresh(&app.state, &news, "test", None).await.unwrap();
    app.emulator().reset_counts();
    let checked = app.state.engine.check_all(&app.state).await;
    // Dead grants (events, labs, jobs' missing scope is no incident) are not asked about.
    assert_eq!(checked, 6);
    let users_me = app.emulator().counts().client(CLIENT_ID).users_me;
    assert_eq!(users_me, 5, "acme_news was proven alive by its refresh, the others were asked");
    let last = events::recent(&app.state.pool, &news, 1).await.unwrap().remove(0);
    assert_eq!(last.kind.as_str(), "check");
    assert!(last.detail.unwrap().starts_with("proof of life"));
}

#[tokio::test]
async fn a_401_for_a_token_valid_only_by_a_slow_clock_is_clock_drift() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_sports").await; // 10 minutes left by our clock
    app.emulator().set_clock_offset(3600); // X is an hour ahead
    app.emulator().expire_access_tokens(CLIENT_ID, None); // and, by its clock, the token is expired
                                                          // Measure the offset, as any answer from X does.
    let support = id_of(&app, "acme_support").await;
    authwatch::server::lifecycle::check::check(
        &app.state,
        &support,
        "test",
        authwatch::server::lifecycle::check::Proof::AskX,
    )
    .await
    .unwrap();
    let checked = authwatch::server::lifecycle::check::check(
        &app.state,
        &id,
        "test",
        authwatch::server::lifecycle::check::Proof::AskX,
    )
    .await
    .unwrap();
    assert_eq!(checked, authwatch::server::lifecycle::check::Checked::Failed { cause: Cause::ClockDrift });
}

#[tokio::test]
async fn concurrent_events_on_one_account_sum_up_as_if_recorded_one_after_another() {
    use authwatch::domain::health::AttemptResult;
    use authwatch::domain::timeline::next_summary;
    use events::{EventKind, NewEvent, Outcome};

    // No sweep meanwhile: every event of the account is the test's.
    let app = TestApp::start(vec![("AUTHWATCH_SWEEP_INTERVAL_SECS", "3600")]).await;
    let user = app.emulator().create_user(NewUser { id: None, username: "busy".into(), name: "Busy".into() });
    let id = match demo::connect_as(&app.state, &user.id, &Intent::NewAccount, "test", None).await.unwrap() {
        authwatch::server::lifecycle::connect::Completed::Saved { connected, .. } => connected.account_id,
        other => panic!("{other:?}"),
    };
    let summary = |pool: db::Pool, id: String| async move {
        let mut conn = pool.acquire().await.unwrap();
        events::summary(&mut conn, &id).await.unwrap().unwrap()
    };
    let start = summary(app.state.pool.clone(), id.clone()).await;

    let failed = |kind, cause, status| {
        (
            NewEvent {
                kind,
                outcome: Outcome::Failed,
                cause: Some(cause),
                http_status: Some(status),
                x_error: Some(format!("{status}")),
                ..NewEvent::default()
            },
            AttemptResult::Failed(cause),
        )
    };
    let ok = |kind, result| (NewEvent { kind, outcome: Outcome::Ok, ..NewEvent::default() }, result);
    let kinds = [
        ok(EventKind::Refresh, AttemptResult::Renewed),
        failed(EventKind::Refresh, Cause::XUnavailable, 503),
        ok(EventKind::Check, AttemptResult::Verified),
        failed(EventKind::Check, Cause::UserRevoked, 401),
        failed(EventKind::Refresh, Cause::RefreshTokenRejected, 400),
        ok(EventKind::Report, AttemptResult::Inconclusive),
        (
            NewEvent { kind: EventKind::Refresh, outcome: Outcome::Started, ..NewEvent::default() },
            AttemptResult::Inconclusive,
        ),
        failed(EventKind::Check, Cause::ClockDrift, 401),
    ];
    let base = now_ms();
    let planned: Vec<(NewEvent, AttemptResult, i64)> = (0..64)
        .map(|i| {
            let (event, result) = kinds[(i * 5 + i / 8) % kinds.len()].clone();
            // Times out of step with the order they land in: the summary follows the order recorded.
            (
                NewEvent { actor: "burst".into(), detail: Some(format!("{i}")), ..event },
                result,
                base + (i as i64 * 7919) % 64,
            )
        })
        .collect();

    let barrier = Arc::new(tokio::sync::Barrier::new(planned.len()));
    let tasks: Vec<_> = planned
        .iter()
        .cloned()
        .map(|(event, result, at)| {
            let (pool, id, barrier) = (app.state.pool.clone(), id.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                events::append(&pool, &id, at, &event, result).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("every event is recorded");
    }

    let mut recorded = events::recent(&app.state.pool, &id, 1000).await.unwrap();
    recorded.reverse();
    let order: Vec<usize> =
        recorded.iter().filter(|e| e.actor == "burst").map(|e| e.detail.as_deref().unwrap().parse().unwrap()).collect();
    assert_eq!(order.len(), planned.len(), "every event is on the timeline once");
    let sequential = order.iter().fold(start, |s, &i| {
        let (event, result, at) = &planned[i];
        next_summary(&s, event, *at, *result)
    });
    assert_eq!(summary(app.state.pool.clone(), id.clone()).await, sequential);
}

#[tokio::test]
async fn an_unknown_stored_spelling_is_an_error_naming_the_column_and_the_value() {
    let app = TestApp::demo().await;
    let pool = &app.state.pool;
    let news = id_of(&app, "acme_news").await;
    // Rows as a newer version, or a hand edit, might leave them.
    sqlx::query("UPDATE accounts SET incident_cause = 'gremlins', incident_since = 1 WHERE id = $1")
        .bind(&news)
        .execute(pool)
        .await
        .unwrap();
    let e = accounts::summary(pool, &news).await.unwrap_err().to_string();
    assert!(e.contains("\"incident_cause\"") && e.contains("\"gremlins\""), "{e}");

    sqlx::query("INSERT INTO events (account_id, at, kind, outcome, actor) VALUES ($1, 1, 'rfresh', 'ok', 'hand')")
        .bind(&news)
        .execute(pool)
        .await
        .unwrap();
    let e = events::recent(pool, &news, 5).await.unwrap_err().to_string();
    assert!(e.contains("\"kind\"") && e.contains("\"rfresh\""), "{e}");

    sqlx::query(
        "INSERT INTO prompts (subject, account_id, cause, opened_at) VALUES ('account:hand', NULL, 'gremlins', 1)",
    )
    .execute(pool)
    .await
    .unwrap();
    let e = authwatch::server::db::prompts::open(pool).await.unwrap_err().to_string();
    assert!(e.contains("\"cause\"") && e.contains("\"gremlins\""), "{e}");
}

#[tokio::test]
async fn a_caller_that_goes_away_mid_flight_neither_stops_nor_stalls_the_refresh() {
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_support").await;
    let before = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap().generation;
    app.emulator().reset_counts();
    app.emulator().inject_fault(Fault::new(Endpoint::Token, FaultKind::Slow { millis: 600 }).times(1));
    // A browser closing on "Refresh now": its request, and the future it
    // polled, are dropped while X is still answering.
    let first = {
        let state = app.state.clone();
        let id = id.clone();
        tokio::spawn(async move { state.engine.refresh(&state, &id, "first", None).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    // A second caller while X still answers the first: it gets that refresh's result.
    let second = app.state.engine.refresh(&app.state, &id, "second", None).await.unwrap();
    assert_eq!(second, Refreshed::Saved { generation: before + 1 });
    assert_eq!(refreshes(&app), 1, "the second caller joined the first refresh");

    // Nobody waits this time: the refresh is saved and its lease given back all the same.
    app.emulator().inject_fault(Fault::new(Endpoint::Token, FaultKind::Slow { millis: 300 }).times(1));
    let third = {
        let state = app.state.clone();
        let id = id.clone();
        tokio::spawn(async move { state.engine.refresh(&state, &id, "third", None).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    third.abort();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let generation = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap().generation;
        let leased = db::refresh_state::leased(&app.state.pool, &id, now_ms()).await.unwrap();
        if generation == before + 2 && !leased {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refresh stalled with nobody waiting: generation {generation}, leased {leased}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(refreshes(&app), 2);
    assert_eq!(health(&app, &id).await.0, Health::Healthy);
}

#[tokio::test]
async fn refresh_now_that_meets_the_schedulers_flight_reports_a_refresh_not_not_due() {
    use authwatch::api::RefreshNow;
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let id = id_of(&app, "acme_support").await; // lives for hours: not due
    let before = accounts::summary(&app.state.pool, &id).await.unwrap().unwrap().generation;
    app.emulator().reset_counts();
    let admin = app.admin().await;
    // Hold the database's write lock so that the scheduler's flight waits
    // for its lease while "Refresh now" comes in and joins it.
    let lock = match db::Backend::of(&app.state.pool) {
        // SQLite: the one write lock.
        db::Backend::Sqlite => db::begin_write(&app.state.pool, db::WriteScope::All).await.unwrap(),
        // PostgreSQL: the lease's row, which the flight's lease must write.
        db::Backend::Postgres => {
            let mut tx = app.state.pool.begin().await.unwrap();
            sqlx::query("INSERT INTO refresh_state (account_id) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("SELECT 1 FROM refresh_state WHERE account_id = $1 FOR UPDATE")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx
        }
    };
    let scheduler = {
        let state = app.state.clone();
        let id = id.clone();
        tokio::spawn(async move {
            state.engine.refresh(&state, &id, "scheduler", Some(now_ms() + state.policy.refresh_lead_ms)).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let now = {
        let url = app.url(RefreshNow::PATH);
        let id = id.clone();
        tokio::spawn(async move { admin.post(url).form(&[("id", id)]).send().await.unwrap().text().await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    lock.commit().await.unwrap();
    assert_eq!(scheduler.await.unwrap().unwrap(), Refreshed::NotDue { generation: before });
    let said = now.await.unwrap();
    assert!(said.contains(&format!("Refreshed: generation {} saved.", before + 1)), "{said}");
    assert_eq!(refreshes(&app), 1);
}

#[tokio::test]
async fn the_daily_check_decides_on_a_recent_proof_before_opening_the_tokens() {
    let app = TestApp::demo().await;
    let news = id_of(&app, "acme_news").await;
    app.state.engine.refresh(&app.state, &news, "test", None).await.unwrap();
    // Its tokens now name a key this process does not hold: opening them
    // fails. A proof of life this recent needs no token at all.
    sqlx::query("UPDATE token_sets SET key_id = 'a-retired-key' WHERE account_id = $1")
        .bind(&news)
        .execute(&app.state.pool)
        .await
        .unwrap();
    assert!(accounts::tokens(&app.state.pool, &app.state.keyring, &news).await.is_err(), "the tokens cannot be opened");
    app.emulator().reset_counts();
    let proof = authwatch::server::lifecycle::check::Proof::ProvedToday(
        app.state.engine.settings().proof_of_life.as_millis() as i64,
    );
    let checked = authwatch::server::lifecycle::check::check(&app.state, &news, "daily check", proof).await;
    assert_eq!(checked.unwrap(), authwatch::server::lifecycle::check::Checked::Alive);
    assert_eq!(app.emulator().counts().client(CLIENT_ID).users_me, 0);
    let last = events::recent(&app.state.pool, &news, 1).await.unwrap().remove(0);
    assert!(last.detail.unwrap().starts_with("proof of life"));
}

#[tokio::test]
async fn replicas_reaching_the_daily_check_together_run_it_once() {
    let app = TestApp::demo().await;
    sqlx::query("UPDATE accounts SET last_verified_at = last_verified_at - 2 * 86400000")
        .execute(&app.state.pool)
        .await
        .unwrap();
    // Three engines with their own pools, as three replicas' schedulers.
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let mut other = app.state.clone();
        other.pool = db::open(&app.state.config.database_url()).await.unwrap();
        other.engine = Arc::new(Engine::new(EngineSettings::default()));
        replicas.push(other);
    }
    app.emulator().reset_counts();
    let now = now_ms();
    let runs = futures::future::join_all(replicas.iter().map(|r| r.engine.daily_check(r, now))).await;
    assert_eq!(runs.iter().filter(|r| r.is_some()).count(), 1, "one replica runs the day's check: {runs:?}");
    assert_eq!(runs.iter().flatten().sum::<usize>(), 6);
    let users_me = app.emulator().counts().client(CLIENT_ID).users_me;
    assert_eq!(users_me, 6, "each live account asked once, by one replica");
    // The next day is a new run.
    let tomorrow = now + 86_400_000;
    assert!(replicas[0].engine.daily_check(&replicas[0], tomorrow).await.is_some());
}
