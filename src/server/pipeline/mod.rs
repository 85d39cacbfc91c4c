//! The publishing pipeline's API, under `/api/v1`: authwatch is the one
//! place that holds X tokens, and makes the rules — refresh before expiry,
//! retry once, surface the error, keep content ready — the default for every
//! program that publishes.
//!
//! - [`auth`]: API keys (hashed, shown once) and the middleware that checks
//!   them and logs every call by key id. Cookies and sessions play no part.
//! - [`broker`]: a valid token, refreshed through the engine's single flight.
//! - [`reports`]: 401/403 reports → `retry_once` or `stop`; a report is a
//!   hint, rate limited per key and account, and never condemns an account
//!   by itself: [`verify`] asks X first.
//! - [`posts`]: publish with one retry; held posts, their release (only
//!   while the key that queued them is live) and discarding them.
//!
//! The OpenAPI document at `/api/v1/openapi.json` is generated from the
//! handlers and types ([`ApiDoc`]).

pub mod accounts;
pub mod auth;
pub mod broker;
pub mod dto;
pub mod posts;
pub mod problem;
pub mod reports;
pub mod verify;

use crate::domain::pipeline::{report_throttled, REPORT_WINDOW_MS};
use crate::server::config::{Config, HeldPosts};
use crate::server::db::api_keys::{self, KeyRecord};
use crate::server::db::Pool;
use crate::server::x;
use crate::server::AppState;
use axum::http::{header, HeaderValue};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::Current;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The pipeline API's settings and its short-lived memory of API keys and
/// tokens: the hot path (`GET token`) answers from memory while the copy is
/// younger than the cache TTL, instead of reading and decrypting per call.
pub struct Pipeline {
    min_token_lifetime: Duration,
    cache_ttl: Duration,
    held_posts: HeldPosts,
    keys: Mutex<HashMap<String, (Instant, Arc<KeyRecord>)>>,
    current: Mutex<HashMap<String, (Instant, Arc<Current>)>>,
    /// Reports taken per (key id, account id): their times, for the budget.
    reports: Mutex<HashMap<(String, String), Vec<i64>>>,
    verifier: verify::Verifier,
}

impl Pipeline {
    pub fn new(config: &Config) -> Self {
        Self {
            min_token_lifetime: config.api_token_min_lifetime,
            cache_ttl: config.api_cache_ttl,
            held_posts: config.held_posts,
            keys: Mutex::new(HashMap::new()),
            current: Mutex::new(HashMap::new()),
            reports: Mutex::new(HashMap::new()),
            verifier: verify::Verifier::default(),
        }
    }

    pub fn min_token_lifetime_ms(&self) -> i64 {
        self.min_token_lifetime.as_millis() as i64
    }

    /// The live key with this hash. Only found keys are kept in memory, so
    /// guessed keys cannot fill it; a revocation is seen within the TTL.
    pub async fn key(&self, pool: &Pool, key_hash: &str) -> Result<Option<Arc<KeyRecord>>, sqlx::Error> {
        if let Some((at, record)) = lock(&self.keys).get(key_hash) {
            if at.elapsed() < self.cache_ttl {
                return Ok(Some(record.clone()));
            }
        }
        let found = api_keys::by_hash(pool, key_hash).await?.map(Arc::new);
        let mut keys = lock(&self.keys);
        match &found {
            Some(record) => keys.insert(key_hash.to_owned(), (Instant::now(), record.clone())),
            None => keys.remove(key_hash),
        };
        Ok(found)
    }

