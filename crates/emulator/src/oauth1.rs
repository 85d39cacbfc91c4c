//! X's OAuth 1.0a endpoints: `POST /oauth/request_token`, the consent page
//! (`/oauth/authorize` and `/oauth/authenticate`), `POST /oauth/access_token`,
//! and `GET /1.1/account/verify_credentials.json`, where a user token's
//! v1.1 error codes (89, 32, 135) show.
//!
//! Every signed request is checked for real (see `signature`): against the
//! URL the client addressed, prefix and all, so a client that signs another
//! URL than the one it calls is refused as X would refuse it.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::faults::{dropped_response, Call, Endpoint};
use super::http::{plan_fault, token_bytes_response, FaultPlan, Problem, Stamp, JSON, TEXT_HTML, XML};
use super::oauth::{error_page_with_status, parse_form, remember_user, signed_in_user};
use super::pages;
use super::signature::{base_uri, form_pairs, OauthHeader, SignedRequest};
use super::state::{Oauth1Error, Oauth1Outcome, RequestTokenRefusal};
use super::Emulator;

/// X's words for an unregistered callback, in both its forms.
const CALLBACK_NOT_APPROVED: &str = "Callback URL not approved for this client application. Approved callback URLs \
                                     can be adjusted in your application settings";

/// Whether the request's `Authorization` header is of the OAuth scheme
/// (well-formed or not).
pub(crate) fn has_oauth_header(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = value.trim_start().split(char::is_whitespace).next().unwrap_or("");
    scheme.eq_ignore_ascii_case("oauth")
}

/// The request as its signature covers it; `None` without a well-formed
/// OAuth header. `uri` is the one the client addressed (axum's
/// `OriginalUri`: the prefix the router is nested under included); the
/// scheme comes from `X-Forwarded-Proto` (else `http`), the host from
/// `Host`. Form bodies are signed, other bodies are not.
pub(crate) fn signed_request(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Option<SignedRequest> {
    let header = OauthHeader::parse(headers.get(AUTHORIZATION)?.to_str().ok()?)?;
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let scheme = forwarded.or(uri.scheme_str()).unwrap_or("http");
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()))?;
    let mut params = form_pairs(uri.query().unwrap_or("").as_bytes());
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(form_pairs(body));
    }
    Some(SignedRequest {
        method: method.as_str().to_owned(),
        base_uri: base_uri(scheme, host, uri.path()),
        params,
        header,
    })
}

/// X's v1.1 error body, field order as X sends it.
#[derive(Serialize)]
struct V1Errors {
    errors: [V1Error; 1],
}

#[derive(Serialize)]
struct V1Error {
    code: u16,
    message: &'static str,
}

fn v1_error(status: u16, code: u16, message: &'static str, stamp: &Stamp) -> Response {
    let body = V1Errors { errors: [V1Error { code, message }] };
    token_bytes_response(status, JSON, serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec()), stamp)
}

/// 401 with the refusal's code.
fn oauth1_error(error: Oauth1Error, stamp: &Stamp) -> Response {
    v1_error(401, error.code(), error.message(), stamp)
}

/// An injected status on a v1.1-style endpoint, with X's v1.1 body where
/// it has one.
fn v1_fault_answer(status: u16, stamp: &Stamp) -> Response {
    match status {
        401 => oauth1_error(Oauth1Error::CouldNotAuthenticate, stamp),
        429 => v1_error(429, 88, "Rate limit exceeded", stamp),
        500 => v1_error(500, 131, "Internal error", stamp),
        503 => v1_error(503, 130, "Over capacity", stamp),
        _ => {
            let body = serde_json::to_vec(&Problem::status(status)).unwrap_or_else(|_| b"{}".to_vec());
            token_bytes_response(status, JSON, body, stamp)
        }
    }
}

/// Counts a signed call and applies its injected fault: `Err` is the
/// fault's answer, `Ok` says to proceed and whether to drop the answer.
async fn signed_call(
    emulator: &Emulator,
    endpoint: Endpoint,
    signed: Option<&SignedRequest>,
    started: Instant,
) -> Result<bool, Response> {
    let (fault, stamp) = {
        let mut state = emulator.lock();
        let client_id = signed.and_then(|s| state.oauth1_client(s));
        let call = Call { endpoint, grant: None, client_id: client_id.as_deref(), consent: false, oauth1: true };
        state.counts.record(&call);
        (state.faults.take(&call), Stamp::new(started, &state.clock))
    };
    match plan_fault(fault, |status| v1_fault_answer(status, &stamp)).await {
        FaultPlan::Respond(response) => Err(response),
        FaultPlan::Proceed { drop_after, .. } => Ok(drop_after),
    }
}

