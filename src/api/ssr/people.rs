//! Page views about people: "needs you", owners, links, users.

use crate::api::dto::*;
use crate::domain::access::{decide, AccountOwners, Decision, Permission, Principal, Role};
use crate::domain::prompts::{APP_BILLING, APP_CLOCK, APP_X_INCIDENT};
use crate::server::db::accounts::AccountSummary;
use crate::server::db::prompts::{self, Prompt};
use crate::server::db::users::User;
use crate::server::db::{links, users};
use crate::server::snapshot::Entry;
use crate::server::AppState;

fn principal(viewer: &User) -> Principal<'_> {
    Principal::User { id: &viewer.id, role: viewer.role }
}

fn account_owners(s: &AccountSummary) -> AccountOwners<'_> {
    AccountOwners { id: &s.id, owner: s.owner_id.as_deref(), backup_owner: s.backup_owner_id.as_deref() }
}

/// Whether `viewer` may refresh, check, reconnect and make links for `s`.
pub fn can_act(viewer: &User, s: &AccountSummary) -> bool {
    decide(principal(viewer), Permission::ActOn(account_owners(s))) == Decision::Allow
}

/// Whether an open prompt is addressed to `viewer`: their accounts; for
/// admins also the app's, the unowned accounts', and the escalated ones.
fn addressed_to(viewer: &User, p: &Prompt, account: Option<&AccountSummary>) -> bool {
    let admin = viewer.role == Role::Admin;
    match account {
        Some(a) => {
            a.is_owned_by(&viewer.id)
                || (admin && (p.escalated_at.is_some() || (a.owner_id.is_none() && a.backup_owner_id.is_none())))
        }
        None => admin,
    }
}

fn prompt_view(p: &Prompt, account: Option<&AccountSummary>) -> PromptView {
    let cause = p.cause.describe().to_owned();
    match account {
        Some(a) => PromptView {
            account_id: Some(a.id.clone()),
            what: format!("@{}", a.handle),
            cause,
            opened_at: p.opened_at,
            escalated: p.escalated_at.is_some(),
            href: format!("/accounts/{}/reconnect", a.id),
            action: "Reconnect".into(),
        },
        None if p.subject == APP_X_INCIDENT => PromptView {
            account_id: None,
            what: "X incident".into(),
            cause: format!("Many accounts failed the same way at once: {cause} Their prompts are held until X answers normally again."),
            opened_at: p.opened_at,
            escalated: p.escalated_at.is_some(),
            href: "/".into(),
            action: "See the accounts".into(),
        },
        None => PromptView {
            account_id: None,
            what: match p.subject.as_str() {
                APP_CLOCK => "This server's clock".into(),
                APP_BILLING => "The X app's credits".into(),
                _ => "The X app".into(),
            },
            cause,
            opened_at: p.opened_at,
            escalated: p.escalated_at.is_some(),
            href: "/settings".into(),
            action: "Open settings".into(),
        },
    }
}

/// The viewer's open prompts, oldest first.
pub async fn needs_you(state: &AppState, viewer: &User, entries: &[Entry]) -> Result<Vec<PromptView>, sqlx::Error> {
    let open = prompts::open(&state.pool).await?;
    // By id: one look-up per prompt, not a scan of every account.
    let by_id: std::collections::HashMap<&str, &AccountSummary> =
        entries.iter().map(|(s, _)| (s.id.as_str(), s)).collect();
    Ok(open
        .iter()
        .filter_map(|p| {
            let account = p.account_id.as_deref().and_then(|id| by_id.get(id).copied());
            if p.account_id.is_some() && account.is_none() {
                return None;
            }
            addressed_to(viewer, p, account).then(|| prompt_view(p, account))
        })
        .collect())
}

/// How many open prompts are addressed to the viewer (the header's badge).
pub async fn needs_you_count(state: &AppState, viewer: &User) -> Result<u32, sqlx::Error> {
    let entries = state.snapshot.get(&state.pool).await?;
    Ok(needs_you(state, viewer, &entries).await?.len() as u32)
}

/// Owners, permissions, links and the open prompt of one account.
pub async fn account_people(state: &AppState, s: &AccountSummary, viewer: &User) -> Result<AccountPeople, sqlx::Error> {
    let user_ref = |id: &Option<String>, name: &Option<String>| match (id, name) {
        (Some(id), Some(name)) => Some(UserRef { id: id.clone(), name: name.clone() }),
        _ => None,
    };
    let can_assign = decide(principal(viewer), Permission::Administer) == Decision::Allow;
    let can_act = can_act(viewer, s);
    let users = if can_assign {
        users::list(&state.pool)
            .await?
            .into_iter()
            .map(|u| UserRef { id: u.id, name: format!("{} ({})", u.name, u.email) })
            .collect()
    } else {
        Vec::new()
    };
    let links = if can_act {
        links::for_account(&state.pool, &s.id, 10)
            .await?
            .into_iter()
            .map(|l| {
                let open = crate::server::links::usable(&l, crate::server::x::now_ms()).is_ok();
                LinkView {
                    id: l.id,
                    created_by: l.created_by_name,
                    created_at: l.created_at,
                    expires_at: l.expires_at,
                    used_at: l.used_at,
                    open,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let prompt = prompts::for_account(&state.pool, &s.id, 1)
        .await?
        .into_iter()
        .find(|p| p.closed_at.is_none())
        .map(|p| prompt_view(&p, Some(s)));
    Ok(AccountPeople {
        owner: user_ref(&s.owner_id, &s.owner_name),
        backup_owner: user_ref(&s.backup_owner_id, &s.backup_owner_name),
        can_act,
        can_assign,
        users,
        links,
        prompt,
    })
}

/// Every user, for the users page.
pub async fn users(state: &AppState) -> Result<Vec<UserView>, sqlx::Error> {
    let entries = state.snapshot.get(&state.pool).await?;
    Ok(users::list(&state.pool)
        .await?
        .into_iter()
        .map(|u| {
            let owns = entries.iter().filter(|(s, _)| s.is_owned_by(&u.id)).count() as u32;
            UserView { id: u.id, name: u.name, email: u.email, role: u.role, created_at: u.created_at, owns }
        })
        .collect())
}
