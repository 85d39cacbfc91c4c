//! `POST /auth/sign-in`, `POST /auth/sign-out`, `POST /auth/setup`: plain
//! form posts, so signing in works before (or without) the page's wasm.
//! Each answers with a redirect; errors go back to the form as a short code
//! in the query, which the page turns into a sentence.

use super::{password, start_session};
use crate::domain::access::{throttled, THROTTLE_WINDOW_MS};
use crate::domain::redirect::local_path;
use crate::server::db::sign_in::{self, AttemptId, Reservation};
use crate::server::db::users;
use crate::server::x::now_ms;
use crate::server::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use std::net::SocketAddr;
use tower_sessions::Session;
use url::{Position, Url};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/sign-in", post(sign_in_form))
        .route("/auth/sign-out", post(sign_out))
        .route("/auth/setup", post(setup))
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Where to go after signing in, as a path: `next` if it is a plain path
/// on this site ([`local_path`]) that, resolved against the public URL
/// (`AUTHWATCH_PUBLIC_URL`), keeps its origin and stays under its path; `/`
/// otherwise.
fn safe_next(next: &str, public_url: &Url) -> String {
    let Some(path) = local_path(next) else { return "/".into() };
    let Ok(resolved) = public_url.join(path) else { return "/".into() };
    let prefix = public_url.path().trim_end_matches('/');
    let under_prefix =
        resolved.path().strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    // Resolving can make a path anew (`/..//evil.example` becomes
    // `//evil.example`): what is sent is judged again.
    match &resolved[Position::BeforePath..] {
        path if resolved.origin() == public_url.origin() && under_prefix && local_path(path).is_some() => {
            path.to_owned()
        }
        _ => "/".into(),
    }
}

fn back_to_sign_in(error: &str, next: &str, public_url: &Url) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(safe_next(next, public_url).as_bytes()).collect();
    Redirect::to(&format!("/sign-in?error={error}&next={next}")).into_response()
}

/// Gives back an attempt whose password was not checked.
async fn release(state: &AppState, attempt: AttemptId) {
    if let Err(e) = sign_in::release(&state.pool, attempt).await {
        tracing::error!(error = %e, "giving back an unchecked sign-in attempt");
    }
}

/// The client's address: the connection's, or — behind `hops` trusted
/// proxies — the `X-Forwarded-For` entry the outermost of them appended.
/// Entries further left are the client's own claims and are never used.
fn client_ip(peer: SocketAddr, headers: &HeaderMap, hops: usize) -> String {
    if hops == 0 {
        return peer.ip().to_string();
    }
    let chain: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    match chain.len().checked_sub(hops) {
        Some(i) => chain[i].to_owned(),
        // Fewer entries than proxies: not through them all; the nearest is the best we know.
        None => chain.first().map(|s| (*s).to_owned()).unwrap_or_else(|| peer.ip().to_string()),
    }
}

async fn sign_in_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let public_url = &state.config.public_url;
    let email = users::normalize_email(&form.email);
    let ip = client_ip(peer, &headers, state.config.people.forwarded_for_hops);
    let now = now_ms();
    if email.is_empty() || form.password.is_empty() || email.len() > 320 || form.password.len() > 1024 {
        return back_to_sign_in("missing", &form.next, public_url);
    }
    // The attempt is counted before its password is checked, so a burst of
    // concurrent guesses gets no more checks than the budget.
    let since = now - THROTTLE_WINDOW_MS;
    let attempt =
        match sign_in::reserve(&state.pool, &email, &ip, now, since, |by_email, by_ip| throttled(by_email, by_ip, now))
            .await
        {
            Ok(Reservation::Reserved(attempt)) => attempt,
            Ok(Reservation::Refused { wait_ms }) => {
                tracing::warn!(%ip, "sign-in throttled");
                let minutes = (wait_ms + 59_999) / 60_000;
                return back_to_sign_in(&format!("throttled-{minutes}"), &form.next, public_url);
            }
            Err(e) => {
                tracing::error!(error = %e, "reserving a sign-in attempt");
                return back_to_sign_in("unavailable", &form.next, public_url);
            }
        };
    let found = match users::credentials(&state.pool, &email).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "loading a user to sign in");
            release(&state, attempt).await;
            return back_to_sign_in("unavailable", &form.next, public_url);
        }
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let ok = match state.passwords.verify(form.password, hash).await {
        Ok(ok) => ok,
        Err(password::Busy) => {
            tracing::warn!(%ip, "sign-in answered busy: every argon2 slot is taken");
            release(&state, attempt).await;
            return back_to_sign_in("busy", &form.next, public_url);
        }
    };
    match user.filter(|_| ok) {
        Some(user) => {
            if let Err(e) = sign_in::clear_email(&state.pool, &email).await {
                tracing::warn!(error = %e, "clearing sign-in failures");
            }
            if let Err(e) = start_session(&session, &user).await {
                tracing::error!(error = %e, "starting a session");
                return back_to_sign_in("unavailable", &form.next, public_url);
            }
            tracing::info!(user_id = %user.id, "signed in");
            Redirect::to(&safe_next(&form.next, public_url)).into_response()
        }
        // The reserved attempt stays: it is the failure.
        None => back_to_sign_in("invalid", &form.next, public_url),
    }
}

