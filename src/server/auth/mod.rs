//! Dashboard users: signing in and out, the one-time setup, and the gate in
//! front of every route — who is asking, whether they may be here, and
//! whether a state-changing request came from one of our own pages (CSRF).
//!
//! Sessions live in the tower-sessions SQLite store (HttpOnly, SameSite=Lax,
//! Secure over https, ended by inactivity; see `server::web::router`). The session
//! holds only the user's id; the user is loaded per request, so a removed
//! user or a changed role takes effect at once.

pub mod password;
mod permit;
pub mod routes;

pub use permit::{ActOn, OnAccount, Permit, Reconnect};

use crate::domain::access::{decide, Decision, Permission, Principal};
use crate::server::config::PeopleConfig;
use crate::server::db::users::{self, User};
use crate::server::x::now_ms;
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;
use tower_sessions::Session;

/// Session key of the signed-in user's id.
pub const USER: &str = "authwatch.user";

/// The signed-in user, if any: put in every request's extensions by [`gate`].
#[derive(Clone, Default)]
pub struct CurrentUser(pub Option<Arc<User>>);

impl CurrentUser {
    pub fn principal(&self) -> Principal<'_> {
        match &self.0 {
            Some(u) => Principal::User { id: &u.id, role: u.role },
            None => Principal::Anonymous,
        }
    }
}

/// Session key of when the user signed in (ms): the absolute lifetime counts from it.
const SIGNED_IN_AT: &str = "authwatch.signed_in_at";
/// Session key of the last request seen (ms), refreshed at most every
/// [`touch_every`]: saving it is what moves the store's inactivity expiry.
const SEEN_AT: &str = "authwatch.seen_at";

/// Starts a signed-in session for `user`: a new session id (no fixation),
/// keeping what the session held (a reconnect in flight).
pub async fn start_session(session: &Session, user: &User) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    let now = now_ms();
    session.insert(SIGNED_IN_AT, now).await?;
    session.insert(SEEN_AT, now).await?;
    session.insert(USER, &user.id).await
}

/// How stale the last-seen time may get before a request writes it again:
/// a minute (a tenth of the idle limit when that is shorter), so that a
/// session ends within a minute of its idle limit without a database write
/// on every request. tower-sessions itself only moves a session's expiry
/// when the session is saved, and an unchanged session is not.
fn touch_every(people: &PeopleConfig) -> i64 {
    (people.session_idle.as_millis() as i64 / 10).clamp(1, 60_000)
}

/// Whether a signed-in session may go on at `now`: younger than the absolute
/// lifetime and not idle past the limit (keeping the last-seen time fresh).
/// A session without these times predates them and is ended.
async fn still_alive(session: &Session, people: &PeopleConfig, now: i64) -> bool {
    let (Ok(Some(signed_in_at)), Ok(Some(seen_at))) =
        (session.get::<i64>(SIGNED_IN_AT).await, session.get::<i64>(SEEN_AT).await)
    else {
        return false;
    };
    let max_ms = people.session_max.as_millis() as i64;
    let idle_ms = people.session_idle.as_millis() as i64;
    if now - signed_in_at >= max_ms || now - seen_at >= idle_ms {
        return false;
    }
    if now - seen_at >= touch_every(people) {
        if let Err(e) = session.insert(SEEN_AT, now).await {
            tracing::warn!(error = %e, "recording a session's last request");
        }
    }
    true
}

/// Paths anyone may reach. Everything else needs a signed-in user (pages
/// redirect to the sign-in page, everything else answers 401).
fn is_public(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/sign-in",
        "/setup",
        "/connect/result",
        "/healthz",
        "/metrics",
        "/favicon.ico",
        "/auth/sign-in",
        "/auth/sign-out",
        "/auth/setup",
        // These check themselves: a reconnect link or a signed-in user may
        // start; a callback needs the attempt kept in this browser's session.
        "/auth/x/start",
        "/auth/x/callback",
        "/auth/x1/callback",
    ];
    const PREFIXES: &[&str] = &["/pkg/", "/r/", "/api/public/"];
    EXACT.contains(&path) || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// In front of the demo emulator's control API: admins only (after [`gate`]
