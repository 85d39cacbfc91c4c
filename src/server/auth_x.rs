//! Connecting and reconnecting X accounts in the browser: `POST /auth/x/start`
//! sends the person to X, `GET /auth/x/callback` is where X sends them back
//! (OAuth 2.0), `GET /auth/x1/callback` for X's older OAuth 1.0a flow
//! (`flow=oauth1`, whose request token stands in for the `state`).
//!
//! Each attempt gets a fresh `state` and PKCE verifier, kept server-side in
//! the person's session (tower-sessions, SQLite store), bound to what is being
//! connected and who started it. An attempt is single use and expires
//! (`AUTHWATCH_OAUTH_ATTEMPT_TTL_SECS`, ten minutes by default). Whatever goes wrong, no stored token changes, and the person
//! lands on a page that says what happened.
//!
//! Only a request that matched an attempt of this browser — which therefore
//! has a session already — leaves its result in the session, and only then
//! is anything X sent (its `error`) shown. Anything else is answered with a
//! fixed [`ConnectProblem`] code in the result page's address: a stranger's
//! request creates no session row and cannot put words on our pages.

use crate::api::dto::{ConnectProblem, Flash, FlashKind};
use crate::domain::access::{decide, AccountOwners, Decision, Permission, Principal};
use crate::domain::flow::Flow;
use crate::server::auth::CurrentUser;
use crate::server::crypto::Sealed;
use crate::server::db::{accounts, links};
use crate::server::lifecycle::connect::{self, Completed, ConnectError, Intent};
use crate::server::links::LinkProblem;
use crate::server::secret::Secret;
use crate::server::x::{now_ms, XError};
use crate::server::AppState;
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// Session key of the attempts in flight.
const PENDING: &str = "authwatch.oauth.pending";
/// Session key of the result to show on the next page.
pub const FLASH: &str = "authwatch.flash";
/// Attempts kept per session (several tabs); the oldest is dropped beyond it.
const MAX_PENDING: usize = 5;
/// X allows 500 characters of state; anything longer is not ours.
const MAX_PARAM: usize = 2048;

/// One authorization in flight.
#[derive(Clone, Serialize, Deserialize)]
struct PendingAuthorization {
    /// OAuth 2.0's `state`; for OAuth 1.0a, the request token, which X
    /// sends back to the callback as `oauth_token` (or `denied`).
    state: String,
    /// OAuth 2.0's PKCE verifier; for OAuth 1.0a, the request token's
    /// secret, sealed: X issued it, and the session store is a database table.
    verifier: String,
    /// The key that sealed an OAuth 1.0a request token's secret.
    #[serde(default)]
    sealed_with: Option<String>,
    /// Which flow it is: an attempt is answered on its own flow's callback only.
    #[serde(default)]
    flow: Flow,
    /// `None` for a new account.
    reconnect: Option<ReconnectTarget>,
    /// Who started it, for the timeline: a user's email, or `link <id>`.
    started_by: String,
    /// The dashboard user who started it: they own what they connect.
    user_id: Option<String>,
    /// The reconnect link it was started from, spent when it succeeds.
    link_id: Option<String>,
    created_at: i64,
}

#[derive(Clone, Serialize, Deserialize)]
struct ReconnectTarget {
    account_id: String,
    x_user_id: String,
    handle: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/x/start", post(start))
        .route("/auth/x/callback", get(callback))
        .route("/auth/x1/callback", get(callback_oauth1))
}

