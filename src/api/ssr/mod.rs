//! Server-side helpers of the server functions: the state, and the views
//! they build from repository rows.

pub mod people;
pub mod views;

use crate::server::AppState;
use leptos::prelude::*;

/// The application state, provided to every server function by the router.
pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| ApiError::Internal("The application state is missing".into()))
}

use super::error::ApiError;
use crate::domain::access::{decide, AccountRef, Decision, Permission};
use crate::server::auth::CurrentUser;
use crate::server::db::accounts::{self, AccountSummary};
use crate::server::db::users::User;
use std::marker::PhantomData;
use std::sync::Arc;

/// Who is asking (put on the request by the router's gate).
pub async fn current_user() -> CurrentUser {
    let axum::Extension(user) = leptos_axum::extract::<axum::Extension<CurrentUser>>().await.unwrap_or_default();
    user
}

fn allowed(decision: Decision, forbidden: &str) -> Result<(), ApiError> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::SignIn => Err(ApiError::SignIn),
        Decision::Forbidden => Err(ApiError::forbidden(forbidden)),
    }
}

/// The signed-in user, if allowed `permission` (which names no account).
/// A refusal sets the answer's status at once: pages call this too.
pub async fn require(permission: Permission<'_>, forbidden: &str) -> Result<Arc<User>, ApiError> {
    let user = current_user().await;
    allowed(decide(user.principal(), permission), forbidden).map_err(ApiError::now)?;
    user.0.ok_or(ApiError::SignIn).map_err(ApiError::now)
}

/// What a [`Permit`] allows on its account.
pub trait OnAccount {
    fn permission<'a>(target: AccountRef<'a>) -> Permission<'a>;
}

/// Acting on an account in its name: refresh, check, release or discard its
/// held posts, make or end its reconnect links.
pub enum ActOn {}

/// Reconnecting an account at X.
pub enum Reconnect {}

impl OnAccount for ActOn {
    fn permission<'a>(target: AccountRef<'a>) -> Permission<'a> {
        Permission::ActOn(target)
    }
}

impl OnAccount for Reconnect {
    fn permission<'a>(target: AccountRef<'a>) -> Permission<'a> {
        Permission::Reconnect(target)
    }
}

/// Proof that the signed-in user may do `P` on this account: only
/// [`permit`] makes one, after asking `access::decide`, and the actions
/// take it instead of an account id.
pub struct Permit<P: OnAccount> {
    user: Arc<User>,
    account: AccountSummary,
    allows: PhantomData<P>,
}

impl<P: OnAccount> Permit<P> {
    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn account(&self) -> &AccountSummary {
        &self.account
    }

    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    pub fn into_account(self) -> AccountSummary {
        self.account
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
    let target = AccountRef { id: &account.id, owner: account.owner_id.as_deref(), backup_owner: account.backup_owner_id.as_deref() };
    allowed(
        decide(user.principal(), P::permission(target)),
        "Only this account's owner, its backup owner or an admin can do this. Ask them, or an admin to make you an owner.",
    )?;
    let user = user.0.ok_or(ApiError::SignIn)?;
    Ok(Permit { user, account, allows: PhantomData })
}
