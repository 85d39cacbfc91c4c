#![cfg(feature = "ssr")]
//! Prompts and their notifications, end to end: the demo's broken accounts
//! raise one prompt each, delivered once to the owner by email and to the
//! team's webhooks; escalation after the configured delay (driven with a
//! chosen clock); a recovery notice; retries on a failing receiver.

use crate::support as common;

use authwatch::server::db::prompts;
use authwatch::server::demo;
use authwatch::server::lifecycle::connect::Intent;
use authwatch::server::notify::{deliver_due, reconcile, Reconciled};
use authwatch::server::x::now_ms;
use common::sinks::{SmtpSink, WebhookSink};
use common::TestApp;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const HOUR: i64 = 3600 * 1000;
const SECRET: &str = "whsec_test_secret";

struct Setup {
    app: TestApp,
    hooks: WebhookSink,
    slack: WebhookSink,
    smtp: SmtpSink,
}

async fn setup() -> Setup {
    let (hooks, hook_url) = WebhookSink::start().await;
    let (slack, slack_url) = WebhookSink::start().await;
    let (smtp, smtp_addr) = SmtpSink::start().await;
    let smtp_url = format!("smtp://{smtp_addr}");
    let app = TestApp::start(vec![
        ("AUTHWATCH_WEBHOOK_URL", hook_url.as_str()),
        ("AUTHWATCH_WEBHOOK_SECRET", SECRET),
        ("AUTHWATCH_SLACK_WEBHOOK_URL", slack_url.as_str()),
        ("AUTHWATCH_SMTP_URL", smtp_url.as_str()),
        ("AUTHWATCH_SMTP_FROM", "authwatch <alerts@example.com>"),
    ])
    .await;
    demo::seed(&app.state, app.emulator()).await.expect("demo seeding");
    Setup { app, hooks, slack, smtp }
}

/// The mails to `who` whose subject line contains `subject`.
fn mails_to(smtp: &SmtpSink, who: &str, subject: &str) -> usize {
    smtp.mails()
        .iter()
        .filter(|m| m.to == [who] && m.data.lines().any(|l| l.starts_with("Subject:") && l.contains(subject)))
        .count()
}