/// The form on the reconnect, connect and reconnect-link pages.
#[derive(Deserialize)]
struct StartForm {
    /// Absent for a new account.
    account_id: Option<String>,
    /// The secret part of a reconnect link, when started from one.
    link: Option<String>,
    /// `oauth1` for OAuth 1.0a; OAuth 2.0 otherwise.
    flow: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    session: Session,
    Form(form): Form<StartForm>,
) -> Response {
    // A reconnect link stands in for a signed-in user, for its account only.
    let link = match form.link.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(secret) => match crate::server::links::find_usable(&state, secret).await {
            Ok(link) => Some(link),
            Err(why) => {
                return refuse(match why {
                    LinkProblem::Unknown => ConnectProblem::LinkUnknown,
                    LinkProblem::Used(_) => ConnectProblem::LinkUsed,
                    LinkProblem::Expired(_) => ConnectProblem::LinkExpired,
                    LinkProblem::Unavailable => ConnectProblem::LinkUnavailable,
                })
            }
        },
    };
    let account_id = link.as_ref().map(|l| l.account_id.clone()).or(form.account_id.filter(|id| !id.is_empty()));
    let (reconnect, owners) = match account_id {
        None => (None, None),
        Some(id) => match accounts::summary(&state.pool, &id).await {
            Ok(Some(a)) => {
                let owners = (a.owner_id.clone(), a.backup_owner_id.clone());
                (Some(ReconnectTarget { account_id: a.id, x_user_id: a.x_user_id, handle: a.handle }), Some(owners))
            }
            Ok(None) => return refuse(ConnectProblem::NoAccount),
            Err(e) => {
                tracing::error!(error = %e, "loading the account to reconnect");
                return refuse(ConnectProblem::Unavailable);
            }
        },
    };
    let principal = match &link {
        Some(l) => Principal::LinkHolder { account_id: &l.account_id },
        None => user.principal(),
    };
    let permission = match (&reconnect, &owners) {
        (Some(target), Some((owner, backup))) => Permission::Reconnect(AccountOwners {
            id: &target.account_id,
            owner: owner.as_deref(),
            backup_owner: backup.as_deref(),
        }),
        _ => Permission::ConnectNew,
    };
    match decide(principal, permission) {
        Decision::Allow => {}
        Decision::SignIn => {
            return (StatusCode::UNAUTHORIZED, "Sign in first, or use a reconnect link.").into_response()
        }
        Decision::Forbidden => {
            return (StatusCode::FORBIDDEN, "Only the account's owner, its backup owner or an admin can reconnect it.")
                .into_response()
        }
    }
    let flow = match form.flow.as_deref().filter(|f| !f.is_empty()) {
        None => Flow::OAuth2,
        Some(f) => match Flow::parse(f) {
            Some(flow) => flow,
            None => {
                return (StatusCode::BAD_REQUEST, "Unknown OAuth flow: choose OAuth 2.0 or OAuth 1.0a.").into_response()
            }
        },
    };
    let retry = reconnect.as_ref().filter(|_| link.is_none()).map(|r| r.account_id.clone());
    let (to, attempt_state, attempt_verifier, sealed_with) = match flow {
        Flow::OAuth2 => {
            let auth = state.x.authorize(&state.x.app().required_scopes);
            (auth.url, auth.state.expose().to_owned(), auth.verifier.expose().to_owned(), None)
        }
        Flow::OAuth1 if state.x.oauth1().is_none() => {
            return (StatusCode::BAD_REQUEST, "This X app does not offer OAuth 1.0a here: connect with OAuth 2.0.")
                .into_response()
        }
        Flow::OAuth1 => {
            // The first leg is a call to X: its refusal is shown now.
            let request = match state.x.request_token().await {
                Ok(request) => request,
                Err(e) => {
                    let link_hint = if link.is_some() { " Open your reconnect link again to retry." } else { "" };
                    let message = x_problem("asking X for a request token", &e) + link_hint;
                    return problem(&session, "X refused to start the sign-in", &message, retry).await;
                }
            };
            let url = match state.x.oauth1_authorize_url(&request.token) {
                Ok(url) => url,
                Err(_) => return refuse(ConnectProblem::Unavailable),
            };
            let sealed = state.keyring.seal(&request.secret, &request_token_context(&request.token));
            (url, request.token, sealed.ciphertext, Some(sealed.key_id))
        }
    };
    let attempt = PendingAuthorization {
        state: attempt_state,
        verifier: attempt_verifier,
        sealed_with,
        flow,
        reconnect,
        started_by: match (&link, &user.0) {
            (Some(l), _) => format!("reconnect link {}", l.id),
            (None, Some(u)) => u.email.clone(),
            (None, None) => "anonymous".to_owned(),
        },
        user_id: if link.is_some() { None } else { user.0.as_ref().map(|u| u.id.clone()) },
        link_id: link.map(|l| l.id),
        created_at: now_ms(),
    };
    let mut pending: Vec<PendingAuthorization> = session.get(PENDING).await.ok().flatten().unwrap_or_default();
    let ttl = ttl_ms(&state);
    pending.retain(|a| now_ms() - a.created_at < ttl);
    pending.push(attempt);
    if pending.len() > MAX_PENDING {
        pending.remove(0);
    }
    if let Err(e) = session.insert(PENDING, pending).await {
        tracing::error!(error = %e, "storing the authorization attempt");
        return refuse(ConnectProblem::Unavailable);
    }
    Redirect::to(to.as_str()).into_response()
}

