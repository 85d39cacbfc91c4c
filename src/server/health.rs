//! Liveness and readiness, for load balancers and orchestrators: `/healthz`
//! says the process serves (no database call, so a slow database never gets
//! a healthy process restarted); `/readyz` says it can do its work — the
//! database answers, and its schema is exactly the one this binary knows.

use super::db::{self, Backend};
use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::time::Duration;

/// How long the database may take to answer `/readyz`.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz` and `/readyz`, both GET only (other methods get 405).
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// Liveness: the process answers HTTP.
async fn healthz() -> Response {
    uncached((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response())
}

/// What `/readyz` answers: each part's state, never a URL or an error's text
/// (they may name hosts and users; the log has the details).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// `ok`, `unreachable` (an error) or `timeout` (no answer in 2 s).
    pub database: &'static str,
    /// `current`, `differ` (see the lists) or `unknown` (not read).
    pub migrations: &'static str,
    /// Versions this binary has that the database has not applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<i64>,
    /// Versions applied that this binary does not know (a newer version ran).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<i64>,
    /// Versions applied whose file was since changed, or that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<i64>,
    pub backend: &'static str,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.database == "ok" && self.migrations == "current"
    }
}

/// Readiness: 200 when ready, 503 saying what is wrong.
async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = check(&state.pool).await;
    let status = if readiness.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    uncached((status, axum::Json(readiness)).into_response())
}

/// Checks the database behind `pool`: it answers within
/// [`DATABASE_TIMEOUT`], and its applied migrations are exactly this
/// binary's, versions and checksums.
pub async fn check(pool: &db::Pool) -> Readiness {
    let backend = Backend::of(pool);
    let mut readiness = Readiness {
        database: "ok",
        migrations: "unknown",
        missing: Vec::new(),
        unknown: Vec::new(),
        changed: Vec::new(),
        backend: match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        },
    };
    let applied = async {
        sqlx::query("SELECT 1").execute(pool).await?;
        // (The cast: the Any driver reads no column SQLite declares BOOLEAN.)
        sqlx::query_as::<_, (i64, Vec<u8>, db::Flag)>(
            "SELECT version, checksum, CAST(success AS INTEGER) FROM _sqlx_migrations",
        )
        .fetch_all(pool)
        .await
        .map(|rows| rows.into_iter().map(|(version, checksum, success)| (version, checksum, bool::from(success))))
        .map(Vec::from_iter)
    };
    let applied = match tokio::time::timeout(DATABASE_TIMEOUT, applied).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            readiness.database = "unreachable";
            return readiness;
        }
        Err(_) => {
            tracing::warn!(
                timeout_secs = DATABASE_TIMEOUT.as_secs(),
                "readiness: the database does not answer in time"
            );
            readiness.database = "timeout";
            return readiness;
        }
    };
    let migrator = db::migrator(backend);
    for known in migrator.iter() {
        match applied.iter().find(|(version, ..)| *version == known.version) {
            None => readiness.missing.push(known.version),
            Some((_, checksum, success)) => {
                if !*success || *checksum != *known.checksum {
                    readiness.changed.push(known.version);
                }
            }
        }
    }
    readiness.unknown = applied
        .iter()
        .map(|(version, ..)| *version)
        .filter(|version| !migrator.iter().any(|m| m.version == *version))
        .collect();
    readiness.unknown.sort_unstable();
    readiness.migrations =
        if readiness.missing.is_empty() && readiness.unknown.is_empty() && readiness.changed.is_empty() {
            "current"
        } else {
            "differ"
        };
    readiness
}

/// A probe's answer is about now: no cache may keep it.
fn uncached(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
