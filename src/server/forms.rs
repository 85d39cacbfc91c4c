//! Server functions posted by plain forms. Every button on the pages is a
//! form that posts to its server function, so it works before, and without,
//! the page's wasm. Such a post asks for a page (`Accept: text/html`), not
//! data: its result becomes a [`Notice`] on the page the form was on, and the
//! browser is sent back there (303, Post/Redirect/Get). The page's script
//! posts the same way and shows the page it is sent back to, so the two paths
//! are one.
//!
//! A result that is not a sentence (a new API key, a new reconnect link) is a
//! secret shown once: it is never kept in the session, so it is answered as a
//! page of its own instead.

use crate::api::dto::Notice;
use crate::api::ApiError;
use crate::domain::redirect::local_path;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// The session key of the notice the next page shows.
pub const NOTICE: &str = "authwatch.notice";

/// The most of a server function's answer read back: its sentences are short.
const ANSWER_LIMIT: usize = 64 * 1024;

/// Turns a plain form's post to a server function into a notice and a
/// redirect back; every other request passes untouched.
pub async fn plain_form_posts(session: Session, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with("/api/") || !asks_for_a_page(req.headers()) {
        return next.run(req).await;
    }
    let back = back_to(req.headers());
    let answer = next.run(req).await;
    let ok = answer.status().is_success() || answer.status().is_redirection();
    let body = match to_bytes(answer.into_body(), ANSWER_LIMIT).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "reading a server function's answer to a form post");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let message = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::String(sentence)) if ok => sentence,
        Ok(serde_json::Value::Object(fields)) if ok => return shown_once(&fields, &back),
        _ if ok => "Done.".to_owned(),
        _ => serde_json::from_slice::<ApiError>(&body)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| "That did not work; nothing was changed.".to_owned()),
    };
    if let Err(e) = session.insert(NOTICE, Notice { ok, message }).await {
        tracing::error!(error = %e, "keeping a form post's result for the next page");
    }
    Redirect::to(&back).into_response()
}

/// A browser's own form post asks for a page; a script's call asks for data.
fn asks_for_a_page(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    accept.contains("text/html") && !accept.contains("application/json")
}

/// The page the form was on, as a path on this site (a Referer can carry
/// anything; without one, the dashboard).
fn back_to(headers: &HeaderMap) -> String {
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| url::Url::parse(referer).ok())
        .map(|url| match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
        .filter(|path| local_path(path).is_some())
        .unwrap_or_else(|| "/".to_owned())
}

/// A result that is a secret, shown once as a page of its own: a session
/// must not keep it.
fn shown_once(fields: &serde_json::Map<String, serde_json::Value>, back: &str) -> Response {
    let rows: String = fields
        .iter()
        .filter_map(|(name, value)| value.as_str().map(|v| (name, v)))
        .map(|(name, value)| format!("<dt>{}</dt><dd><code>{}</code></dd>", escape(name), escape(value)))
        .collect();
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>authwatch: copy it now</title></head><body>\
         <main><h1>Done: copy this now</h1><p>It is shown only once, on this page.</p><dl>{rows}</dl>\
         <p><a href=\"{}\">Back</a></p></main></body></html>",
        escape(back)
    );
    let mut answer = Html(page).into_response();
    answer.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    answer
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