/// X's answer to an OAuth 1.0a attempt: `oauth_token` and `oauth_verifier`,
/// or `denied=<request token>` when the person clicked Cancel.
async fn callback_oauth1(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > 4 * MAX_PARAM {
        return refuse(ConnectProblem::TooLong);
    }
    let (mut token, mut verifier, mut denied) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if v.len() > MAX_PARAM {
            return refuse(ConnectProblem::TooLong);
        }
        match k.as_ref() {
            "oauth_token" => token = Some(v.into_owned()),
            "oauth_verifier" => verifier = Some(v.into_owned()),
            "denied" => denied = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(returned) = denied.clone().or(token) else {
        return refuse(ConnectProblem::NoState);
    };
    let Some(attempt) = take_attempt(&session, &returned, Flow::OAuth1).await else {
        tracing::warn!(
            token_len = returned.len(),
            "1.0a callback with an unknown, expired, used or foreign request token"
        );
        return refuse(ConnectProblem::UnknownState);
    };
    let answer = match (denied, verifier) {
        (Some(_), _) => Err(XSaid::Cancelled),
        (None, Some(verifier)) => Ok(Returned::Verifier(verifier)),
        (None, None) => Err(XSaid::Incomplete("X's answer had no verifier.")),
    };
    answered(&state, &session, attempt, answer).await
}

async fn callback(State(state): State<AppState>, session: Session, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > 4 * MAX_PARAM {
        return refuse(ConnectProblem::TooLong);
    }
    let mut code = None;
    let mut returned_state = None;
    let mut error = None;
    let mut error_description = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if v.len() > MAX_PARAM {
            return refuse(ConnectProblem::TooLong);
        }
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => returned_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => error_description = Some(v.into_owned()),
            _ => {}
        }
    }

    // Find and spend the attempt: whatever follows, this state is used up.
    let Some(returned_state) = returned_state else {
        return refuse(ConnectProblem::NoState);
    };
    let Some(attempt) = take_attempt(&session, &returned_state, Flow::OAuth2).await else {
        // Not an answer to anything this browser started: whatever else the
        // address says (an `error` included) is a stranger's, and not shown.
        tracing::warn!(state_len = returned_state.len(), "callback with an unknown, expired, used or foreign state");
        return refuse(ConnectProblem::UnknownState);
    };
    let answer = match (error, code) {
        (Some(error), _) if error == "access_denied" => Err(XSaid::Cancelled),
        (Some(error), _) => Err(XSaid::Error { error, description: error_description }),
        (None, Some(code)) => Ok(Returned::Code(code)),
        (None, None) => Err(XSaid::Incomplete("X's answer had no authorization code.")),
    };
    answered(&state, &session, attempt, answer).await
}

/// What X sent back to a live attempt instead of a grant.
enum XSaid {
    /// The person clicked Cancel on X.
    Cancelled,
    /// X's `error` (OAuth 2.0).
    Error { error: String, description: Option<String> },
    /// Something was missing.
    Incomplete(&'static str),
}

/// What X sent back to finish with.
enum Returned {
    /// OAuth 2.0's authorization code.
    Code(String),
    /// OAuth 1.0a's `oauth_verifier`.
    Verifier(String),
}

/// Finishes a live attempt with X's answer: the same steps for both flows.
async fn answered(
    state: &AppState,
    session: &Session,
    attempt: PendingAuthorization,
    answer: Result<Returned, XSaid>,
) -> Response {
    // "Try again" leads back to the account's reconnect page; someone who
    // came by a link has no dashboard, and opens their link again instead.
    let retry = attempt.reconnect.as_ref().filter(|_| attempt.link_id.is_none()).map(|r| r.account_id.clone());

    if now_ms() - attempt.created_at >= ttl_ms(state) {
        let minutes = state.config.oauth_attempt_ttl.as_secs().div_ceil(60);
        let message = format!("More than {minutes} min passed since it started. Nothing changed. Start again.");
        return problem(session, "This sign-in has expired", &message, retry).await;
    }
    // The attempt was live: this is X's answer, and X's words are worth showing.
    let returned = match answer {
        Ok(returned) => returned,
        Err(XSaid::Cancelled) => {
            let message = "You clicked Cancel on X, so nothing changed. Start again when you are ready.";
            return problem(session, "Authorization cancelled", message, retry).await;
        }
        Err(XSaid::Error { error, description }) => {
            let said = match description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                Some(description) => format!("“{}” ({})", truncate(&error, 100), truncate(description, 300)),
                None => format!("“{}”", truncate(&error, 100)),
            };
            let message =
                format!("X answered {said} instead of a code, so nothing changed. Start again from the account.");
            return problem(session, "X did not authorize the sign-in", &message, retry).await;
        }
        Err(XSaid::Incomplete(what)) => {
            let message = format!("{what} Nothing changed. Start again.");
            return problem(session, "This sign-in answer is incomplete", &message, retry).await;
        }
    };

