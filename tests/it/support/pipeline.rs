//! Helpers for the pipeline API's tests: an API key, calls over real HTTP
//! with it, and the browser reconnect.

use super::TestApp;
use authwatch::server::db::{accounts, events, posts, prompts};
use authwatch::server::demo::CLIENT_ID;
use authwatch::server::pipeline::auth;
use reqwest::header::HeaderMap;
use reqwest::Client;
use serde_json::Value;

/// An answer of the API.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status and type slug.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.content_type(), "application/problem+json", "{:?}", self.body);
        assert_eq!(self.body["type"], format!("urn:authwatch:problem:{slug}"), "{:?}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "a detail for people");
    }
}

/// A client of the API with one key.
pub struct Api {
    pub base: String,
    pub key: String,
    /// The key's id (what the timeline and the settings page name it by).
    pub key_id: String,
    pub http: Client,
}

impl Api {
    /// A key for every account.
    pub async fn new(app: &TestApp) -> Self {
        Self::with_accounts(app, None).await
    }

    /// A key limited to `accounts` (`None`: all).
    pub async fn with_accounts(app: &TestApp, accounts: Option<&[String]>) -> Self {
        Self::named(app, "test pipeline", accounts).await
    }

    /// A key named `name`, limited to `accounts` (`None`: all).
    pub async fn named(app: &TestApp, name: &str, accounts: Option<&[String]>) -> Self {
        let created = auth::create_key(&app.state.pool, name, accounts, "test").await.expect("create key");
        Self { base: app.url("/api/v1"), key: created.key.expose().to_owned(), key_id: created.id, http: Client::new() }
    }

    pub fn with_key(&self, key: &str) -> Self {
        Self { base: self.base.clone(), key: key.to_owned(), key_id: String::new(), http: self.http.clone() }
    }

    /// Reports X's `status` and `body` for `account_id` (the current generation).
    pub async fn report(&self, account_id: &str, status: u16, body: &Value) -> Reply {
        self.post(
            &format!("/accounts/{account_id}/auth-failures"),
            &serde_json::json!({ "status": status, "body": body }),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.expect("GET");
        reply(r).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("POST");
        reply(r).await
    }

    /// Publishes `text` with this idempotency key.
    pub async fn publish(&self, account_id: &str, key: &str, text: &str) -> Reply {
        let r = self
            .http
            .post(format!("{}/accounts/{account_id}/posts", self.base))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .expect("POST posts");
        reply(r).await
    }
}

pub async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), headers }
}

pub async fn account(app: &TestApp, handle: &str) -> accounts::AccountSummary {
    accounts::summaries(&app.state.pool).await.unwrap().into_iter().find(|s| s.handle == handle).expect("account")
}

/// What the emulator's control API counts of the demo app's calls (over
/// HTTP, as the demo's admin: the control API is an admin's tool).
async fn demo_counts(app: &TestApp) -> Value {
    let counts: Value =
        app.admin().await.get(app.url("/x-emulator/_control/counts")).send().await.unwrap().json().await.unwrap();
    counts["by_client"][CLIENT_ID].clone()
}

/// Calls to X's `POST /2/tweets` and refreshes by the demo app.
pub async fn x_calls(app: &TestApp) -> (u64, u64) {
    let demo = demo_counts(app).await;
    (demo["tweets"].as_u64().unwrap_or(0), demo["refresh_grants"].as_u64().unwrap_or(0))
}

/// Calls to X's `GET /2/users/me` by the demo app.
pub async fn users_me_calls(app: &TestApp) -> u64 {
    demo_counts(app).await["users_me"].as_u64().unwrap_or(0)
}

/// The causes of the account's open prompts, after the notifier has looked
/// at every account.
pub async fn open_prompts(app: &TestApp, account_id: &str) -> Vec<String> {
    authwatch::server::notify::reconcile(&app.state, authwatch::server::x::now_ms()).await.unwrap();
    prompts::for_account(&app.state.pool, account_id, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.closed_at.is_none())
        .map(|p| p.cause.as_str().to_owned())
        .collect()
}

/// The status of post `id`, as stored.
pub async fn post_status(app: &TestApp, id: i64) -> String {
    posts::get(&app.state.pool, id).await.unwrap().expect("post").status().as_str().to_owned()
}

/// The account page's HTML, as the demo admin sees it.
pub async fn account_page(app: &TestApp, account_id: &str) -> String {
    app.admin().await.get(app.url(&format!("/accounts/{account_id}"))).send().await.unwrap().text().await.unwrap()
}

/// The texts X published, in order.
pub fn published(app: &TestApp) -> Vec<String> {
    app.emulator().tweets().into_iter().map(|t| t.text).collect()
}

/// The account's newest events, newest first: (kind, outcome, cause).
pub async fn timeline(app: &TestApp, account_id: &str) -> Vec<(String, String, Option<String>)> {
    events::recent(&app.state.pool, account_id, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind.as_str().to_owned(), e.outcome.as_str().to_owned(), e.cause.map(|c| c.as_str().to_owned())))
        .collect()
}

/// Reconnects `account_id` in a browser signed in to authwatch as the demo
/// admin and to X as `x_user_id`: the reconnect form, X's consent page, the callback.
pub async fn reconnect_in_browser(app: &TestApp, account_id: &str, x_user_id: &str) {
    let browser = app.admin().await;
    let r = browser.post(app.url("/auth/x/start")).form(&[("account_id", account_id)]).send().await.unwrap();
    assert_eq!(r.status(), 303, "the reconnect starts");
    let to_x = url::Url::parse(location(&r)).unwrap();
    let mut form: Vec<(String, String)> = to_x.query_pairs().into_owned().collect();
    form.push(("user_id".into(), x_user_id.into()));
    form.push(("action".into(), "authorize".into()));
    let mut consent = to_x.clone();
    consent.set_query(None);
    let r = browser.post(consent).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 302, "X redirects back");
    let callback = location(&r).to_owned();
    let r = browser.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/", "the reconnect succeeded");
}

fn location(r: &reqwest::Response) -> &str {
    r.headers().get("location").unwrap_or_else(|| panic!("no redirect: HTTP {}", r.status())).to_str().unwrap()
}

/// Polls `check` every 50 ms for up to 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