/// A form-encoded success, as X sends its token answers.
fn form_answer(pairs: &[(&str, &str)], stamp: &Stamp) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    token_bytes_response(200, TEXT_HTML, body.into_bytes(), stamp)
}

/// `POST /oauth/request_token`, signed with the consumer key alone.
pub(crate) async fn request_token(
    State(emulator): State<Emulator>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let signed = signed_request(&method, &uri, &headers, &body);
    let drop_after = match signed_call(&emulator, Endpoint::RequestToken, signed.as_ref(), started).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let (result, stamp, as_json) = {
        let mut state = emulator.lock();
        let result = match &signed {
            None => Err(RequestTokenRefusal::Auth(Oauth1Error::CouldNotAuthenticate)),
            Some(signed) => state.oauth1_request_token(signed),
        };
        (result, Stamp::new(started, &state.clock), state.settings.oauth1_callback_error_as_json)
    };
    if drop_after {
        return dropped_response();
    }
    match result {
        Ok(issued) => form_answer(
            &[
                ("oauth_token", &issued.token),
                ("oauth_token_secret", &issued.secret),
                ("oauth_callback_confirmed", "true"),
            ],
            &stamp,
        ),
        Err(RequestTokenRefusal::Auth(error)) => oauth1_error(error, &stamp),
        Err(RequestTokenRefusal::CallbackNotApproved) if as_json => v1_error(403, 415, CALLBACK_NOT_APPROVED, &stamp),
        Err(RequestTokenRefusal::CallbackNotApproved) => {
            let body = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><errors><error code="415">{CALLBACK_NOT_APPROVED}</error></errors>"#
            );
            token_bytes_response(403, XML, body.into_bytes(), &stamp)
        }
    }
}

