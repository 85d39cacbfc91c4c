//! A browser's side of the OAuth dance against the emulator, for tests.

use super::TestApp;
use authwatch::server::db::accounts;
use reqwest::Client;

/// Every account's token set as stored: generation and ciphertexts.
pub async fn token_rows(app: &TestApp) -> Vec<(String, i64, String, Option<String>)> {
    sqlx::query_as(
        "SELECT account_id, generation, access_token_ct, refresh_token_ct FROM token_sets ORDER BY account_id",
    )
    .fetch_all(&app.state.pool)
    .await
    .unwrap()
}

pub async fn account(app: &TestApp, handle: &str) -> accounts::AccountSummary {
    accounts::summaries(&app.state.pool).await.unwrap().into_iter().find(|s| s.handle == handle).unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: HTTP {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Starts a (re)connect in `browser`; returns the X authorize URL it was sent to.
pub async fn start(app: &TestApp, browser: &Client, account_id: Option<&str>) -> String {
    let form: Vec<(&str, &str)> = account_id.map(|id| vec![("account_id", id)]).unwrap_or_default();
    start_with(app, browser, &form).await
}

/// Posts `form` to `/auth/x/start`; returns the X authorize URL it was sent to.
pub async fn start_with(app: &TestApp, browser: &Client, form: &[(&str, &str)]) -> String {
    let r = browser.post(app.url("/auth/x/start")).form(form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.contains("/x-emulator/i/oauth2/authorize?"), "{to}");
    assert!(to.contains("code_challenge_method=S256"));
    to
}

/// Answers the emulator's consent page as `user_id`; returns the callback URL X redirects to.
pub async fn consent(browser: &Client, authorize_url: &str, user_id: &str, action: &str) -> String {
    consent_answered(browser, authorize_url, user_id, action, 302).await
}

/// [`consent`], on a page whose form X answers with `status` (OAuth 1.0a's: 303).
pub async fn consent_answered(
    browser: &Client,
    authorize_url: &str,
    user_id: &str,
    action: &str,
    status: u16,
) -> String {
    let url = url::Url::parse(authorize_url).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("user_id".into(), user_id.into()));
    form.push(("action".into(), action.into()));
    let mut post = url.clone();
    post.set_query(None);
    let r = browser.post(post).form(&form).send().await.unwrap();
    assert_eq!(r.status(), status, "consent should redirect");
    location(&r)
}

/// Follows the callback; returns where it sent the browser and that page's HTML.
pub async fn land(app: &TestApp, browser: &Client, callback: &str) -> (String, String) {
    let r = browser.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 303, "the callback always redirects");
    let to = location(&r);
    let html = browser.get(app.url(&to)).send().await.unwrap().text().await.unwrap();
    (to, html)
}
