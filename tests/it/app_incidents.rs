#![cfg(feature = "ssr")]
//! Verdicts a team can act on without second-guessing, over HTTP against the
//! in-process emulator: X's billing is one incident for the admins and no
//! account's; many accounts failing at once are one X incident, verified
//! account by account once X answers normally; checks cost at most one
//! billed read per account and UTC day, and the settings page says what
//! they cost; a prompt closes in the step that heals its account.

use crate::support as common;
use crate::support::pipeline;

use authwatch::domain::prompts::{APP_BILLING, APP_X_INCIDENT};
use authwatch::emulator::{Endpoint, Fault, FaultKind, NewUser};
use authwatch::server::db::{accounts, prompts, users};
use authwatch::server::demo::{self, CLIENT_ID};
use authwatch::server::lifecycle::check::{check, Checked, Proof};
use authwatch::server::lifecycle::connect::Intent;
use authwatch::server::lifecycle::refresh::Refreshed;
use authwatch::server::notify::{deliver_due, reconcile};
use authwatch::server::probe;
use authwatch::server::x::now_ms;
use common::sinks::WebhookSink;
use common::TestApp;
use pipeline::{account, published, Api};
use serde_json::Value;

const MINUTE: i64 = 60_000;

/// A demo app with a webhook receiving every prompt's messages.
async fn with_webhook(seed: bool) -> (TestApp, WebhookSink) {
    let (hooks, url) = WebhookSink::start().await;
    let app = TestApp::start(vec![
        ("AUTHWATCH_WEBHOOK_URL", url.as_str()),
        ("AUTHWATCH_WEBHOOK_SECRET", "whsec_test_secret"),
    ])
    .await;
    if seed {
        demo::seed(&app.state, app.emulator()).await.expect("demo seeding");
    }
    (app, hooks)
}

/// The webhook messages received so far: (event, subject).
fn messages(hooks: &WebhookSink) -> Vec<(String, String, Value)> {
    hooks
        .received()
        .into_iter()
        .map(|h| {
            let body: Value = serde_json::from_str(&h.body).unwrap();
            (body["event"].as_str().unwrap().to_owned(), body["subject"].as_str().unwrap().to_owned(), body)
        })
        .collect()
}

/// Connects `n` new accounts `brand_0…` owned by the demo manager, through
/// the real OAuth path; their ids in order.
async fn connect_brands(app: &TestApp, n: usize) -> Vec<String> {
    let owner = users::credentials(&app.state.pool, demo::MANAGER.email).await.unwrap().map(|(u, _)| u.id);
    let mut ids = Vec::new();
    for i in 0..n {
        let x_user_id = format!("17000000000000{i:05}");
        app.emulator().create_user(NewUser {
            id: Some(x_user_id.clone()),
            username: format!("brand_{i}"),
            name: format!("Brand {i}"),
        });
        demo::connect_as(&app.state, &x_user_id, &Intent::NewAccount, "test", owner.as_deref()).await.expect("connect");
        ids.push(accounts::id_by_x_user(&app.state.pool, &x_user_id).await.unwrap().expect("connected"));
    }
    ids
}

fn demo_counts(app: &TestApp) -> authwatch::emulator::EndpointCounts {
    app.emulator().counts().client(CLIENT_ID)
}

async fn open_prompts(app: &TestApp) -> Vec<prompts::Prompt> {
    prompts::open(&app.state.pool).await.unwrap()
}