async fn sign_out(session: Session) -> Response {
    if let Err(e) = session.flush().await {
        tracing::error!(error = %e, "ending a session");
    }
    Redirect::to("/sign-in?signed_out=1").into_response()
}

#[derive(Deserialize)]
struct SetupForm {
    email: String,
    name: String,
    password: String,
    confirm: String,
}

/// Creates the first admin — only while nobody can sign in.
async fn setup(State(state): State<AppState>, session: Session, Form(form): Form<SetupForm>) -> Response {
    let back = |error: &str| Redirect::to(&format!("/setup?error={error}")).into_response();
    match users::any(&state.pool).await {
        Ok(false) => {}
        Ok(true) => return Redirect::to("/sign-in?error=set-up").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "setup: counting users");
            return back("unavailable");
        }
    }
    let email = users::normalize_email(&form.email);
    if !email.contains('@') || email.len() > 320 {
        return back("email");
    }
    if form.name.trim().is_empty() || form.name.len() > 200 {
        return back("name");
    }
    if form.password != form.confirm {
        return back("mismatch");
    }
    let hash = match state.passwords.hash(form.password).await {
        Ok(h) => h,
        Err(password::PasswordError::TooShort) => return back("short"),
        Err(password::PasswordError::Busy(_)) => return back("busy"),
        Err(e) => {
            tracing::error!(error = %e, "setup: hashing");
            return back("unavailable");
        }
    };
    match users::add_first_admin(&state.pool, &email, &form.name, &hash, now_ms()).await {
        // Two set-ups raced and the other was first.
        Ok(None) => Redirect::to("/sign-in?error=set-up").into_response(),
        Ok(Some(user)) => {
            tracing::info!(user_id = %user.id, "first admin created");
            if let Err(e) = start_session(&session, &user).await {
                tracing::error!(error = %e, "setup: starting a session");
                return Redirect::to("/sign-in").into_response();
            }
            Redirect::to("/").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "setup: adding the admin");
            back("unavailable")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{client_ip, safe_next};
    use axum::http::HeaderMap;

    #[test]
    fn the_client_address_comes_from_the_trusted_proxies_only() {
        let peer: std::net::SocketAddr = "10.0.0.2:5555".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        assert_eq!(client_ip(peer, &headers, 0), "10.0.0.2", "no proxy trusted: the header is ignored");
        assert_eq!(client_ip(peer, &headers, 1), "203.0.113.7", "one proxy: the entry it appended");
        assert_eq!(client_ip(peer, &headers, 2), "6.6.6.6");
        assert_eq!(client_ip(peer, &HeaderMap::new(), 1), "10.0.0.2");
    }

    #[test]
    fn next_stays_on_this_site() {
        let public: url::Url = "http://127.0.0.1:3000".parse().unwrap();
        let kept = [
            ("/", "/"),
            ("/accounts/acc_1", "/accounts/acc_1"),
            ("/?health=reconnect&search=acme%20news", "/?health=reconnect&search=acme%20news"),
            ("/users#add", "/users#add"),
            ("/?search=acme news", "/?search=acme%20news"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            // Dot segments are resolved the way a browser would.
            ("/accounts/../users", "/users"),
            ("/..//evil.example", "/"),
        ];
        for (next, want) in kept {
            assert_eq!(safe_next(next, &public), want, "{next:?}");
        }
        let hostile = [
            "",
            "/\t/evil.example",
            "/\tevil",
            "/\r\n/evil.example",
            "/%09/evil.example",
            "/%2F/evil.example",
            "\\\\evil",
            "/\\evil.example",
            "//evil",
            "//evil.example/x",
            "https://evil",
            "https://evil.example",
            "http://127.0.0.1:3000/users",
            "javascript:alert(1)",
            "data:text/html,x",
            "users",
        ];
        for next in hostile {
            assert_eq!(safe_next(next, &public), "/", "{next:?}");
        }
    }

    #[test]
    fn next_stays_under_the_public_path() {
        let public: url::Url = "https://ops.example.com/authwatch/".parse().unwrap();
        assert_eq!(safe_next("/authwatch/accounts/acc_1", &public), "/authwatch/accounts/acc_1");
        assert_eq!(safe_next("/authwatch", &public), "/authwatch");
        assert_eq!(safe_next("/other-app/admin", &public), "/");
        assert_eq!(safe_next("/authwatch-evil/x", &public), "/");
        assert_eq!(safe_next("/authwatch/../other-app", &public), "/");
    }
}