    /// The account's token and verdict, from memory while fresh.
    pub async fn current(&self, state: &AppState, account_id: &str) -> Result<Arc<Current>, problem::ApiError> {
        if let Some((at, current)) = lock(&self.current).get(account_id) {
            if at.elapsed() < self.cache_ttl {
                return Ok(current.clone());
            }
        }
        let loaded = Arc::new(broker::load(state, account_id).await?);
        lock(&self.current).insert(account_id.to_owned(), (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Takes one report by `key_id` about `account_id` out of the budget
    /// ([`REPORTS_PER_WINDOW`](crate::domain::pipeline::REPORTS_PER_WINDOW) a minute), or says in how many seconds the
    /// next one will be taken. Per process: each replica has its own budget.
    pub fn take_report(&self, key_id: &str, account_id: &str) -> Result<(), u64> {
        let now = x::now_ms();
        let mut reports = lock(&self.reports);
        if reports.len() > MAX_REPORTERS {
            // Forget the pairs that are quiet: the map stays as small as the
            // set of keys and accounts reporting right now.
            reports.retain(|_, taken| taken.last().is_some_and(|at| now - at < REPORT_WINDOW_MS));
        }
        let taken = reports.entry((key_id.to_owned(), account_id.to_owned())).or_default();
        taken.retain(|at| now - at < REPORT_WINDOW_MS);
        if let Some(wait) = report_throttled(taken, now) {
            return Err(u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1));
        }
        taken.push(now);
        Ok(())
    }

    /// Drops every key's copy: a key was just revoked here.
    pub fn forget_keys(&self) {
        lock(&self.keys).clear();
    }

    /// Drops the account's copy: its tokens or health just changed here.
    pub fn forget(&self, account_id: &str) {
        lock(&self.current).remove(account_id);
    }

    /// Drops every account's copy: changes from other replicas may have been
    /// missed.
    pub fn forget_all(&self) {
        lock(&self.current).clear();
    }
}

/// (key, account) pairs remembered for the report budget before the quiet
/// ones are forgotten.
const MAX_REPORTERS: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The API router's state: the application state behind one `Arc`, so the
/// per-request clones axum makes of its state are a reference count, not a
/// copy of every field.
pub type Shared = Arc<AppState>;

/// The API's routes, to nest at `/api/v1`. Everything but the OpenAPI
/// document needs an API key.
///
/// The router is complete in itself — state, headers, no session layer — so
/// the server nests it outside the page routes' cookie sessions: the API
/// authenticates only with its bearer key, and skipping the session layer
/// keeps it off the token broker's hot path.
pub fn router(state: AppState) -> Router {
    let state: Shared = Arc::new(state);
    Router::new()
        .route("/accounts", get(accounts::list))
        .route("/accounts/{id}/token", get(accounts::token))
        .route("/accounts/{id}/auth-failures", post(reports::report))
        .route("/accounts/{id}/posts", post(posts::publish))
        .route_layer(from_fn_with_state(state.clone(), auth::authenticate))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { problem::ApiError::NotFound })
        .with_state(state)
        // Tokens must never sit in a cache, and nothing here is a page.
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
}

/// After a successful connect or reconnect: forget the old token and, unless
/// configured to wait for a person, publish the account's held posts.
pub fn after_reconnect(state: &AppState, account_id: &str) {
    state.pipeline.forget(account_id);
    if state.pipeline.held_posts == HeldPosts::Wait {
        return;
    }
    let state = state.clone();
    let account_id = account_id.to_owned();
    tokio::spawn(async move {
        if let Err(e) = posts::release_held(&state, &account_id, "held-post release after reconnect").await {
            tracing::error!(account_id, error = %e, "releasing held posts failed");
        }
    });
}

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "authwatch pipeline API",
        version = "1",
        description = "Valid X tokens, 401/403 reports and publishing with one retry, for programs that publish to X accounts. Authenticate with `Authorization: Bearer <API key>`. Errors are `application/problem+json`."
    ),
    paths(accounts::list, accounts::token, reports::report, posts::publish),
    components(schemas(
        dto::AccountView,
        dto::TokenView,
        dto::AuthFailureReport,
        dto::AuthFailureVerdict,
        dto::NewPostRequest,
        dto::PostView,
        dto::HealthSlug,
        dto::WhoSlug,
        dto::FlowSlug,
        dto::ActionSlug,
        dto::Verdict,
        dto::PostState,
        problem::Problem
    )),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An authwatch API key")).build(),
            ),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Milliseconds since the epoch as RFC 3339, UTC.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