#[tokio::test]
async fn depleted_credits_hold_posts_for_the_admins_and_touch_no_account() {
    let (app, hooks) = with_webhook(true).await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    app.emulator().inject_fault(Fault::new(Endpoint::V2, FaultKind::CreditsDepleted).client(CLIENT_ID));

    let held = api.publish(&news.id, "launch-1", "Launch day").await;
    assert_eq!(held.status, 202, "{:?}", held.body);
    assert_eq!(held.body["status"], "held");
    assert_eq!(held.body["cause"], "credits_depleted");
    assert_eq!(held.body["who"], "admin");
    assert_eq!(held.body["action"], "top_up_credits");
    assert_eq!(held.body["x_calls"], 1, "402 is no reason to retry with a fresh token");

    // One prompt, for the admins, with X's words and what to do; none for the account.
    reconcile(&app.state, now_ms()).await.unwrap();
    let open = open_prompts(&app).await;
    let billing: Vec<_> = open.iter().filter(|p| p.subject == APP_BILLING).collect();
    assert_eq!(billing.len(), 1, "{open:?}");
    assert_eq!(billing[0].cause.as_str(), "credits_depleted");
    assert!(
        open.iter().all(|p| p.account_id.as_deref() != Some(news.id.as_str())),
        "no prompt for the account: {open:?}"
    );
    deliver_due(&app.state, now_ms()).await.unwrap();
    let opened: Vec<_> =
        messages(&hooks).into_iter().filter(|(e, s, _)| e == "prompt.opened" && s == APP_BILLING).collect();
    assert_eq!(opened.len(), 1);
    let text = opened[0].2["text"].as_str().unwrap().to_owned();
    for words in [
        "402 Payment Required",
        "credits depleted",
        "top it up in X's developer console",
        "auto-recharge",
        "Every account is fine",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    let admins: Vec<&str> =
        opened[0].2["recipients"].as_array().unwrap().iter().map(|r| r["email"].as_str().unwrap()).collect();
    assert_eq!(admins, vec![demo::ADMIN.email], "the admins, not the account's owner");

    // The account is untouched: no incident, healthy, and the broker still hands out its token.
    let after = account(&app, "acme_news").await;
    assert_eq!(after.incident_cause, None);
    assert_eq!(api.get(&format!("/accounts/{}/token", news.id)).await.status, 200);
    let page = app.admin().await.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-cause="credits_depleted""#), "the dashboard warns once, above the accounts");
    assert!(!page.contains(r#"data-prompt="@acme_news""#));

    // The probe asks X at most once per interval.
    let t = now_ms();
    let first = probe::run(&app.state, t).await.unwrap();
    assert!(first.credits_probed && !first.credits_back, "{first:?}");
    app.emulator().clear_faults();
    let early = probe::run(&app.state, t + 4 * MINUTE).await.unwrap();
    assert!(!early.credits_probed, "not within the interval: {early:?}");
    assert_eq!(pipeline::post_status(&app, held.body["id"].as_i64().unwrap()).await, "held");

    // Credits back: the held post goes out, once, and the prompt closes in the same step.
    let back = probe::run(&app.state, t + 5 * MINUTE).await.unwrap();
    assert!(back.credits_back, "{back:?}");
    assert_eq!(back.released, 1);
    assert_eq!(published(&app), vec!["Launch day"]);
    assert_eq!(pipeline::post_status(&app, held.body["id"].as_i64().unwrap()).await, "published");
    assert!(
        prompts::open_for_subject(&app.state.pool, APP_BILLING).await.unwrap().is_none(),
        "closed without a reconcile"
    );
    let again = probe::run(&app.state, t + 20 * MINUTE).await.unwrap();
    assert_eq!(again, probe::Probed::default(), "nothing left to probe");
    assert_eq!(published(&app), vec!["Launch day"], "published once");
    deliver_due(&app.state, now_ms()).await.unwrap();
    let recovered =
        messages(&hooks).into_iter().filter(|(e, s, _)| e == "prompt.recovered" && s == APP_BILLING).count();
    assert_eq!(recovered, 1);
}

#[tokio::test]
async fn many_accounts_failing_at_once_are_one_x_incident_verified_account_by_account() {
    let (app, hooks) = with_webhook(false).await;
    let ids = connect_brands(&app, 10).await;

    // X's own auth outage: valid tokens refused on users/me.
    app.emulator().inject_fault(Fault::new(Endpoint::V2, FaultKind::AuthOutage));
    for id in &ids[..8] {
        let checked = check(&app.state, id, "daily check", Proof::AskX).await.unwrap();
        assert!(matches!(checked, Checked::Failed { .. }), "{checked:?}");
    }
    let t = now_ms();
    let first = reconcile(&app.state, t).await.unwrap();
    assert_eq!(first.raised, 1, "one prompt for the incident, none per account");
    let open = open_prompts(&app).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].subject, APP_X_INCIDENT);
    let page = app.admin().await.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-prompt="X incident""#), "the admins see it under needs you");
    assert!(page.contains("X incident: 8 accounts failed the same way"), "and above the accounts");

    // While X fails: no account prompt, and past the escalation delay the
    // incident escalates once — no storm of escalations either.
    assert_eq!(reconcile(&app.state, t + MINUTE).await.unwrap().raised, 0);
    let later = reconcile(&app.state, t + 5 * 3600 * 1000).await.unwrap();
    assert_eq!((later.raised, later.escalated), (0, 1));
    let probed = probe::run(&app.state, t + 2 * MINUTE).await.unwrap();
    assert!(probed.x_probed && probed.verified == 0, "X still refuses: nothing verified: {probed:?}");

    // X recovers: one probe, then each account verified by one refresh.
    app.emulator().clear_faults();
    let before = demo_counts(&app);
    let probed = probe::run(&app.state, t + 8 * MINUTE).await.unwrap();
    assert!(probed.x_probed, "{probed:?}");
    assert_eq!(probed.verified, 8);
    let after = demo_counts(&app);
    assert_eq!(after.refresh_grants - before.refresh_grants, 8, "one refresh per held account");
    assert_eq!(after.users_me - before.users_me, 1, "one probe");
    for id in &ids {
        let s = accounts::summary(&app.state.pool, id).await.unwrap().unwrap();
        assert_eq!(s.incident_cause, None, "{id} is fine");
    }

    let last = reconcile(&app.state, t + 9 * MINUTE).await.unwrap();
    assert_eq!((last.raised, last.closed), (0, 1));
    deliver_due(&app.state, t + 6 * 3600 * 1000).await.unwrap();
    let mut kinds: Vec<(String, String)> = messages(&hooks).into_iter().map(|(e, s, _)| (e, s)).collect();
    kinds.sort();
    let incident = |event: &str| (event.to_owned(), APP_X_INCIDENT.to_owned());
    assert_eq!(kinds, vec![incident("prompt.escalated"), incident("prompt.opened"), incident("prompt.recovered")]);
    for id in &ids {
        assert!(prompts::for_account(&app.state.pool, id, 10).await.unwrap().is_empty(), "no prompt ever for {id}");
    }
}

#[tokio::test]
async fn a_genuine_failure_hidden_in_an_x_incident_gets_its_prompt_once_verified() {
    let (app, _hooks) = with_webhook(false).await;
    let ids = connect_brands(&app, 8).await;
    app.emulator().inject_fault(Fault::new(Endpoint::V2, FaultKind::AuthOutage));
    for id in &ids[..6] {
        check(&app.state, id, "daily check", Proof::AskX).await.unwrap();
    }
    // One of them really disconnected the app meanwhile.
    let genuine = accounts::summary(&app.state.pool, &ids[5]).await.unwrap().unwrap();
    app.emulator().revoke_grant(CLIENT_ID, &genuine.x_user_id);
    let t = now_ms();
    assert_eq!(reconcile(&app.state, t).await.unwrap().raised, 1);

    app.emulator().clear_faults();
    let probed = probe::run(&app.state, t + MINUTE).await.unwrap();
    assert_eq!(probed.verified, 6, "{probed:?}");
    let last = reconcile(&app.state, t + 2 * MINUTE).await.unwrap();
    assert_eq!((last.raised, last.closed), (1, 1), "the incident closes; the genuine one is prompted");
    let open = open_prompts(&app).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].account_id.as_deref(), Some(genuine.id.as_str()));
    // Its refresh token and its access token both refused: revoked at X.
    assert_eq!(open[0].cause.as_str(), "user_revoked");
}

