#![cfg(feature = "ssr")]
//! Reconnect links over the real router: made by an owner, opened in a
//! browser with no dashboard user, refused for the wrong X account (and then
//! still usable), spent by one successful reconnect, and every unusable link
//! explaining itself.

use crate::support as common;

use authwatch::api::{CreateReconnectLink, RevokeReconnectLink};
use common::oauth::{account, consent, land, start_with, token_rows};
use common::TestApp;
use leptos::server_fn::ServerFn;

/// Makes a link for `account_id` as the demo manager; returns its secret.
async fn make_link(app: &TestApp, account_id: &str) -> String {
    let manager = app.manager().await;
    let r = manager.post(app.url(CreateReconnectLink::PATH)).form(&[("account_id", account_id)]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let made: serde_json::Value = r.json().await.unwrap();
    let url = made["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("http://{}/r/", app.addr)), "{url}");
    url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_link_reconnects_once_and_refuses_the_wrong_account_without_being_spent() {
    let app = TestApp::demo().await;
    let events = account(&app, "acme_events").await;
    let secret = make_link(&app, &events.id).await;
    // Only a hash of the secret is stored.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM reconnect_links").fetch_all(&app.state.pool).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], secret);
    assert!(!String::from_utf8_lossy(&app.database_bytes().await).contains(&secret));

    let guest = app.browser();
    let page = guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // Leptos marks text-node boundaries with `<!>`; read the text without them.
    let html = page.text().await.unwrap().replace("<!>", "");
    assert!(
        html.contains("Reconnect @acme_events to authwatch") && html.contains("Sign in there as <strong>@acme_events"),
        "names the account: {html}"
    );

    // The wrong X account: refused, nothing saved, and the link still works.
    let before = token_rows(&app).await;
    let to_x = start_with(&app, &guest, &[("link", &secret)]).await;
    let back = consent(&guest, &to_x, "1600000000000000101", "authorize").await;
    let (to, html) = land(&app, &guest, &back).await;
    assert_eq!(to, "/connect/result");
    assert!(html.contains("You signed in to X as @acme_careers, but this reconnect is for @acme_events"));
    assert!(html.contains("Open your reconnect link again"));
    assert_eq!(token_rows(&app).await, before);
    assert_eq!(
        guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap().status(),
        200,
        "not spent by a refusal"
    );

    // The right one: saved, shown on the result page (not the dashboard).
    let to_x = start_with(&app, &guest, &[("link", &secret)]).await;
    let back = consent(&guest, &to_x, &events.x_user_id, "authorize").await;
    let (to, html) = land(&app, &guest, &back).await;
    assert_eq!(to, "/connect/result");
    assert!(html.contains("Reconnected @acme_events"), "{html}");
    let after = account(&app, "acme_events").await;
    assert_eq!(after.generation, events.generation + 1);
    assert_eq!(after.incident_cause, None);
    let recent = authwatch::server::db::events::recent(&app.state.pool, &events.id, 1).await.unwrap();
    assert!(
        recent[0].actor.starts_with("reconnect link lnk_"),
        "the timeline says it came by link: {}",
        recent[0].actor
    );

    // Spent: the page says when, with 410; starting again is refused.
    let page = guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("This link was already used"));
    let r = guest.post(app.url("/auth/x/start")).form(&[("link", secret.as_str())]).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/connect/result?problem=link-used");
    let html = guest.get(app.url("/connect/result?problem=link-used")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("This reconnect link does not work") && html.contains("already used"));
    // And the link holder never got past the sign-in page.
    assert_eq!(guest.get(app.url("/")).send().await.unwrap().status(), 303);
}

#[tokio::test]
async fn expired_unknown_and_foreign_links_explain_themselves() {
    let app = TestApp::demo().await;
    let events = account(&app, "acme_events").await;
    let secret = make_link(&app, &events.id).await;
    sqlx::query("UPDATE reconnect_links SET expires_at = 1000").execute(&app.state.pool).await.unwrap();
    let guest = app.browser();
    let page = guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap();
    assert_eq!(page.status(), 410);
    let html = page.text().await.unwrap();
    assert!(html.contains("This link has expired") && html.contains("Ask for a new one"));
    let r = guest.post(app.url("/auth/x/start")).form(&[("link", secret.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/connect/result?problem=link-expired");

    let unknown = guest.get(app.url("/r/not-a-real-link")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("This link is not valid"));

    // A manager who does not own the account cannot make a link for it.
    let labs = account(&app, "acme_labs").await;
    let manager = app.manager().await;
    let r = manager
        .post(app.url(CreateReconnectLink::PATH))
        .form(&[("account_id", labs.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM reconnect_links").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn an_owner_can_revoke_an_unused_link() {
    let app = TestApp::demo().await;
    let events = account(&app, "acme_events").await;
    let secret = make_link(&app, &events.id).await;
    let link_id: String =
        sqlx::query_scalar("SELECT id FROM reconnect_links").fetch_one(&app.state.pool).await.unwrap();
    let guest = app.browser();
    let r = guest.post(app.url(RevokeReconnectLink::PATH)).form(&[("link_id", link_id.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 401, "not signed in");
    let manager = app.manager().await;
    let r =
        manager.post(app.url(RevokeReconnectLink::PATH)).form(&[("link_id", link_id.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = guest.get(app.url(&format!("/r/{secret}"))).send().await.unwrap();
    assert_eq!(page.status(), 410, "revoked: it has expired");
    let r =
        manager.post(app.url(RevokeReconnectLink::PATH)).form(&[("link_id", link_id.as_str())]).send().await.unwrap();
    assert_ne!(r.status(), 200, "twice is refused");
    let timeline = authwatch::server::db::events::recent(&app.state.pool, &events.id, 1).await.unwrap();
    assert_eq!(timeline[0].detail.as_deref(), Some(format!("reconnect link {link_id} revoked").as_str()));
}
