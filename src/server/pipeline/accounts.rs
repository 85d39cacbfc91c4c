//! `GET /accounts` (health, so the pipeline skips broken accounts) and
//! `GET /accounts/{id}/token` (the token broker).

use super::auth::Caller;
use super::broker::{self, Token};
use super::dto::{AccountView, TokenView};
use super::problem::{ApiError, Problem};
use super::rfc3339;
use super::Shared;
use crate::domain::health::{diagnose, Health};
use crate::server::db::apps;
use crate::server::x::now_ms;
use axum::extract::{Path, State};
use axum::{Extension, Json};

/// Every account this key may act for, with its health.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The accounts this key may act for, with their health", body = [AccountView]),
        (status = 401, description = "Missing, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    let entries =
        state.snapshot.get(&state.pool).await.map_err(|e| ApiError::internal("listing accounts failed", e))?;
    let client_id = &state.x.app().client_id;
    let app = apps::facts(&state.pool, client_id).await.map_err(|e| ApiError::internal("reading the app failed", e))?;
    let now = now_ms();
    let required = &state.x.app().required_scopes;
    let mut out: Vec<AccountView> = entries
        .iter()
        .filter(|(summary, _)| caller.0.allows(&summary.id))
        .map(|(summary, facts)| {
            let d = diagnose(facts, &app, required, now, &state.policy);
            let action = match d.health {
                Health::ActionNeeded(a) => Some(a.into()),
                _ => None,
            };
            AccountView {
                id: summary.id.clone(),
                handle: summary.handle.clone(),
                name: summary.display_name.clone(),
                health: d.health.into(),
                publishable: !d.health.needs_person(),
                cause: d.cause.map(|c| c.as_str().to_owned()),
                who: d.who.into(),
                action,
                summary: d.summary,
                generation: summary.generation,
                token_expires_at: summary.flow.expires().then(|| rfc3339(summary.expires_at)),
                auth: summary.flow.into(),
                scopes: facts.token.scopes.iter().map(str::to_owned).collect(),
                missing_scopes: d.missing_scopes,
            }
        })
        .collect();
    out.sort_by(|a, b| a.handle.cmp(&b.handle));
    Ok(Json(out))
}

/// A valid access token, refreshed first when it expires within a minute.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}/token",
    tag = "tokens",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 200, description = "A valid access token with its expiry and scopes", body = TokenView),
        (status = 401, description = "Missing, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not act for this account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A person must act first (cause, who, action), or the account is connected with OAuth 1.0a, whose credentials never leave authwatch (publish through `POST /api/v1/accounts/{id}/posts`); no token is handed out", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "X is unavailable and the token has expired; retry after `retry_after` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    caller.check(&id)?;
    let token = broker::token(&state, &id, &caller.actor()).await?;
    // A 1.0a token and its secret sign requests; they never leave authwatch.
    if token.flow == crate::domain::flow::Flow::OAuth1 {
        return Err(ApiError::SignedHere(id));
    }
    Ok(Json(token_view(&id, &token)))
}

/// The answer for a token.
pub fn token_view(account_id: &str, token: &Token) -> TokenView {
    TokenView {
        account_id: account_id.to_owned(),
        // The one place a token leaves authwatch: to the program that posts with it.
        access_token: token.access.expose().to_owned(),
        token_type: "bearer".into(),
        expires_at: rfc3339(token.expires_at),
        expires_in: (token.expires_at - now_ms()).max(0) / 1000,
        generation: token.generation,
        scopes: token.scopes.iter().map(str::to_owned).collect(),
    }
}

pub use super::broker::retry_after;
