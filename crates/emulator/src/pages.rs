//! The emulator's HTML: X's consent pages (OAuth 2.0 and 1.0a), its
//! "Something went wrong" page, and the PIN page of 1.0a's `oob`.
//!
//! Links and form actions are relative, so the pages work wherever the
//! emulator is mounted (e.g. under `/x-emulator` in demo mode). Elements carry
//! stable ids for browser tests: `#x-user` (the account picker), `#x-authorize`
//! and `#x-cancel` (the buttons, labelled "Authorize app" and "Cancel").

use std::fmt::Write;

use super::model::EmulatedUser;
use super::state::AuthorizeRequest;
use super::tokens::ChallengeMethod;

/// X's page for a bad authorization request: it never redirects. `reason`
/// goes into an HTML comment only — X shows no detail, but a developer
/// reading the source of the emulator's page deserves one.
pub(crate) fn something_went_wrong(reason: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>X</title>{STYLE}</head>
<body>
<main class="card" id="x-error">
<h1>Something went wrong</h1>
<p>You weren't able to give access to the App. Go back and try logging in again.</p>
<!-- emulator: {reason} -->
</main>
</body>
</html>
"#,
        reason = escape(&reason.replace("--", "- -")),
    )
}

/// The consent page: which app asks for what, as which account, and the two
/// buttons. The form posts back to the same path with the original
/// parameters as hidden fields.
pub(crate) fn consent(request: &AuthorizeRequest, users: &[EmulatedUser], signed_in: Option<&EmulatedUser>) -> String {
    let mut html = String::with_capacity(4096);
    let app = escape(&request.app_name);
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Authorize {app} to access your account? / X</title>{STYLE}</head>
<body>
<main class="card" id="x-consent">
<p class="brand">X (emulator)</p>
<h1>{app} wants to access your X account.</h1>
"#
    );
    signed_in_line(&mut html, signed_in);
    html.push_str("<h2>It will be able to:</h2>\n<ul id=\"x-scopes\">\n");
    for scope in &request.scopes {
        let _ = writeln!(
            html,
            r#"<li data-scope="{s}"><code>{s}</code> — {d}</li>"#,
            s = escape(scope),
            d = scope_description(scope)
        );
    }
    html.push_str("</ul>\n<form method=\"post\" action=\"authorize\" id=\"x-consent-form\">\n");
    let method = match request.method {
        ChallengeMethod::S256 => "S256",
        ChallengeMethod::Plain => "plain",
    };
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", request.client_id.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("scope", &request.scopes.join(" ")),
        ("state", request.state.as_str()),
        ("code_challenge", request.code_challenge.as_str()),
        ("code_challenge_method", method),
    ] {
        let _ = writeln!(html, r#"<input type="hidden" name="{name}" value="{}">"#, escape(value));
    }
    account_picker_and_buttons(&mut html, users, signed_in);
    html
}

/// The OAuth 1.0a consent page (`/oauth/authorize` and
/// `/oauth/authenticate`): the same picker and buttons as OAuth 2.0's, the
/// app's permission instead of scopes, the request token as a hidden field.
/// `action` is the relative path the form posts to (the page's own).
pub(crate) fn oauth1_consent(
    app_name: &str,
    oauth_token: &str,
    action: &str,
    users: &[EmulatedUser],
    signed_in: Option<&EmulatedUser>,
) -> String {
    let mut html = String::with_capacity(4096);
    let app = escape(app_name);
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Authorize {app} to access your account? / X</title>{STYLE}</head>
<body>
<main class="card" id="x-consent">
<p class="brand">X (emulator)</p>
<h1>{app} wants to access your X account.</h1>
"#
    );
    signed_in_line(&mut html, signed_in);
    let _ = write!(
        html,
        r#"<h2>It will be able to:</h2>
<ul id="x-permissions">
<li data-permission="read">See posts from your timeline and your profile information.</li>
<li data-permission="write">Post and repost for you.</li>
</ul>
<form method="post" action="{action}" id="x-consent-form">
<input type="hidden" name="oauth_token" value="{token}">
"#,
        action = escape(action),
        token = escape(oauth_token),
    );
    account_picker_and_buttons(&mut html, users, signed_in);
    html
}

/// X's page for an `oob` callback: the PIN (the verifier) to type into the
/// app.
pub(crate) fn oauth1_pin(verifier: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>X</title>{STYLE}</head>
<body>
<main class="card" id="x-pin-page">
<h1>You've granted access to the app.</h1>
<p>Next, return to the app and enter this PIN to complete the authorization process:</p>
<p><code id="x-pin">{verifier}</code></p>
</main>
</body>
</html>
"#,
        verifier = escape(verifier),
    )
}

fn signed_in_line(html: &mut String, signed_in: Option<&EmulatedUser>) {
    match signed_in {
        Some(user) => {
            let _ = writeln!(
                html,
                r#"<p id="x-signed-in">You are signed in to X as <strong>@{}</strong>.</p>"#,
                escape(&user.username)
            );
        }
        None => html.push_str("<p id=\"x-signed-in\">You are not signed in to X: pick an account.</p>\n"),
    }
}

/// The `#x-user` account picker, the two buttons, and the end of the page.
fn account_picker_and_buttons(html: &mut String, users: &[EmulatedUser], signed_in: Option<&EmulatedUser>) {
    if users.is_empty() {
        html.push_str(
            "<p id=\"x-no-users\">The emulator has no X accounts yet: create one through its control API.</p>\n",
        );
    } else {
        html.push_str("<label for=\"x-user\">Account</label>\n<select id=\"x-user\" name=\"user_id\">\n");
        for user in users {
            let selected = if signed_in.is_some_and(|s| s.id == user.id) { " selected" } else { "" };
            let _ = writeln!(
                html,
                r#"<option value="{id}"{selected}>@{username} ({name})</option>"#,
                id = escape(&user.id),
                username = escape(&user.username),
                name = escape(&user.name)
            );
        }
        html.push_str("</select>\n");
    }
    let disabled = if users.is_empty() { " disabled" } else { "" };
    let _ = write!(
        html,
        r#"<div class="buttons">
<button type="submit" name="action" value="authorize" id="x-authorize"{disabled}>Authorize app</button>
<button type="submit" name="action" value="cancel" id="x-cancel" class="secondary">Cancel</button>
</div>
</form>
</main>
</body>
</html>
"#
    );
}

/// Short wording close to X's consent screen.
fn scope_description(scope: &str) -> &'static str {
    match scope {
        "tweet.read" => "Read posts you can see, including from protected accounts.",
        "tweet.write" => "Post and repost for you.",
        "users.read" => "Read any account you can see.",
        "offline.access" => "Stay connected to your account until you revoke access.",
        "media.write" => "Upload media for you.",
        "users.email" => "See your email address.",
        _ => "Access granted by this scope.",
    }
}

const STYLE: &str = "<style>body{font-family:system-ui,sans-serif;background:#f7f9f9;margin:0}\
.card{max-width:32rem;margin:3rem auto;background:#fff;border-radius:1rem;padding:2rem;box-shadow:0 1px 4px #0002}\
.brand{font-weight:700}h1{font-size:1.4rem}h2{font-size:1rem}select{width:100%;padding:.5rem;margin:.5rem 0 1rem}\
.buttons{display:flex;gap:.5rem}button{flex:1;padding:.75rem;border-radius:2rem;border:0;background:#0f1419;color:#fff;font-weight:700}\
button.secondary{background:#fff;color:#0f1419;border:1px solid #cfd9de}</style>";

/// Escapes text for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
