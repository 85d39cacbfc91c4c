//! Signing in under attack, over the real router on a real port: a burst of
//! guesses for one email, a full argon2 pool, and hostile `next` values.

use crate::support as common;

use authwatch::domain::access::THROTTLE_WINDOW_MS;
use authwatch::server::demo::{ADMIN, MANAGER};
use common::TestApp;

/// Posts the sign-in form; the answer's status and `Location`.
async fn sign_in(browser: &reqwest::Client, app: &TestApp, email: &str, password: &str, next: &str) -> (u16, String) {
    let r = browser
        .post(app.url("/auth/sign-in"))
        .form(&[("email", email), ("password", password), ("next", next)])
        .send()
        .await
        .expect("sign in");
    let location =
        r.headers().get("location").map(|l| l.to_str().expect("a Location is text").to_owned()).unwrap_or_default();
    (r.status().as_u16(), location)
}

/// The error code a sign-in came back with, if it came back to the form.
fn error_of(location: &str) -> Option<&str> {
    location.strip_prefix("/sign-in?error=").map(|rest| rest.split('&').next().unwrap_or(""))
}

async fn failures_for(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_failures WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_for_one_email_gets_five_checked_and_the_right_password_then_waits() {
    let app = TestApp::empty_demo().await;
    let verified_before = app.state.passwords.verifications();
    let guesses = (0..60).map(|i| {
        let browser = app.browser();
        let app = &app;
        async move { sign_in(&browser, app, MANAGER.email, &format!("wrong-guess-{i}"), "/").await }
    });
    let answers = futures::future::join_all(guesses).await;
    let codes: Vec<&str> = answers
        .iter()
        .map(|(status, location)| {
            assert_eq!(*status, 303, "{location}");
            error_of(location).unwrap_or_else(|| panic!("a wrong password signed in: {location}"))
        })
        .collect();
    let invalid = codes.iter().filter(|c| **c == "invalid").count();
    let throttled = codes.iter().filter(|c| c.starts_with("throttled-")).count();
    let busy = codes.iter().filter(|c| **c == "busy").count();
    assert_eq!(invalid + throttled + busy, 60, "every other guess is throttled or busy: {codes:?}");
    assert!(invalid <= 5, "{invalid} guesses were checked; the limit is 5: {codes:?}");
    let verified = app.state.passwords.verifications() - verified_before;
    assert_eq!(verified, invalid as u64, "argon2 ran once per checked guess, never for a throttled or busy one");

    // A guess answered busy was never checked and does not count: the
    // budget is spent only by checked guesses. Spend the rest of it, one at
    // a time (none is busy then).
    let browser = app.browser();
    for i in invalid..5 {
        let (_, location) = sign_in(&browser, &app, MANAGER.email, &format!("late-guess-{i}"), "/").await;
        assert_eq!(error_of(&location), Some("invalid"), "{location}");
    }
    assert_eq!(failures_for(&app, MANAGER.email).await, 5);
    let (_, location) = sign_in(&browser, &app, MANAGER.email, MANAGER.password, "/").await;
    assert!(location.starts_with("/sign-in?error=throttled-15"), "the right password waits too: {location}");
    let html = browser.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Too many failed sign-ins") && html.contains("wait 15 min"),
        "the page says why and for how long"
    );
    assert_eq!(app.state.passwords.verifications() - verified_before, 5, "nor was the right password checked");

    // Once the window has passed, it works, and a success clears the email's failures.
    sqlx::query("UPDATE sign_in_failures SET at = at - $1")
        .bind(THROTTLE_WINDOW_MS)
        .execute(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(sign_in(&browser, &app, MANAGER.email, MANAGER.password, "/").await, (303, "/".to_owned()));
    assert_eq!(failures_for(&app, MANAGER.email).await, 0);
}

#[tokio::test]
async fn with_every_argon2_slot_taken_a_sign_in_is_answered_busy_and_not_counted() {
    let app = TestApp::empty_demo().await;
    let passwords = &app.state.passwords;
    let held = passwords.permits().acquire_many(passwords.capacity() as u32).await.expect("the permits");
    let verified_before = passwords.verifications();
    let browser = app.browser();
    // More than the email's budget: none of these may count.
    for i in 0..7 {
        let (status, location) = sign_in(&browser, &app, MANAGER.email, &format!("wrong-{i}"), "/accounts").await;
        assert_eq!((status, error_of(&location)), (303, Some("busy")), "{location}");
        assert!(location.ends_with("&next=%2Faccounts"), "the way back is kept: {location}");
    }
    let (_, location) = sign_in(&browser, &app, MANAGER.email, MANAGER.password, "/").await;
    assert_eq!(error_of(&location), Some("busy"));
    let html = browser.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("busy checking other sign-ins") && html.contains("Try again in a moment"),
        "the page says what to do"
    );
    assert_eq!(passwords.verifications(), verified_before, "no argon2 ran");
    assert_eq!(failures_for(&app, MANAGER.email).await, 0, "a busy answer is not a failure");

    drop(held);
    assert_eq!(
        sign_in(&browser, &app, MANAGER.email, MANAGER.password, "/").await,
        (303, "/".to_owned()),
        "free again: signed in"
    );
    assert_eq!(passwords.verifications(), verified_before + 1);
}