/// has checked the origin and loaded the user).
pub async fn require_admin(request: Request, next: Next) -> Response {
    let user = request.extensions().get::<CurrentUser>().cloned().unwrap_or_default();
    match decide(user.principal(), Permission::Administer) {
        Decision::Allow => next.run(request).await,
        Decision::SignIn => (StatusCode::UNAUTHORIZED, "Sign in first.").into_response(),
        Decision::Forbidden => {
            (StatusCode::FORBIDDEN, "Only an admin can control the demo's X emulator.").into_response()
        }
    }
}

/// The middleware in front of every route of the pages' router. (The
/// pipeline API under `/api/v1` and the demo emulator's X endpoints are
/// nested outside it: the one authenticates with a bearer key, never a
/// cookie, the other is open as X's are. The emulator's control API is
/// inside: an admin's tool, behind sign-in and the origin check.)
pub async fn gate(State(state): State<AppState>, session: Session, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Err(why) = same_origin(request.headers(), &state) {
            tracing::warn!(path, why, "cross-site request refused");
            return (StatusCode::FORBIDDEN, "This request did not come from an authwatch page, so it was refused (CSRF protection). Reload the page and try again.")
                .into_response();
        }
    }

    let user = match session.get::<String>(USER).await {
        Ok(Some(_)) if !still_alive(&session, &state.config.people, now_ms()).await => {
            // Past its absolute lifetime, or idle for too long: sign in again.
            let _ = session.flush().await;
            None
        }
        Ok(Some(id)) => match users::by_id(&state.pool, &id).await {
            Ok(Some(user)) => Some(Arc::new(user)),
            Ok(None) => {
                // The user was removed: end the session.
                let _ = session.flush().await;
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "loading the signed-in user");
                return (StatusCode::SERVICE_UNAVAILABLE, "The database is unavailable; try again shortly.")
                    .into_response();
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "reading the session");
            None
        }
    };
    let signed_in = user.is_some();
    request.extensions_mut().insert(CurrentUser(user));
    if signed_in || is_public(&path) {
        return next.run(request).await;
    }
    // Pages send the browser to the sign-in page; the API and the live
    // stream, which no person opens, answer 401.
    if request.method() == Method::GET && !path.starts_with("/api/") && path != crate::server::live::PATH {
        // Nobody can sign in yet: the one-time setup creates the first admin.
        if matches!(users::any(&state.pool).await, Ok(false)) {
            return Redirect::to("/setup").into_response();
        }
        let back = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let target =
            format!("/sign-in?next={}", url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>());
        return Redirect::to(&target).into_response();
    }
    (StatusCode::UNAUTHORIZED, "Sign in first.").into_response()
}

/// Whether a state-changing request came from our own origin. Browsers send
/// `Origin` on every cross-site POST (and on same-site ones from fetch and
/// forms); it must name authwatch's public origin (`AUTHWATCH_PUBLIC_URL`) —
/// never whatever the request's own `Host` says, which a DNS-rebinding page
/// controls. Without it, `Sec-Fetch-Site` or the `Referer` must say the
/// same. A request with none of them is refused: every browser sends one.
fn same_origin(headers: &HeaderMap, state: &AppState) -> Result<(), &'static str> {
    let public = state.config.public_url.origin().ascii_serialization();
    let matches = |origin: &str| origin == public;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| "unreadable Origin")?;
        return if matches(origin) { Ok(()) } else { Err("foreign Origin") };
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return if site.as_bytes() == b"same-origin" { Ok(()) } else { Err("cross-site Sec-Fetch-Site") };
    }
    if let Some(referer) =
        headers.get(header::REFERER).and_then(|r| r.to_str().ok()).and_then(|r| url::Url::parse(r).ok())
    {
        return if matches(&referer.origin().ascii_serialization()) { Ok(()) } else { Err("foreign Referer") };
    }
    Err("no Origin, Sec-Fetch-Site or Referer")
}
