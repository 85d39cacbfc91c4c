//! X's OAuth 2.0 endpoints: the consent page (`/i/oauth2/authorize`), the
//! token endpoint and the revoke endpoint.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::faults::{dropped_response, Call, Endpoint, GrantKind, Mangle};
use super::http::{plan_fault, token_bytes_response, token_response, FaultPlan, Problem, Stamp, JSON, TEXT_PLAIN};
use super::pages;
use super::state::{AuthorizeParams, Issued, TokenError};
use super::tokens::BasicCredentials;
use super::Emulator;

/// The cookie remembering which emulated account is "signed in to X".
const USER_COOKIE: &str = "x_emulator_user";

/// The account "signed in to X" in this browser, if any.
pub(crate) fn signed_in_user(jar: &CookieJar) -> Option<String> {
    jar.get(USER_COOKIE).map(|c| c.value().to_owned())
}

/// Remembers the account that consented, for the next consent page.
pub(crate) fn remember_user(jar: CookieJar, user_id: String) -> CookieJar {
    jar.add(Cookie::build((USER_COOKIE, user_id)).path("/").http_only(true).same_site(SameSite::Lax).build())
}

/// Counts an authorize call (the page, or the consent form when `consent`)
/// and applies its injected fault: `Err` is the fault's answer, `Ok` says
/// to proceed and whether to drop the answer afterwards.
async fn authorize_call(emulator: &Emulator, client_id: Option<&str>, consent: bool) -> Result<bool, Response> {
    let fault = {
        let mut state = emulator.lock();
        let client_id = client_id.filter(|c| state.has_app(c));
        let call = Call { endpoint: Endpoint::Authorize, grant: None, client_id, consent, oauth1: false };
        state.counts.record(&call);
        state.faults.take(&call)
    };
    match plan_fault(fault, error_page_with_status).await {
        FaultPlan::Respond(response) => Err(response),
        FaultPlan::Proceed { drop_after, .. } => Ok(drop_after),
    }
}

/// `GET /i/oauth2/authorize`: the consent page, or X's error page.
pub(crate) async fn authorize_page(
    State(emulator): State<Emulator>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let params: AuthorizeParams = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let drop_after = match authorize_call(&emulator, params.client_id.as_deref(), false).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let page = {
        let state = emulator.lock();
        match state.validate_authorize(&params) {
            Err(reason) => pages::something_went_wrong(reason),
            Ok(request) => {
                let signed_in = signed_in_user(&jar).and_then(|id| state.user(&id));
                pages::consent(&request, &state.users(), signed_in)
            }
        }
    };
    if drop_after {
        return dropped_response();
    }
    Html(page).into_response()
}

/// The fields of the consent form: the original parameters plus the choice.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ConsentForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    user_id: Option<String>,
    action: Option<String>,
}