/// `next` values that try to leave the site (or smuggle something through it).
const HOSTILE: &[&str] = &[
    "/\t/evil.example",
    "/\tevil",
    "/\r\n/evil.example",
    "/\n/evil.example",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%25%30%39/evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "evil.example",
    "/x\0y",
    "/\u{85}/evil.example",
    " /accounts",
];

/// Where a `Location` leads, read the way a browser reads it.
fn resolved(app: &TestApp, location: &str) -> url::Url {
    url::Url::parse(&app.url("/sign-in")).unwrap().join(location).unwrap_or_else(|e| panic!("{location:?}: {e}"))
}

#[tokio::test]
async fn no_next_leads_off_the_site() {
    let app = TestApp::empty_demo().await;
    let origin = url::Url::parse(&app.url("/")).unwrap().origin();
    let browser = app.browser();
    for next in HOSTILE {
        let (status, location) = sign_in(&browser, &app, ADMIN.email, ADMIN.password, next).await;
        assert_eq!(status, 303);
        assert_eq!(location, "/", "next = {next:?}");
        assert_eq!(resolved(&app, &location).origin(), origin, "next = {next:?}");
        // The sign-in page does not carry it into its form either.
        let page = sign_in_page(&browser, &app, next).await;
        assert!(page.contains(r#"name="next" value="/""#), "next = {next:?} is reflected: {}", form_of(&page));
    }

    // Paths on the site are kept, query and all, and the page carries them.
    for (next, location) in [
        ("/", "/"),
        ("/accounts/acc_1", "/accounts/acc_1"),
        ("/?health=reconnect&search=acme%20news", "/?health=reconnect&search=acme%20news"),
        ("/?search=acme news", "/?search=acme%20news"),
        ("/users#add", "/users#add"),
    ] {
        assert_eq!(sign_in(&browser, &app, ADMIN.email, ADMIN.password, next).await, (303, location.to_owned()));
        // (The router decodes query values twice, so a `%20` reaches the page as a space.)
        if !next.contains('%') {
            let page = sign_in_page(&browser, &app, next).await;
            assert!(
                page.contains(&format!(r#"name="next" value="{}""#, next.replace('&', "&amp;"))),
                "{next:?}: {}",
                form_of(&page)
            );
        }
    }
    // Nor does the way back to the form after a wrong password (unknown
    // emails, so the admin's budget is not spent; past the address's budget
    // the answer is "throttled", which keeps no hostile `next` either).
    for (i, next) in HOSTILE.iter().enumerate() {
        let (_, location) = sign_in(&browser, &app, &format!("nobody-{i}@example.com"), "wrong", next).await;
        let to = resolved(&app, &location);
        assert_eq!(to.origin(), origin, "next = {next:?}: {location}");
        assert_eq!(to.path(), "/sign-in");
        let kept = to.query_pairs().find(|(k, _)| k == "next").map(|(_, v)| v.into_owned());
        assert_eq!(kept.as_deref(), Some("/"), "next = {next:?}: {location}");
    }
}

#[tokio::test]
async fn next_is_judged_against_the_public_url() {
    // Behind a TLS proxy: the public origin is not the one this test dials.
    let app = TestApp::start(vec![("AUTHWATCH_PUBLIC_URL", "https://authwatch.example")]).await;
    // Its pages' origin is the public one, and the origin check wants exactly that.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, "https://authwatch.example".parse().unwrap());
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap();
    assert_eq!(sign_in(&browser, &app, ADMIN.email, ADMIN.password, "/accounts/acc_1").await.1, "/accounts/acc_1");
    assert_eq!(sign_in(&browser, &app, ADMIN.email, ADMIN.password, "https://authwatch.example/users").await.1, "/");
    assert_eq!(sign_in(&browser, &app, ADMIN.email, ADMIN.password, "/\t/authwatch.example").await.1, "/");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn form_of(page: &str) -> &str {
    let start = page.find(r#"action="/auth/sign-in""#).unwrap_or(0);
    &page[start..page.len().min(start + 400)]
}

/// The sign-in page as it is served for `?next=<next>`.
async fn sign_in_page(browser: &reqwest::Client, app: &TestApp, next: &str) -> String {
    browser.get(format!("{}?next={}", app.url("/sign-in"), urlencode(next))).send().await.unwrap().text().await.unwrap()
}
