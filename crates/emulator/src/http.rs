//! Response building shared by the emulator's endpoints: X's headers, JSON
//! and problem bodies, and the answers of injected faults.

use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, DATE, PRAGMA};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::faults::{dropped_response, FaultKind, Mangle};
use super::state::{Clock, RateView};
use super::tokens::random_hex;

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";
pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
/// What X sends its OAuth 1.0a form-encoded token answers as (UNV).
pub(crate) const TEXT_HTML: &str = "text/html; charset=utf-8";
/// X's XML errors of `request_token`, spelled as X spells it.
pub(crate) const XML: &str = "application/xml;charset=utf-8";

/// The headers X puts on every API answer: `date` (from the emulator's
/// possibly skewed header clock), `x-transaction-id`, `x-response-time`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp {
    started: Instant,
    date: SystemTime,
}

impl Stamp {
    pub fn new(started: Instant, clock: &Clock) -> Self {
        Self { started, date: clock.date_header() }
    }

    fn apply(&self, headers: &mut HeaderMap) {
        insert(headers, DATE, &httpdate::fmt_http_date(self.date));
        insert(headers, HeaderName::from_static("x-transaction-id"), &random_hex(8));
        insert(headers, HeaderName::from_static("x-response-time"), &self.started.elapsed().as_millis().to_string());
    }
}

/// The `x-rate-limit-*` family of headers of one answer, already converted
/// to the `date` header's clock.
#[derive(Debug, Clone, Default)]
pub(crate) struct RateHeaders {
    entries: Vec<(&'static str, RateView)>,
    reset_secs: Vec<u64>,
}

impl RateHeaders {
    /// Adds a block of headers named `{prefix}-limit`, `-remaining`, `-reset`.
    pub fn with(mut self, prefix: &'static str, view: RateView, clock: &Clock) -> Self {
        self.entries.push((prefix, view));
        self.reset_secs.push(clock.to_header_secs(view.reset_ms));
        self
    }

    fn apply(&self, headers: &mut HeaderMap) {
        for ((prefix, view), reset) in self.entries.iter().zip(&self.reset_secs) {
            for (suffix, value) in [
                ("limit", view.limit.to_string()),
                ("remaining", view.remaining.to_string()),
                ("reset", reset.to_string()),
            ] {
                if let Ok(name) = HeaderName::from_bytes(format!("{prefix}-{suffix}").as_bytes()) {
                    insert(headers, name, &value);
                }
            }
        }
    }
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A JSON answer from already serialized bytes (keeps X's field order).
pub(crate) fn raw_json_response(
    status: u16,
    content_type: &'static str,
    bytes: Vec<u8>,
    stamp: &Stamp,
    rate: &RateHeaders,
) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    stamp.apply(headers);
    rate.apply(headers);
    response
}

/// A token endpoint answer: JSON, never cached (RFC 6749 §5.1).
pub(crate) fn token_response(status: u16, body: &impl Serialize, stamp: &Stamp) -> Response {
    token_bytes_response(status, JSON, serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()), stamp)
}

/// A token endpoint answer from bytes, under `content_type`.
pub(crate) fn token_bytes_response(status: u16, content_type: &'static str, bytes: Vec<u8>, stamp: &Stamp) -> Response {
    let mut response = raw_json_response(status, content_type, bytes, stamp, &RateHeaders::default());
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// X's generic problem body, e.g. `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`.
#[derive(Debug, Serialize)]
pub(crate) struct Problem {
    title: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: u16,
    detail: &'static str,
}

impl Problem {
    /// The body X sends for `status`, titled with its reason phrase.
    pub fn status(status: u16) -> Self {
        let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
        Self { title: reason, kind: "about:blank", status, detail: reason }
    }
}

/// What to do with a call once its fault, if any, is known.
pub(crate) enum FaultPlan {
    /// Process the request; if `drop_after`, then lose the answer; if
    /// `mangle`, mangle a token endpoint's success answer.
    Proceed { drop_after: bool, mangle: Option<Mangle> },
    /// The fault answers in place of the endpoint.
    Respond(Response),
}

/// Applies the non-answering parts of a fault (the delay) and turns the
/// answering ones into a plan. `answer` builds the endpoint's own
/// rendering of an error status (JSON problem or HTML page).
pub(crate) async fn plan_fault(fault: Option<FaultKind>, answer: impl FnOnce(u16) -> Response) -> FaultPlan {
    let proceed = |drop_after, mangle| FaultPlan::Proceed { drop_after, mangle };
    match fault {
        None => proceed(false, None),
        Some(FaultKind::Slow { millis }) => {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            proceed(false, None)
        }
        Some(FaultKind::RotateAndDrop) => proceed(true, None),
        Some(FaultKind::SuccessAsTextPlain) => proceed(false, Some(Mangle::TextPlain)),
        Some(FaultKind::ExpiresInAsString) => proceed(false, Some(Mangle::ExpiresInString)),
        Some(FaultKind::TruncatedSuccess) => proceed(false, Some(Mangle::Truncated)),
        Some(FaultKind::DropConnection) => FaultPlan::Respond(dropped_response()),
        Some(FaultKind::Status(status)) => FaultPlan::Respond(answer(status)),
        Some(FaultKind::RateLimited) => FaultPlan::Respond(answer(429)),
        Some(FaultKind::AuthOutage) => FaultPlan::Respond(answer(401)),
        Some(FaultKind::CreditsDepleted) => FaultPlan::Respond(answer(402)),
    }
}
