#![cfg(feature = "ssr")]
//! Every button is a form that posts to its server function, so the pages
//! work without their wasm: a browser's plain form post (it asks for
//! text/html) is answered by a redirect back to the page it came from, whose
//! next rendering says what happened, once.

use crate::support as common;

use authwatch::api::api_keys::{CreateApiKey, RevokeApiKey};
use authwatch::api::{CheckNow, RefreshNow};
use authwatch::server::db::api_keys;
use common::{account_id, TestApp};
use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, LOCATION, REFERER};

/// What Chromium sends for a form's post.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn location(answer: &reqwest::Response) -> String {
    answer.headers().get(LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned()
}

/// Posts `form` to the server function at `url` as a browser's plain form
/// on the page `referer` would.
async fn plain_post(browser: &reqwest::Client, url: String, referer: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser.post(url).header(ACCEPT, BROWSER_ACCEPT).header(REFERER, referer).form(form).send().await.unwrap()
}

#[tokio::test]
async fn refresh_now_posted_by_a_plain_form_goes_back_to_the_account_and_says_what_happened_once() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account_id(&app, "acme_news").await;
    let page = app.url(&format!("/accounts/{news}"));
    let before = authwatch::server::db::accounts::summary(&app.state.pool, &news).await.unwrap().unwrap().generation;

    let answer = plain_post(&admin, app.url(RefreshNow::PATH), &page, &[("id", news.as_str())]).await;
    assert_eq!((answer.status().as_u16(), location(&answer)), (303, format!("/accounts/{news}")));

    let after = authwatch::server::db::accounts::summary(&app.state.pool, &news).await.unwrap().unwrap().generation;
    assert_eq!(after, before + 1, "the form's post refreshed the account");
    let shown = admin.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains(&format!("Refreshed: generation {after} saved.")), "the notice is on the page");
    assert!(shown.contains(r#"role="status" class="notice ok action-result""#), "{shown}");
    let again = admin.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("Refreshed: generation"), "a notice is shown once");
}

#[tokio::test]
async fn a_refused_form_post_comes_back_as_an_alert_and_changes_nothing() {
    let app = TestApp::demo().await;
    // The manager does not own @acme_labs: checking it is refused.
    let manager = app.manager().await;
    let labs = account_id(&app, "acme_labs").await;
    let page = app.url(&format!("/accounts/{labs}"));
    let answer = plain_post(&manager, app.url(CheckNow::PATH), &page, &[("id", labs.as_str())]).await;
    assert_eq!((answer.status().as_u16(), location(&answer)), (303, format!("/accounts/{labs}")));
    let shown = manager.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains(r#"role="alert" class="notice problem action-result""#), "{shown}");
    assert!(shown.contains("owner"), "the refusal says who may act");
}

#[tokio::test]
async fn a_form_post_goes_back_only_to_a_page_of_this_site() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account_id(&app, "acme_news").await;
    for referer in
        ["https://evil.example/phish", "http://evil.example//evil.example/x", "javascript:alert(1)", "not a url"]
    {
        let answer = plain_post(&admin, app.url(CheckNow::PATH), referer, &[("id", news.as_str())]).await;
        assert_eq!(answer.status().as_u16(), 303, "{referer}");
        let back = location(&answer);
        assert!(back.starts_with('/') && !back.starts_with("//"), "{referer} led to {back}");
    }
    // Without a Referer at all: the dashboard.
    let answer = admin
        .post(app.url(CheckNow::PATH))
        .header(ACCEPT, BROWSER_ACCEPT)
        .form(&[("id", news.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!((answer.status().as_u16(), location(&answer)), (303, "/".to_owned()));
}

#[tokio::test]
async fn a_new_api_key_posted_without_the_script_is_shown_once_on_its_own_page_and_never_kept() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let answer = plain_post(
        &admin,
        app.url(CreateApiKey::PATH),
        &app.url("/settings"),
        &[("name", "scheduler"), ("accounts", "")],
    )
    .await;
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let page = answer.text().await.unwrap();
    let key = page
        .split("<code>")
        .filter_map(|s| s.split("</code>").next())
        .find(|s| s.starts_with("awk_"))
        .unwrap_or_else(|| panic!("the key is on the page: {page}"))
        .to_owned();
    assert!(page.contains(r#"<a href="/settings">Back</a>"#), "{page}");
    // It works, and nothing but its hash was written anywhere.
    let status =
        reqwest::Client::new().get(app.url("/api/v1/accounts")).bearer_auth(&key).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 200);
    let bytes = app.database_bytes().await;
    assert!(
        !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "the key is not in the database (nor its sessions)"
    );
    let settings = admin.get(app.url("/settings")).send().await.unwrap().text().await.unwrap();
    assert!(!settings.contains(&key), "the settings page does not show it again");

    // Revoking it by a plain form is a notice on the settings page.
    let id = api_keys::list(&app.state.pool).await.unwrap()[0].id.clone();
    let answer = plain_post(&admin, app.url(RevokeApiKey::PATH), &app.url("/settings"), &[("id", id.as_str())]).await;
    assert_eq!((answer.status().as_u16(), location(&answer)), (303, "/settings".to_owned()));
    let settings = admin.get(app.url("/settings")).send().await.unwrap().text().await.unwrap();
    assert!(settings.contains(r#"class="notice ok action-result">Revoked"#), "{settings}");
}

#[tokio::test]
async fn a_script_calling_a_server_function_still_gets_data_not_a_redirect() {
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let news = account_id(&app, "acme_news").await;
    let answer = admin
        .post(app.url(CheckNow::PATH))
        .header(ACCEPT, "application/json")
        .form(&[("id", news.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: String = answer.json().await.unwrap();
    assert!(body.contains("X confirmed the token works"), "{body}");
}
