//! Permits: proof that a signed-in user may do something to one account.
//! Only [`Permit::decide`] makes one, after asking `access::decide`; the
//! actions that need the permission take the permit, so none can run on an
//! account without the check having passed.

use super::CurrentUser;
use crate::domain::access::{decide, AccountOwners, Decision, Permission};
use crate::server::db::accounts::AccountSummary;
use crate::server::db::users::User;
use std::marker::PhantomData;
use std::sync::Arc;

/// What a [`Permit`] allows on its account.
pub trait OnAccount {
    fn permission(target: AccountOwners<'_>) -> Permission<'_>;
}

/// Acting on an account in its name: refresh, check, release or discard its
/// held posts, make or end its reconnect links.
pub enum ActOn {}

/// Reconnecting an account at X.
pub enum Reconnect {}

impl OnAccount for ActOn {
    fn permission(target: AccountOwners<'_>) -> Permission<'_> {
        Permission::ActOn(target)
    }
}

impl OnAccount for Reconnect {
    fn permission(target: AccountOwners<'_>) -> Permission<'_> {
        Permission::Reconnect(target)
    }
}

/// Proof that `user` may do `P` on `account`.
pub struct Permit<P: OnAccount> {
    user: Arc<User>,
    account: AccountSummary,
    allows: PhantomData<P>,
}

impl<P: OnAccount> Permit<P> {
    /// The permit, if `access::decide` allows `user` to do `P` on `account`;
    /// else what it decided instead.
    pub fn decide(user: &CurrentUser, account: AccountSummary) -> Result<Self, Decision> {
        let target = AccountOwners {
            id: &account.id,
            owner: account.owner_id.as_deref(),
            backup_owner: account.backup_owner_id.as_deref(),
        };
        match decide(user.principal(), P::permission(target)) {
            Decision::Allow => {}
            refused => return Err(refused),
        }
        let user = user.0.clone().ok_or(Decision::SignIn)?;
        Ok(Self { user, account, allows: PhantomData })
    }

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