#[tokio::test]
async fn one_prompt_per_incident_escalation_and_recovery() {
    let Setup { app, hooks, slack, smtp } = setup().await;
    let state = &app.state;
    let t0 = now_ms();

    // The demo has three accounts needing a reconnect and a skewed clock.
    let first = reconcile(state, t0).await.unwrap();
    assert_eq!(first, Reconciled { raised: 4, escalated: 0, closed: 0 });
    assert_eq!(deliver_due(state, t0).await.unwrap(), 4 * 2 + 4, "4 webhook + 4 Slack + one email per recipient");
    // Dana owns @acme_jobs and @acme_events; Ada owns @acme_labs and, as the
    // admin, gets the app-level clock prompt.
    assert_eq!(mails_to(&smtp, "dana@demo.authwatch", "Reconnect @acme_jobs"), 1);
    assert_eq!(mails_to(&smtp, "dana@demo.authwatch", "Reconnect @acme_events"), 1);
    assert_eq!(mails_to(&smtp, "ada@demo.authwatch", "Reconnect @acme_labs"), 1);
    assert_eq!(mails_to(&smtp, "ada@demo.authwatch", "clock"), 1);
    assert_eq!(smtp.mails().len(), 4, "nobody else is told");
    let jobs_mail = smtp.mails().into_iter().find(|m| m.data.contains("acme_jobs")).unwrap();
    assert_eq!(jobs_mail.from, "alerts@example.com");
    assert!(jobs_mail.data.contains("/reconnect"), "the mail says where to act");

    // The generic webhook: signed JSON naming the owner.
    let received = hooks.received();
    assert_eq!(received.len(), 4);
    for hook in &received {
        let timestamp = hook.headers["x-authwatch-timestamp"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{}", hook.body).as_bytes());
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(hook.headers["x-authwatch-signature"].to_str().unwrap(), expected);
        assert_eq!(hook.headers["x-authwatch-event"], "prompt.opened");
    }
    let jobs_hook: serde_json::Value = received
        .iter()
        .map(|h| serde_json::from_str::<serde_json::Value>(&h.body).unwrap())
        .find(|v| v["account"]["handle"] == "acme_jobs")
        .unwrap();
    assert_eq!(jobs_hook["recipients"][0]["email"], "dana@demo.authwatch");
    assert_eq!(jobs_hook["cause"], "scope_missing");
    // Slack gets its own payload shape.
    let slack_text: serde_json::Value = serde_json::from_str(&slack.received()[0].body).unwrap();
    assert!(slack_text["text"].as_str().unwrap().starts_with('*'));

    // Again, and again later: nothing new while the incidents last.
    assert_eq!(reconcile(state, t0 + 1000).await.unwrap(), Reconciled::default());
    assert_eq!(reconcile(state, t0 + 4 * HOUR - 1).await.unwrap(), Reconciled::default());
    assert_eq!(deliver_due(state, t0 + 4 * HOUR - 1).await.unwrap(), 0);
    assert_eq!(smtp.mails().len(), 4, "exactly one notification per recipient per incident");

    // Four hours without action: escalated to the admins, once.
    assert_eq!(reconcile(state, t0 + 4 * HOUR).await.unwrap(), Reconciled { raised: 0, escalated: 4, closed: 0 });
    deliver_due(state, t0 + 4 * HOUR).await.unwrap();
    assert_eq!(mails_to(&smtp, "ada@demo.authwatch", "Escalated: @acme_jobs"), 1);
    assert_eq!(mails_to(&smtp, "dana@demo.authwatch", "Escalated"), 0, "escalation goes to admins");
    assert_eq!(reconcile(state, t0 + 9 * HOUR).await.unwrap().escalated, 0, "escalated once only");

    // Dana reconnects @acme_jobs with every scope: the reconnect itself
    // closes the prompt (no reconcile needed, so no page shows it a moment
    // longer), and the owner and the admins (it was escalated) hear it recovered.
    let jobs = common::account_id(&app, "acme_jobs").await;
    let x_user = authwatch::server::db::accounts::summary(&state.pool, &jobs).await.unwrap().unwrap().x_user_id;
    demo::connect_as(state, &x_user, &Intent::NewAccount, "test", None).await.unwrap();
    let open = prompts::open(&state.pool).await.unwrap();
    assert!(open.iter().all(|p| p.subject != format!("account:{jobs}")), "closed by the reconnect: {open:?}");
    let t1 = t0 + 9 * HOUR + 1000;
    let closed = reconcile(state, t1).await.unwrap();
    assert_eq!(closed, Reconciled::default(), "nothing left to close, nothing raised again");
    deliver_due(state, t1).await.unwrap();
    assert_eq!(mails_to(&smtp, "dana@demo.authwatch", "Recovered: @acme_jobs"), 1);
    assert_eq!(mails_to(&smtp, "ada@demo.authwatch", "Recovered: @acme_jobs"), 1);
    let open = prompts::open(&state.pool).await.unwrap();
    assert_eq!(open.len(), 3);
    assert!(open.iter().all(|p| p.subject != format!("account:{jobs}")));
}

/// The demo, with only the generic webhook configured, its prompts raised at
/// the returned time and nothing delivered yet.
async fn prompts_raised_with_a_webhook() -> (TestApp, WebhookSink, i64) {
    let (hooks, hook_url) = WebhookSink::start().await;
    let app =
        TestApp::start(vec![("AUTHWATCH_WEBHOOK_URL", hook_url.as_str()), ("AUTHWATCH_WEBHOOK_SECRET", SECRET)]).await;
    demo::seed(&app.state, app.emulator()).await.unwrap();
    let t0 = now_ms();
    assert_eq!(reconcile(&app.state, t0).await.unwrap().raised, 4);
    (app, hooks, t0)
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_and_recorded() {
    let (app, hooks, t0) = prompts_raised_with_a_webhook().await;
    let state = &app.state;
    // Every message fails twice (500, then 503), then gets through.
    hooks.fail_next(&[500, 500, 500, 500, 503, 503, 503, 503]);
    assert_eq!(deliver_due(state, t0).await.unwrap(), 0);
    let rows = prompts::all_notifications(&state.pool).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|n| n.attempts == 1
        && n.next_attempt_at == t0 + 30_000
        && n.last_error.as_deref() == Some("the receiver answered HTTP 500")));
    assert_eq!(deliver_due(state, t0 + 29_999).await.unwrap(), 0, "not before the backoff");
    assert_eq!(hooks.received().len(), 4);
    assert_eq!(deliver_due(state, t0 + 30_000).await.unwrap(), 0);
    assert_eq!(deliver_due(state, t0 + 30_000 + 120_000).await.unwrap(), 4, "the third try gets through");
    let rows = prompts::all_notifications(&state.pool).await.unwrap();
    assert!(rows.iter().all(|n| n.attempts == 3 && n.delivered_at == Some(t0 + 150_000)));
    assert!(
        rows.iter().all(|n| n.last_error.as_deref() == Some("the receiver answered HTTP 503")),
        "the last failure stays on record"
    );
    assert_eq!(hooks.received().len(), 12);
    assert_eq!(deliver_due(state, t0 + 10 * HOUR).await.unwrap(), 0, "delivered once");
}

#[tokio::test]
async fn a_receiver_that_never_answers_well_is_given_up_on_and_recorded() {
    let (app, hooks, t0) = prompts_raised_with_a_webhook().await;
    let state = &app.state;
    hooks.fail_next(&[502; 100]);
    let mut at = t0;
    for _ in 0..authwatch::server::notify::MAX_ATTEMPTS {
        deliver_due(state, at).await.unwrap();
        at += 2 * HOUR;
    }
    let rows = prompts::all_notifications(&state.pool).await.unwrap();
    assert!(rows.iter().all(|n| n.gave_up_at.is_some()
        && n.delivered_at.is_none()
        && n.attempts == authwatch::server::notify::MAX_ATTEMPTS));
    let calls = hooks.received().len();
    deliver_due(state, at + 10 * HOUR).await.unwrap();
    assert_eq!(hooks.received().len(), calls, "given up: no more tries");
}

#[tokio::test]
async fn replicas_delivering_at_once_send_each_message_once() {
    let Setup { app, hooks, slack, smtp } = setup().await;
    let state = &app.state;
    let t0 = now_ms();
    assert_eq!(reconcile(state, t0).await.unwrap().raised, 4);
    // Three deliverers at once, as three replicas' outbox tasks would be.
    let (a, b, c) = tokio::join!(deliver_due(state, t0), deliver_due(state, t0), deliver_due(state, t0));
    assert_eq!(a.unwrap() + b.unwrap() + c.unwrap(), 4 * 2 + 4, "each message delivered by one of them");
    assert_eq!(hooks.received().len(), 4, "each webhook once");
    assert_eq!(slack.received().len(), 4, "each Slack message once");
    assert_eq!(smtp.mails().len(), 4, "each mail once");
    assert!(prompts::all_notifications(&state.pool).await.unwrap().iter().all(|n| n.delivered_at.is_some()));
}
