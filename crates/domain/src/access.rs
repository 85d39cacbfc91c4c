//! Who may do what: roles, and the access decisions every page, server
//! function and route asks. Pure, so the whole matrix is unit-tested here
//! and each entry point only has to ask.

use serde::{Deserialize, Serialize};

/// What a dashboard user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The X app's settings, users, and every account.
    Admin,
    /// Sees every account; refreshes, reconnects, makes links and gets
    /// prompts for the accounts they own.
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Admin, Role::Manager].into_iter().find(|r| r.as_str() == s)
    }
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal<'a> {
    Anonymous,
    User {
        id: &'a str,
        role: Role,
    },
    /// Someone holding a valid reconnect link for this account, and nothing else.
    LinkHolder {
        account_id: &'a str,
    },
}

/// What they want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission<'a> {
    /// The dashboard and account pages.
    ViewAccounts,
    /// Connect an X account authwatch does not watch yet (the connecting user owns it).
    ConnectNew,
    /// Refresh, check, reconnect, or make a reconnect link for one account.
    ActOn(AccountOwners<'a>),
    /// Reconnect one account, in the browser (a link holder may, for their account).
    Reconnect(AccountOwners<'a>),
    /// X app settings, users, owners, the demo panel.
    Administer,
}

/// The account an action is about, with its owners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountOwners<'a> {
    pub id: &'a str,
    pub owner: Option<&'a str>,
    pub backup_owner: Option<&'a str>,
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not signed in: 401, or a redirect to the sign-in page.
    SignIn,
    /// Signed in (or holding a link) but not allowed: 403.
    Forbidden,
}

/// Decides whether `who` may do `what`.
pub fn decide(who: Principal<'_>, what: Permission<'_>) -> Decision {
    match (who, what) {
        (Principal::User { role: Role::Admin, .. }, _) => Decision::Allow,
        (Principal::User { .. }, Permission::ViewAccounts | Permission::ConnectNew) => Decision::Allow,
        (Principal::User { id, .. }, Permission::ActOn(account) | Permission::Reconnect(account)) => {
            if account.owner == Some(id) || account.backup_owner == Some(id) {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        (Principal::User { .. }, Permission::Administer) => Decision::Forbidden,
        (Principal::LinkHolder { account_id }, Permission::Reconnect(account)) if account.id == account_id => {
            Decision::Allow
        }
        // A link opens one reconnect, not the dashboard: to anything else the
        // holder is anonymous.
        (Principal::LinkHolder { .. } | Principal::Anonymous, _) => Decision::SignIn,
    }
}

/// Failed sign-ins allowed per email within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILURES_PER_EMAIL: usize = 5;
/// Failed sign-ins allowed per client address within the window (an office
/// shares one address, so this is higher).
pub const MAX_FAILURES_PER_IP: usize = 20;
/// The throttle's window: a blocked sign-in works again at most this long
/// after the failures that blocked it, so nobody is locked out for good.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Whether a sign-in may be tried now, given the recent failures (times, in
/// ms, ascending) for the email and for the address. `Some(ms)`: blocked
/// for that much longer.
pub fn throttled(email_failures: &[i64], ip_failures: &[i64], now: i64) -> Option<i64> {
    let wait = |failures: &[i64], max: usize| -> Option<i64> {
        let recent: Vec<i64> = failures.iter().copied().filter(|at| now - at < THROTTLE_WINDOW_MS).collect();
        // Blocked until the failure that filled the budget leaves the window.
        (recent.len() >= max).then(|| recent[recent.len() - max] + THROTTLE_WINDOW_MS - now)
    };
    match (wait(email_failures, MAX_FAILURES_PER_EMAIL), wait(ip_failures, MAX_FAILURES_PER_IP)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNED: AccountOwners = AccountOwners { id: "acc_1", owner: Some("dana"), backup_owner: Some("bo") };

    #[test]
    fn the_matrix() {
        use Decision::*;
        let admin = Principal::User { id: "ada", role: Role::Admin };
        let owner = Principal::User { id: "dana", role: Role::Manager };
        let backup = Principal::User { id: "bo", role: Role::Manager };
        let other = Principal::User { id: "sam", role: Role::Manager };
        let link = Principal::LinkHolder { account_id: "acc_1" };
        let other_link = Principal::LinkHolder { account_id: "acc_2" };
        let anon = Principal::Anonymous;
        let rows: [(Permission, [Decision; 7]); 5] = [
            //                                  admin  owner  backup other      link       other_link anon
            (Permission::ViewAccounts, [Allow, Allow, Allow, Allow, SignIn, SignIn, SignIn]),
            (Permission::ConnectNew, [Allow, Allow, Allow, Allow, SignIn, SignIn, SignIn]),
            (Permission::ActOn(OWNED), [Allow, Allow, Allow, Forbidden, SignIn, SignIn, SignIn]),
            (Permission::Reconnect(OWNED), [Allow, Allow, Allow, Forbidden, Allow, SignIn, SignIn]),
            (Permission::Administer, [Allow, Forbidden, Forbidden, Forbidden, SignIn, SignIn, SignIn]),
        ];
        for (what, expected) in rows {
            for (who, want) in [admin, owner, backup, other, link, other_link, anon].into_iter().zip(expected) {
                assert_eq!(decide(who, what), want, "{who:?} × {what:?}");
            }
        }
    }

    #[test]
    fn an_unowned_account_is_the_admins_alone() {
        let unowned = AccountOwners { id: "acc_3", owner: None, backup_owner: None };
        assert_eq!(
            decide(Principal::User { id: "sam", role: Role::Manager }, Permission::ActOn(unowned)),
            Decision::Forbidden
        );
        assert_eq!(
            decide(Principal::User { id: "ada", role: Role::Admin }, Permission::ActOn(unowned)),
            Decision::Allow
        );
    }

    #[test]
    fn throttling_blocks_for_a_while_never_for_good() {
        let now = 100 * 60 * 1000;
        let four: Vec<i64> = (0..4).map(|i| now - 60_000 * (4 - i)).collect();
        assert_eq!(throttled(&four, &four, now), None, "four failures: one more try");
        let five: Vec<i64> = (0..5).map(|i| now - 60_000 * (5 - i)).collect();
        let wait = throttled(&five, &five, now).expect("five failures block");
        assert_eq!(wait, THROTTLE_WINDOW_MS - 5 * 60_000, "until the oldest of the five is 15 min old");
        assert_eq!(throttled(&five, &five, now + wait), None, "then it works again");
        let old: Vec<i64> = (0..50).map(|i| now - THROTTLE_WINDOW_MS - i).collect();
        assert_eq!(throttled(&old, &old, now), None, "failures outside the window do not count");
        let many_ip: Vec<i64> = (0..20).map(|i| now - 1000 * (20 - i)).collect();
        assert!(throttled(&[], &many_ip, now).is_some(), "an address guessing many emails is blocked");
    }
}
