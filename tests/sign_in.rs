//! Signing in under attack, over the real router on a real port: a burst of
//! guesses for one email, and a full argon2 pool.

mod common;

use authwatch::domain::access::THROTTLE_WINDOW_MS;
use authwatch::server::demo::MANAGER;
use common::TestApp;

/// Posts the sign-in form; the answer's status and `Location`.
async fn sign_in(browser: &reqwest::Client, app: &TestApp, email: &str, password: &str, next: &str) -> (u16, String) {
    let r = browser
        .post(app.url("/auth/sign-in"))
        .form(&[("email", email), ("password", password), ("next", next)])
        .send()
        .await
        .expect("sign in");
    let location = r.headers().get("location").map(|l| l.to_str().expect("a Location is text").to_owned()).unwrap_or_default();
    (r.status().as_u16(), location)
}

/// The error code a sign-in came back with, if it came back to the form.
fn error_of(location: &str) -> Option<&str> {
    location.strip_prefix("/sign-in?error=").map(|rest| rest.split('&').next().unwrap_or(""))
}

async fn failures_for(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_failures WHERE email = ?").bind(email).fetch_one(&app.state.pool).await.unwrap()
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
    let codes: Vec<&str> = answers.iter().map(|(status, location)| {
        assert_eq!(*status, 303, "{location}");
        error_of(location).unwrap_or_else(|| panic!("a wrong password signed in: {location}"))
    }).collect();
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
    assert!(html.contains("Too many failed sign-ins") && html.contains("wait 15 min"), "the page says why and for how long");
    assert_eq!(app.state.passwords.verifications() - verified_before, 5, "nor was the right password checked");

    // Once the window has passed, it works, and a success clears the email's failures.
    sqlx::query("UPDATE sign_in_failures SET at = at - ?").bind(THROTTLE_WINDOW_MS).execute(&app.state.pool).await.unwrap();
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
    assert!(html.contains("busy checking other sign-ins") && html.contains("Try again in a moment"), "the page says what to do");
    assert_eq!(passwords.verifications(), verified_before, "no argon2 ran");
    assert_eq!(failures_for(&app, MANAGER.email).await, 0, "a busy answer is not a failure");

    drop(held);
    assert_eq!(sign_in(&browser, &app, MANAGER.email, MANAGER.password, "/").await, (303, "/".to_owned()), "free again: signed in");
    assert_eq!(passwords.verifications(), verified_before + 1);
}
