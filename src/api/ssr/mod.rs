//! Server-side helpers of the server functions: the state, and the views
//! they build from repository rows.

pub mod people;
pub mod views;

use crate::server::AppState;
use leptos::prelude::*;

/// The application state, provided to every server function by the router.
pub fn state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("application state missing"))
}

/// Logs a server-side failure in full and gives the page a sentence that
/// leaks nothing internal.
pub fn internal(context: &str, error: impl std::fmt::Display) -> ServerFnError {
    tracing::error!(error = %error, "{context}");
    ServerFnError::new(format!("{context}: an internal error occurred; it has been logged"))
}

use crate::domain::access::{decide, AccountRef, Decision, Permission};
use crate::server::auth::CurrentUser;
use crate::server::db::accounts::{self, AccountSummary};
use crate::server::db::users::User;
use std::sync::Arc;

/// Who is asking (put on the request by the router's gate).
pub async fn current_user() -> Result<CurrentUser, ServerFnError> {
    let axum::Extension(user) = leptos_axum::extract::<axum::Extension<CurrentUser>>().await.unwrap_or_default();
    Ok(user)
}

/// Answers the request with `status` and a sentence.
fn refuse(status: axum::http::StatusCode, message: &str) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(message)
}

fn decision_to_result(decision: Decision, forbidden: &str) -> Result<(), ServerFnError> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::SignIn => Err(refuse(axum::http::StatusCode::UNAUTHORIZED, "Sign in first.")),
        Decision::Forbidden => Err(refuse(axum::http::StatusCode::FORBIDDEN, forbidden)),
    }
}

/// The signed-in user, if allowed `permission` (which names no account).
pub async fn require(permission: Permission<'_>, forbidden: &str) -> Result<Arc<User>, ServerFnError> {
    let user = current_user().await?;
    decision_to_result(decide(user.principal(), permission), forbidden)?;
    user.0.ok_or_else(|| refuse(axum::http::StatusCode::UNAUTHORIZED, "Sign in first."))
}

/// The signed-in user and the account, if they may act on it. An unknown
/// account is a 404 — after the sign-in check, so it reveals nothing.
pub async fn require_on_account(state: &AppState, id: &str, reconnect: bool) -> Result<(Arc<User>, AccountSummary), ServerFnError> {
    let user = current_user().await?;
    if user.0.is_none() {
        return Err(refuse(axum::http::StatusCode::UNAUTHORIZED, "Sign in first."));
    }
    let account = accounts::summary(&state.pool, id)
        .await
        .map_err(|e| internal("Loading the account failed", e))?
        .ok_or_else(|| refuse(axum::http::StatusCode::NOT_FOUND, "No such account."))?;
    let target = AccountRef { id: &account.id, owner: account.owner_id.as_deref(), backup_owner: account.backup_owner_id.as_deref() };
    let permission = if reconnect { Permission::Reconnect(target) } else { Permission::ActOn(target) };
    decision_to_result(
        decide(user.principal(), permission),
        "Only this account's owner, its backup owner or an admin can do this. Ask them, or an admin to make you an owner.",
    )?;
    let user = user.0.ok_or_else(|| refuse(axum::http::StatusCode::UNAUTHORIZED, "Sign in first."))?;
    Ok((user, account))
}