    // A link is spent by the reconnect that goes through it: claim it now
    // (so two tabs cannot both use it), give it back if nothing is saved.
    let claimed = match &attempt.link_id {
        None => None,
        Some(id) => {
            let at = now_ms();
            match links::claim(&state.pool, id, at).await {
                Ok(true) => Some((id.clone(), at)),
                Ok(false) => {
                    return problem(
                        session,
                        "This reconnect link no longer works",
                        "It was used already, or it expired while you were at X. Nothing changed. Ask for a new link.",
                        None,
                    )
                    .await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming a reconnect link");
                    return problem(session, "Something went wrong", "Nothing changed. Open your link again.", None)
                        .await;
                }
            }
        }
    };
    let outcome = finish(state, session, &attempt, &returned, retry).await;
    if let (Some((id, at)), false) = (&claimed, outcome.saved) {
        if let Err(e) = links::release(&state.pool, id, *at).await {
            tracing::error!(error = %e, "giving back a reconnect link");
        }
    }
    outcome.response
}

struct Finished {
    saved: bool,
    response: Response,
}

/// Exchanges the code and saves (or refuses), then answers with the page
/// that says so.
async fn finish(
    state: &AppState,
    session: &Session,
    attempt: &PendingAuthorization,
    returned: &Returned,
    retry: Option<String>,
) -> Finished {
    let intent = match &attempt.reconnect {
        None => Intent::NewAccount,
        Some(r) => Intent::Reconnect {
            account_id: r.account_id.clone(),
            x_user_id: r.x_user_id.clone(),
            handle: r.handle.clone(),
        },
    };
    let via_link = attempt.link_id.is_some();
    let link_hint = if via_link { " Open your reconnect link again to retry." } else { "" };
    let failed = |response| Finished { saved: false, response };
    // Only a signed-in user starts a new connect (`start` checked); without
    // one, `complete` would take the connect for authwatch's own.
    if intent == Intent::NewAccount && attempt.user_id.is_none() {
        return failed(
            problem(session, "Sign in first", "Connecting an account needs a signed-in user. Nothing changed.", None)
                .await,
        );
    }
    let verifier = match &attempt.sealed_with {
        None => Secret::new(attempt.verifier.clone()),
        Some(key_id) => {
            let sealed = Sealed { key_id: key_id.clone(), ciphertext: attempt.verifier.clone() };
            match state.keyring.open(&sealed, &request_token_context(&attempt.state)) {
                Ok(secret) => secret,
                Err(e) => {
                    tracing::error!(error = %e, "opening a request token's secret");
                    let message =
                        format!("The sign-in could not be finished here. Nothing changed. Start again.{link_hint}");
                    return failed(problem(session, "Something went wrong", &message, retry).await);
                }
            }
        }
    };
    let (actor, owner) = (attempt.started_by.as_str(), attempt.user_id.as_deref());
    let completed = match returned {
        Returned::Code(code) => connect::complete(state, code, &verifier, &intent, actor, owner).await,
        Returned::Verifier(oauth_verifier) => {
            connect::complete_oauth1(state, &attempt.state, &verifier, oauth_verifier, &intent, actor, owner).await
        }
    };
    let exchanging = match returned {
        Returned::Code(_) => "exchanging the authorization code",
        Returned::Verifier(_) => "exchanging the approved request token",
    };
    match completed {
        Ok(Completed::Saved { connected, handle, missing_scopes }) => {
            // Posts held while the account needed a person can go out now.
            crate::server::pipeline::after_reconnect(state, &connected.account_id);
            let verb = if connected.reconnected { "Reconnected" } else { "Connected" };
            // Someone who came by a link sees the result, not the dashboard.
            let account_id = (!via_link).then(|| connected.account_id.clone());
            let flash = if missing_scopes.is_empty() {
                Flash {
                    kind: FlashKind::Success,
                    title: format!("{verb} @{handle}"),
                    message: format!("The new tokens are saved (generation {}). The account can publish.", connected.generation),
                    account_id,
                    retry_account: None,
                }
            } else {
                Flash {
                    kind: FlashKind::Warning,
                    title: format!("{verb} @{handle}, but a permission is missing"),
                    message: format!(
                        "X did not grant {}. The tokens are saved, but the account cannot do everything authwatch requires. Reconnect and grant it; if X does not offer it, the X app's permissions need changing.",
                        missing_scopes.join(", ")
                    ),
                    retry_account: account_id.clone(),
                    account_id,
                }
            };
            set_flash(session, flash).await;
            Finished { saved: true, response: Redirect::to(if via_link { "/connect/result" } else { "/" }).into_response() }
        }
        Ok(Completed::WrongAccount { signed_in_as, expected, revoked }) => failed(
            problem(
                session,
                "Wrong X account",
                &format!(
                    "You signed in to X as @{signed_in_as}, but this reconnect is for @{expected}. Sign out of X (or switch account) and try again. Nothing was saved{}.{link_hint}",
                    if revoked { format!(", and the sign-in as @{signed_in_as} was revoked") } else { format!(", and the token for @{signed_in_as} was thrown away") }
                ),
                retry,
            )
            .await,
        ),
        Err(ConnectError::Exchange(e)) => {
            failed(problem(session, "X refused the sign-in", &(x_problem(exchanging, &e) + link_hint), retry).await)
        }
        Err(ConnectError::Identify(e)) => failed(
            problem(session, "X did not say whose account this is", &(x_problem("asking X which account signed in", &e) + link_hint), retry).await,
        ),
        Err(ConnectError::NotAllowed { handle, owners }) => {
            let ask = match owners.as_slice() {
                [] => "an admin".to_owned(),
                [one] => format!("{one} or an admin"),
                [one, two, ..] => format!("{one}, {two} or an admin"),
            };
            failed(problem(
                session,
                "This account is not yours to reconnect",
                &format!(
                    "You signed in to X as @{handle}, which authwatch already watches, and only its owner, its backup owner or an admin can reconnect it. Nothing was saved, and the sign-in as @{handle} was revoked. Ask {ask} to reconnect it, or to make you its owner."
                ),
                None,
            )
            .await)
        }
        Err(ConnectError::Store(e)) => {
            tracing::error!(error = %e, "saving a connect");
            failed(problem(session, "Something went wrong", &format!("The new tokens could not be saved; the old ones are unchanged. Try again.{link_hint}"), retry).await)
        }
    }
}