#[tokio::test]
async fn the_daily_check_asks_x_once_per_account_and_utc_day_and_the_settings_say_what_it_costs() {
    let app = TestApp::empty_demo().await;
    let ids = connect_brands(&app, 4).await;
    // Connected two days ago, as far as authwatch knows: nothing proved them alive today.
    sqlx::query("UPDATE accounts SET last_verified_at = last_verified_at - 2 * 86400000")
        .execute(&app.state.pool)
        .await
        .unwrap();
    // One of them refreshed today.
    let refreshed = app.state.engine.refresh(&app.state, &ids[0], "scheduler", None).await.unwrap();
    assert!(matches!(refreshed, Refreshed::Saved { .. }), "{refreshed:?}");

    let before = demo_counts(&app).users_me;
    assert_eq!(app.state.engine.check_all(&app.state).await, 4);
    let once = demo_counts(&app).users_me;
    assert_eq!(once - before, 3, "the three nothing proved alive today");
    app.state.engine.check_all(&app.state).await;
    assert_eq!(demo_counts(&app).users_me, once, "not twice in one UTC day");
    let asked = pipeline::timeline(&app, &ids[0]).await.into_iter().filter(|(kind, _, _)| kind == "check").count();
    assert_eq!(asked, 2, "two checks of the refreshed account, both proofs of life");
    let details: Vec<String> = authwatch::server::db::events::recent(&app.state.pool, &ids[0], 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.as_str() == "check")
        .filter_map(|e| e.detail)
        .collect();
    assert!(details.iter().all(|d| d.contains("X was not asked")), "{details:?}");

    let settings = app.admin().await.get(app.url("/settings")).send().await.unwrap().text().await.unwrap();
    assert!(settings.contains("Estimated daily X spend of checks"), "{settings}");
    assert!(settings.contains("$0.03"), "three accounts asked today, a cent each");
    assert!(settings.contains("3 account(s) asked so far today (UTC)"));
    let page = pipeline::account_page(&app, &ids[1]).await;
    assert!(page.contains("Check now always asks X"), "the account page says what Check now costs");
}