/// `POST /i/oauth2/authorize`: the consent form. Authorize redirects with a
/// code, Cancel without one.
pub(crate) async fn authorize_submit(State(emulator): State<Emulator>, jar: CookieJar, body: Bytes) -> Response {
    let form: ConsentForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let drop_after = match authorize_call(&emulator, form.params.client_id.as_deref(), true).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let outcome = {
        let mut state = emulator.lock();
        match state.validate_authorize(&form.params) {
            Err(reason) => Err(reason),
            Ok(request) => match form.action.as_deref() {
                Some("cancel") => {
                    let mut query = vec![("state", request.state.clone())];
                    if state.settings.cancel_adds_error {
                        query.push(("error", "access_denied".to_owned()));
                    }
                    Ok((redirect_to(&request.redirect_uri, &query), None))
                }
                Some("authorize") => match form.user_id.as_deref().and_then(|id| state.user(id)).cloned() {
                    None => Err("user_id does not name an emulated account"),
                    Some(user) => {
                        let code = state.issue_code(&request, &user.id);
                        let query = [("state", request.state.clone()), ("code", code)];
                        Ok((redirect_to(&request.redirect_uri, &query), Some(user.id)))
                    }
                },
                _ => Err("action must be authorize or cancel"),
            },
        }
    };
    if drop_after {
        return dropped_response();
    }
    match outcome {
        Err(reason) => Html(pages::something_went_wrong(reason)).into_response(),
        Ok((location, user_id)) => {
            let jar = match user_id {
                Some(id) => remember_user(jar, id),
                None => jar,
            };
            let mut response = (jar, StatusCode::FOUND).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
    }
}

/// `{redirect_uri}?k=v&…`; the registered callback never has a query string.
fn redirect_to(redirect_uri: &str, query: &[(&str, String)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

pub(crate) fn error_page_with_status(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Html(pages::something_went_wrong("injected fault"))).into_response()
}

/// The first value of each form field, as X reads them.
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut form = HashMap::new();
    for (k, v) in pairs {
        form.entry(k).or_insert(v);
    }
    form
}

fn grant_kind(grant_type: Option<&str>) -> Option<GrantKind> {
    match grant_type {
        Some("authorization_code") => Some(GrantKind::AuthorizationCode),
        Some("refresh_token") => Some(GrantKind::RefreshToken),
        _ => None,
    }
}

/// X's success body; field order as X sends it.
#[derive(Serialize)]
struct TokenBody {
    token_type: &'static str,
    expires_in: Seconds,
    access_token: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl From<Issued> for TokenBody {
    fn from(issued: Issued) -> Self {
        Self {
            token_type: "bearer",
            expires_in: Seconds::Number(issued.expires_in),
            access_token: issued.access_token,
            scope: issued.scope,
            refresh_token: issued.refresh_token,
        }
    }
}

/// `expires_in`: a number, as X sends it, or a string (an injected fault).
#[derive(Serialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

/// The success answer of the token endpoint, mangled as an injected fault
/// says.
fn token_success(issued: Issued, mangle: Option<Mangle>, stamp: &Stamp) -> Response {
    let mut body = TokenBody::from(issued);
    let bytes = |body: &TokenBody| serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    match mangle {
        None => token_response(200, &body, stamp),
        Some(Mangle::TextPlain) => token_bytes_response(200, TEXT_PLAIN, bytes(&body), stamp),
        Some(Mangle::ExpiresInString) => {
            if let Seconds::Number(secs) = body.expires_in {
                body.expires_in = Seconds::Text(secs.to_string());
            }
            token_response(200, &body, stamp)
        }
        Some(Mangle::Truncated) => {
            let mut cut = bytes(&body);
            cut.pop();
            token_bytes_response(200, JSON, cut, stamp)
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
}

fn token_error(error: &TokenError, stamp: &Stamp) -> Response {
    token_response(error.status(), &ErrorBody { error: error.error(), error_description: error.description() }, stamp)
}

/// Injected error statuses on the token and revoke endpoints.
fn problem_with_stamp(status: u16, stamp: Stamp) -> Response {
    token_response(status, &Problem::status(status), &stamp)
}

/// Counts a call to the token or revoke endpoint and applies its injected
/// fault: `Err` is the fault's answer, `Ok` says to proceed, whether to
/// drop the answer afterwards and how to mangle a success.
async fn form_call(
    emulator: &Emulator,
    endpoint: Endpoint,
    grant: Option<GrantKind>,
    client_id: Option<&str>,
    started: Instant,
) -> Result<(bool, Option<Mangle>), Response> {
    let (fault, stamp) = {
        let mut state = emulator.lock();
        let client_id = client_id.filter(|c| state.has_app(c));
        let call = Call { endpoint, grant, client_id, consent: false, oauth1: false };
        state.counts.record(&call);
        (state.faults.take(&call), Stamp::new(started, &state.clock))
    };
    match plan_fault(fault, |status| problem_with_stamp(status, stamp)).await {
        FaultPlan::Respond(response) => Err(response),
        FaultPlan::Proceed { drop_after, mangle } => Ok((drop_after, mangle)),
    }
}

/// `POST /2/oauth2/token`.
pub(crate) async fn token(State(emulator): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let form = parse_form(&body);
    let field = |name: &str| form.get(name).map(String::as_str);
    let basic = BasicCredentials::from_header(headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()));
    let grant = grant_kind(field("grant_type"));
    let client_id = basic.client_id().or(field("client_id"));
    let (drop_after, mangle) = match form_call(&emulator, Endpoint::Token, grant, client_id, started).await {
        Ok(plan) => plan,
        Err(fault_answer) => return fault_answer,
    };
    let (result, stamp) = {
        let mut state = emulator.lock();
        let result = state.authenticate_client(&basic, field("client_id")).and_then(|client_id| match grant {
            Some(GrantKind::AuthorizationCode) => {
                state.exchange_code(&client_id, field("code"), field("redirect_uri"), field("code_verifier"))
            }
            Some(GrantKind::RefreshToken) => state.refresh(&client_id, field("refresh_token")),
            None if field("grant_type").is_none() => Err(TokenError::MissingParameter("grant_type")),
            None => Err(TokenError::UnsupportedGrantType),
        });
        (result, Stamp::new(started, &state.clock))
    };
    if drop_after {
        return dropped_response();
    }
    match result {
        Ok(issued) => token_success(issued, mangle, &stamp),
        Err(error) => token_error(&error, &stamp),
    }
}

#[derive(Serialize)]
struct RevokedBody {
    revoked: bool,
}

/// `POST /2/oauth2/revoke`.
pub(crate) async fn revoke(State(emulator): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let form = parse_form(&body);
    let field = |name: &str| form.get(name).map(String::as_str);
    let basic = BasicCredentials::from_header(headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()));
    let client_id = basic.client_id().or(field("client_id"));
    let drop_after = match form_call(&emulator, Endpoint::Revoke, None, client_id, started).await {
        Ok((drop_after, _)) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let (result, stamp) = {
        let mut state = emulator.lock();
        let result = state.authenticate_client(&basic, field("client_id")).and_then(|client_id| {
            let token = field("token").filter(|t| !t.is_empty()).ok_or(TokenError::MissingParameter("token"))?;
            state.revoke_token(&client_id, token);
            Ok(())
        });
        (result, Stamp::new(started, &state.clock))
    };
    if drop_after {
        return dropped_response();
    }
    match result {
        Ok(()) => token_response(200, &RevokedBody { revoked: true }, &stamp),
        Err(error) => token_error(&error, &stamp),
    }
}