/// A sentence for an X failure: what was being done, what X said, what to do.
fn x_problem(doing: &str, e: &XError) -> String {
    match e {
        XError::Rejected { status, body, .. } => format!(
            "While {doing}, X answered HTTP {status}: {}. Nothing changed. Start again from the account.",
            truncate(body, 500)
        ),
        XError::Unreachable { message: why, .. } => {
            format!("While {doing}, X could not be reached ({why}). Nothing changed. Try again in a minute.")
        }
        XError::Malformed(why) => {
            format!("While {doing}, X's answer could not be understood ({why}). Nothing changed.")
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}

/// What a request token's sealed secret is bound to: that request token.
fn request_token_context(request_token: &str) -> String {
    format!("oauth1-request-token/{request_token}")
}

fn ttl_ms(state: &AppState) -> i64 {
    state.config.oauth_attempt_ttl.as_millis() as i64
}

async fn take_attempt(session: &Session, state: &str, flow: Flow) -> Option<PendingAuthorization> {
    let mut pending: Vec<PendingAuthorization> = session.get(PENDING).await.ok().flatten()?;
    let index =
        pending.iter().position(|a| a.flow == flow && constant_time_eq(a.state.as_bytes(), state.as_bytes()))?;
    let attempt = pending.remove(index);
    if let Err(e) = session.insert(PENDING, pending).await {
        tracing::error!(error = %e, "spending the authorization attempt");
        return None;
    }
    Some(attempt)
}

/// Compares without an early exit, so timing says nothing about the state.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn set_flash(session: &Session, flash: Flash) {
    if let Err(e) = session.insert(FLASH, flash).await {
        tracing::error!(error = %e, "storing the result message");
    }
}

/// Sends the person to the result page with a fixed problem, keeping nothing
/// in the session.
fn refuse(problem: ConnectProblem) -> Response {
    Redirect::to(&problem.path()).into_response()
}

/// Records what went wrong for the result page, in the session of the
/// attempt it is about, and sends the person there.
async fn problem(session: &Session, title: &str, message: &str, retry_account: Option<String>) -> Response {
    set_flash(
        session,
        Flash {
            kind: FlashKind::Problem,
            title: title.to_owned(),
            message: message.to_owned(),
            account_id: retry_account.clone(),
            retry_account,
        },
    )
    .await;
    Redirect::to("/connect/result").into_response()
}
