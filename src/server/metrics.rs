//! `/metrics` in Prometheus text format, through the `metrics` facade and
//! `metrics-exporter-prometheus`.
//!
//! Counters and histograms are recorded where things happen (the refresh
//! engine, the X client). Gauges that describe the current state — accounts
//! per health, the soonest expiry, the clock offset — are computed from the
//! database at scrape time, so they are never stale.
//!
//! The `metrics` facade holds one recorder per process by design; it is
//! installed once here and every `AppState` in the process renders it.

use crate::domain::health::{diagnose, Health};
use crate::server::db::apps;
use crate::server::x::now_ms;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("authwatch_refresh_seconds".into()),
                    &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0],
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// `GET /metrics`, for a scraper holding `AUTHWATCH_METRICS_TOKEN`: the
/// numbers describe every account and the app, so they are not public.
pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = &state.config.metrics_token else {
        return (
            StatusCode::NOT_FOUND,
            "Metrics are off: set AUTHWATCH_METRICS_TOKEN and scrape with that bearer token.",
        )
            .into_response();
    };
    let offered =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compared as digests: equal-length inputs, so the time taken says nothing about the token.
    if offered.map(|t| Sha256::digest(t.as_bytes())) != Some(Sha256::digest(expected.expose().as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "A valid metrics token is required.",
        )
            .into_response();
    }
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            "metrics unavailable".to_owned(),
        )
            .into_response();
    };
    if let Err(e) = record_state(&state).await {
        tracing::error!(error = %e, "metrics: reading the accounts failed");
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}

async fn record_state(state: &AppState) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let client_id = &state.x.app().client_id;
    let app = apps::facts(&state.pool, client_id).await?;
    let required = &state.x.app().required_scopes;
    let entries = state.snapshot.get(&state.pool).await?;
    let healths: Vec<Health> =
        entries.iter().map(|(_, f)| diagnose(f, &app, required, now, &state.policy).health).collect();
    for health in Health::ALL {
        let n = healths.iter().filter(|h| **h == health).count();
        metrics::gauge!("authwatch_accounts", "health" => health.slug()).set(n as f64);
    }
    if let Some(soonest) = entries.iter().map(|(s, _)| s.expires_at).min() {
        metrics::gauge!("authwatch_soonest_expiry_seconds").set((soonest - now) as f64 / 1000.0);
    }
    if let Some(offset) = app.clock_offset_ms {
        metrics::gauge!("authwatch_clock_offset_seconds").set(offset as f64 / 1000.0);
    }
    let open = crate::server::db::prompts::open(&state.pool).await?;
    metrics::gauge!("authwatch_prompts_open").set(open.len() as f64);
    metrics::gauge!("authwatch_prompts_escalated").set(open.iter().filter(|p| p.escalated_at.is_some()).count() as f64);
    metrics::gauge!("authwatch_app_credentials_rejected").set(if app.credentials_rejected_since.is_some() {
        1.0
    } else {
        0.0
    });
    Ok(())
}