#[tokio::test]
async fn a_prompt_closes_in_the_step_that_heals_its_account() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let labs = account(&app, "acme_labs").await;
    reconcile(&app.state, now_ms()).await.unwrap();
    let dashboard = || async { admin.get(app.url("/")).send().await.unwrap().text().await.unwrap() };
    assert!(dashboard().await.contains(r#"data-prompt="@acme_labs""#), "revoked: needs the admin who owns it");

    // A reconnect: the very next page load shows no prompt, with no reconcile in between.
    pipeline::reconnect_in_browser(&app, &labs.id, &labs.x_user_id).await;
    assert!(!dashboard().await.contains(r#"data-prompt="@acme_labs""#));
    let labs_prompts = prompts::for_account(&app.state.pool, &labs.id, 10).await.unwrap();
    assert!(labs_prompts[0].closed_at.is_some(), "{labs_prompts:?}");

    // A refresh that heals an account closes its prompt the same way. (A
    // check during an outage no longer prompts anyone: a refused refresh
    // does, here one X refuses just once.)
    let support = account(&app, "acme_support").await;
    app.emulator().inject_fault(Fault::new(Endpoint::Token, FaultKind::Status(400)).times(1));
    let failed = app.state.engine.refresh(&app.state, &support.id, "test", None).await.unwrap();
    assert!(matches!(failed, Refreshed::Failed { .. }), "{failed:?}");
    reconcile(&app.state, now_ms()).await.unwrap();
    assert!(dashboard().await.contains(r#"data-prompt="@acme_support""#));
    let refreshed = app.state.engine.refresh(&app.state, &support.id, "test", None).await.unwrap();
    assert!(matches!(refreshed, Refreshed::Saved { .. }));
    assert!(!dashboard().await.contains(r#"data-prompt="@acme_support""#));
}

#[tokio::test]
async fn the_dashboard_lists_the_oldest_prompts_and_counts_the_rest() {
    use authwatch::api::dto::NEEDS_YOU_SHOWN;
    use authwatch::domain::health::Cause;
    let app = TestApp::demo().await;
    let before = prompts::open(&app.state.pool).await.unwrap().len();
    let extra = NEEDS_YOU_SHOWN + 5;
    let ids = connect_brands(&app, extra).await;
    for (i, id) in ids.iter().enumerate() {
        prompts::raise(
            &app.state.pool,
            &authwatch::domain::prompts::account_subject(id),
            Some(id),
            Cause::UserRevoked,
            1_000 + i as i64,
            &[],
        )
        .await
        .unwrap();
    }
    let html = app.manager().await.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    let section = &html[html.find("needs-you-title").expect("the Needs you list")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert_eq!(section.matches("<li data-prompt").count(), NEEDS_YOU_SHOWN, "{section}");
    let count = section.split("<span class=\"count\">").nth(1).and_then(|r| r.split('<').next()).expect("the count");
    let count: usize = count.trim().parse().expect("a number");
    assert!(count >= extra && count <= before + extra, "every prompt counted, {count}: {section}");
    assert!(section.contains("more: every account that needs a person"), "{section}");
    assert!(section.contains("href=\"/?health=needs-person\""), "{section}");
}
