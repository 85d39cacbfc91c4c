//! Server-side helpers of the server functions: the state, and the views
//! they build from repository rows.

pub mod people;
pub mod views;

use crate::server::AppState;
use leptos::prelude::*;

/// The application state, provided to every server function by the router.
/// The flows this X app offers: OAuth 2.0 always, OAuth 1.0a when its
/// consumer key is configured.
pub fn flows(state: &AppState) -> Vec<crate::domain::flow::Flow> {
    use crate::domain::flow::Flow;
    let mut flows = vec![Flow::OAuth2];
    if state.x.oauth1().is_some() {
        flows.push(Flow::OAuth1);
    }
    flows
}

pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| ApiError::Internal("The application state is missing".into()))
}

use super::error::ApiError;
use crate::domain::access::{decide, Decision, Permission};
pub use crate::server::auth::{ActOn, Reconnect};
use crate::server::auth::{CurrentUser, OnAccount, Permit};
use crate::server::db::accounts;
use crate::server::db::users::User;
use std::sync::Arc;

/// Who is asking (put on the request by the router's gate).
pub async fn current_user() -> CurrentUser {
    let axum::Extension(user) = leptos_axum::extract::<axum::Extension<CurrentUser>>().await.unwrap_or_default();
    user
}

/// What a refusing decision answers: sign in, or `forbidden` (who may).
fn refusal(decision: Decision, forbidden: &str) -> ApiError {
    match decision {
        Decision::Allow | Decision::SignIn => ApiError::SignIn,
        Decision::Forbidden => ApiError::forbidden(forbidden),
    }
}

/// The signed-in user, if allowed `permission` (which names no account).
/// A refusal sets the answer's status at once: pages call this too.
pub async fn require(permission: Permission<'_>, forbidden: &str) -> Result<Arc<User>, ApiError> {
    let user = current_user().await;
    match (decide(user.principal(), permission), user.0) {
        (Decision::Allow, Some(user)) => Ok(user),
        (decision, _) => Err(refusal(decision, forbidden).now()),
    }
}

/// The permit to do `P` on account `id`, for the signed-in user. An unknown
/// account is a 404 — after the sign-in check, so it reveals nothing. A
/// refusal sets the answer's status at once: pages call this too.
pub async fn permit<P: OnAccount>(state: &AppState, id: &str) -> Result<Permit<P>, ApiError> {
    check::<P>(state, id).await.map_err(|e| match e {
        ApiError::Internal(_) => e,
        refusal => refusal.now(),
    })
}

async fn check<P: OnAccount>(state: &AppState, id: &str) -> Result<Permit<P>, ApiError> {
    let user = current_user().await;
    if user.0.is_none() {
        return Err(ApiError::SignIn);
    }
    let account = accounts::summary(&state.pool, id).await?.ok_or_else(|| ApiError::not_found("No such account."))?;
    Permit::decide(&user, account).map_err(|decision| {
        refusal(decision, "Only this account's owner, its backup owner or an admin can do this. Ask them, or an admin to make you an owner.")
    })
}