/// Counts a consent page or form and applies its injected fault.
async fn consent_call(emulator: &Emulator, oauth_token: Option<&str>, consent: bool) -> Result<bool, Response> {
    let fault = {
        let mut state = emulator.lock();
        let client_id = oauth_token.and_then(|t| state.oauth1_request_token_client(t));
        let call = Call {
            endpoint: Endpoint::Oauth1Authorize,
            grant: None,
            client_id: client_id.as_deref(),
            consent,
            oauth1: true,
        };
        state.counts.record(&call);
        state.faults.take(&call)
    };
    match plan_fault(fault, error_page_with_status).await {
        FaultPlan::Respond(response) => Err(response),
        FaultPlan::Proceed { drop_after, .. } => Ok(drop_after),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ConsentQuery {
    oauth_token: Option<String>,
}

/// `GET /oauth/authorize?oauth_token=…`: the consent page, or X's error page.
pub(crate) async fn authorize_page(State(emulator): State<Emulator>, jar: CookieJar, query: RawQuery) -> Response {
    consent_page(emulator, jar, query, "authorize").await
}

/// `GET /oauth/authenticate?oauth_token=…` ("Sign in with X"): the same
/// page, posting to its own path. X skips the page for a user who already
/// authorized the app (UNV); the emulator always shows it.
pub(crate) async fn authenticate_page(State(emulator): State<Emulator>, jar: CookieJar, query: RawQuery) -> Response {
    consent_page(emulator, jar, query, "authenticate").await
}

async fn consent_page(emulator: Emulator, jar: CookieJar, RawQuery(query): RawQuery, action: &str) -> Response {
    let query: ConsentQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let drop_after = match consent_call(&emulator, query.oauth_token.as_deref(), false).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let page = {
        let state = emulator.lock();
        match state.oauth1_consent_view(query.oauth_token.as_deref()) {
            Err(reason) => pages::something_went_wrong(reason),
            Ok(consent) => {
                let signed_in = signed_in_user(&jar).and_then(|id| state.user(&id));
                pages::oauth1_consent(&consent.app_name, &consent.token, action, &state.users(), signed_in)
            }
        }
    };
    if drop_after {
        return dropped_response();
    }
    Html(page).into_response()
}

/// `POST /oauth/authorize` or `/oauth/authenticate`: the consent form.
/// Authorize sends the browser to the callback with `oauth_token` and
/// `oauth_verifier`, Cancel with `denied`; both with 303.
pub(crate) async fn consent_submit(State(emulator): State<Emulator>, jar: CookieJar, body: Bytes) -> Response {
    let form = parse_form(&body);
    let field = |name: &str| form.get(name).map(String::as_str);
    let drop_after = match consent_call(&emulator, field("oauth_token"), true).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let outcome = {
        let mut state = emulator.lock();
        match field("action") {
            Some("authorize") => state.oauth1_consent(field("oauth_token"), field("user_id"), true),
            Some("cancel") => state.oauth1_consent(field("oauth_token"), None, false),
            _ => Err("action must be authorize or cancel"),
        }
    };
    if drop_after {
        return dropped_response();
    }
    match outcome {
        Err(reason) => Html(pages::something_went_wrong(reason)).into_response(),
        Ok(Oauth1Outcome::Pin { verifier, user_id }) => {
            (remember_user(jar, user_id), Html(pages::oauth1_pin(&verifier))).into_response()
        }
        Ok(Oauth1Outcome::DeniedOob) => Html(pages::something_went_wrong("the user cancelled")).into_response(),
        Ok(Oauth1Outcome::Redirect { location, user_id }) => {
            let jar = match user_id {
                Some(id) => remember_user(jar, id),
                None => jar,
            };
            let mut response = (jar, StatusCode::SEE_OTHER).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
    }
}

/// `POST /oauth/access_token`, signed with the consumer key and the request
/// token; `oauth_verifier` in the header or the form body.
pub(crate) async fn access_token(
    State(emulator): State<Emulator>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let signed = signed_request(&method, &uri, &headers, &body);
    let drop_after = match signed_call(&emulator, Endpoint::AccessToken, signed.as_ref(), started).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let (result, stamp) = {
        let mut state = emulator.lock();
        let result = match &signed {
            None => Err(Oauth1Error::CouldNotAuthenticate),
            Some(signed) => {
                let from_body = signed.params.iter().find(|(n, _)| n == "oauth_verifier").map(|(_, v)| v.as_str());
                let verifier = signed.header.get("oauth_verifier").or(from_body);
                state.oauth1_access_token(signed, verifier)
            }
        };
        (result, Stamp::new(started, &state.clock))
    };
    if drop_after {
        return dropped_response();
    }
    match result {
        Ok(issued) => form_answer(
            &[
                ("oauth_token", &issued.token),
                ("oauth_token_secret", &issued.secret),
                ("user_id", &issued.user_id),
                ("screen_name", &issued.screen_name),
            ],
            &stamp,
        ),
        Err(error) => oauth1_error(error, &stamp),
    }
}

/// The v1.1 user object, the fields authwatch reads; field order as X's.
#[derive(Serialize)]
struct V1User<'a> {
    id: serde_json::Value,
    id_str: &'a str,
    name: &'a str,
    screen_name: &'a str,
}

/// `GET /1.1/account/verify_credentials.json`: who the signed user token
/// belongs to, or why X refuses it (89, 32, 135).
pub(crate) async fn verify_credentials(
    State(emulator): State<Emulator>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let signed = signed_request(&method, &uri, &headers, &[]);
    let drop_after = match signed_call(&emulator, Endpoint::VerifyCredentials, signed.as_ref(), started).await {
        Ok(drop_after) => drop_after,
        Err(fault_answer) => return fault_answer,
    };
    let (result, stamp) = {
        let mut state = emulator.lock();
        let result = match &signed {
            None => Err(Oauth1Error::CouldNotAuthenticate),
            Some(signed) => state.oauth1_admit(signed),
        };
        (result, Stamp::new(started, &state.clock))
    };
    if drop_after {
        return dropped_response();
    }
    match result {
        Ok(caller) => {
            let user = &caller.user;
            let id = user.id.parse::<u64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::Null);
            let body = V1User { id, id_str: &user.id, name: &user.name, screen_name: &user.username };
            token_bytes_response(200, JSON, serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec()), &stamp)
        }
        Err(error) => oauth1_error(error, &stamp),
    }
}
