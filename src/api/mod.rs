//! Server functions: the API between the pages and the server. They check
//! who is asking, validate, call server-only code, and return DTOs made for
//! the page — never database rows, never a token.

pub mod api_keys;
pub mod dto;
pub mod error;
pub mod held;
#[cfg(feature = "ssr")]
mod ssr;

#[cfg(feature = "ssr")]
use crate::domain::access::Permission;
use dto::*;
pub use error::ApiError;
use leptos::prelude::*;

/// What every page's header shows: the environment, and whether this is demo mode.
#[server(prefix = "/api/public")]
pub async fn instance_info() -> Result<AppInfo, ApiError> {
    let state = ssr::state()?;
    Ok(AppInfo {
        environment: state.config.environment.clone(),
        demo: state.config.is_demo(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        flows: ssr::flows(&state),
    })
}

/// The dashboard: every account's health, filtered, searched and paged.
#[server]
pub async fn load_dashboard(query: DashboardQuery) -> Result<Dashboard, ApiError> {
    if query.search.len() > 200 {
        return Err(ApiError::refused("The search is too long: 200 characters at most."));
    }
    let viewer = ssr::require(Permission::ViewAccounts, "").await?;
    let state = ssr::state()?;
    Ok(ssr::views::dashboard(&state, &query, &viewer).await?)
}

/// One account's page. `Ok(None)` for an unknown id: the page shows a 404.
#[server]
pub async fn load_account(id: String) -> Result<Option<AccountDetail>, ApiError> {
    let viewer = ssr::require(Permission::ViewAccounts, "").await?;
    if id.len() > 64 {
        return Ok(None);
    }
    let state = ssr::state()?;
    Ok(ssr::views::account(&state, &id, &viewer).await?)
}

/// The X app configuration as authwatch runs with it.
#[server]
pub async fn load_settings() -> Result<SettingsView, ApiError> {
    ssr::require(Permission::Administer, "Only admins can see the X app's settings.").await?;
    let state = ssr::state()?;
    Ok(ssr::views::settings(&state).await?)
}

/// Refreshes an account's tokens now. Answers what happened, in words.
#[server]
pub async fn refresh_now(id: String) -> Result<String, ApiError> {
    use crate::server::lifecycle::refresh::Refreshed;
    use crate::server::lifecycle::AccountError;
    let state = ssr::state()?;
    let permit = ssr::permit::<ssr::ActOn>(&state, &id).await?;
    match state.engine.refresh(&state, permit.account_id(), &permit.user().email, None).await {
        Ok(Refreshed::Saved { generation }) => Ok(format!("Refreshed: generation {generation} saved.")),
        Ok(Refreshed::LostRace { generation }) => {
            Ok(format!("Another refresh saved generation {generation} first; its tokens stand."))
        }
        Ok(Refreshed::NotDue { generation }) => Ok(format!("Generation {generation} is not due yet.")),
        Ok(Refreshed::Failed { cause, .. }) => Ok(format!("Refresh failed. {}", cause.describe())),
        Err(e) => Err(AccountError::shared(e).into()),
    }
}

/// Checks an account against X now (`GET /2/users/me`).
#[server]
pub async fn check_now(id: String) -> Result<String, ApiError> {
    use crate::server::lifecycle::check::{check, Checked, Proof};
    let state = ssr::state()?;
    let permit = ssr::permit::<ssr::ActOn>(&state, &id).await?;
    Ok(match check(&state, permit.account_id(), &permit.user().email, Proof::AskX).await? {
        Checked::Alive => "X confirmed the token works.".to_owned(),
        Checked::Failed { cause } => format!("Check failed. {}", cause.describe()),
    })
}

/// Demo mode only: makes something go wrong at the emulator, as it would at X.
#[server]
pub async fn run_demo_action(action: DemoAction, account_id: Option<String>) -> Result<String, ApiError> {
    use crate::server::db::accounts;
    use crate::server::demo::{CLIENT_ID, CLOCK_SKEW_SECS};
    ssr::require(Permission::Administer, "Only admins can use the demo panel.").await?;
    let state = ssr::state()?;
    // A form's empty choice ("— pick one —") is no account.
    let account_id = account_id.filter(|a| !a.is_empty());
    let Some(emulator) = &state.emulator else {
        return Err(ApiError::refused("The demo panel only works in demo mode."));
    };
    let x_user = match &account_id {
        Some(id) => {
            Some(accounts::summary(&state.pool, id).await?.ok_or_else(|| ApiError::refused("No such account."))?)
        }
        None => None,
    };
    let need_account = || x_user.as_ref().ok_or_else(|| ApiError::refused("Pick an account first."));
    Ok(match action {
        DemoAction::RevokeGrant => {
            let a = need_account()?;
            emulator.revoke_grant(CLIENT_ID, &a.x_user_id);
            format!(
                "@{} disconnected authwatch in X's settings. Check or refresh it to see authwatch notice.",
                a.handle
            )
        }
        DemoAction::ExpireToken => {
            let a = need_account()?;
            emulator.expire_access_tokens(CLIENT_ID, Some(&a.x_user_id));
            format!("X expired @{}'s access token. Its refresh token still works.", a.handle)
        }
        DemoAction::RotateAppSecret => {
            emulator.set_client_secret(CLIENT_ID, "rotated-at-x-by-the-demo");
            "X now expects a new client secret; authwatch still has the old one. The next refresh shows one app-level incident.".to_owned()
        }
        DemoAction::SkewClock => {
            emulator.set_clock_offset(CLOCK_SKEW_SECS);
            format!(
                "X's clock now runs {CLOCK_SKEW_SECS} s ahead of this server's. The next answer from X measures it."
            )
        }
    })
}

/// The result of the last connect or reconnect, once: reading it removes it.
#[server(prefix = "/api/public")]
pub async fn take_flash() -> Result<Option<Flash>, ApiError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let flash: Option<Flash> = session.remove(crate::server::auth_x::FLASH).await?;
    Ok(flash)
}

/// The result of the last action posted by a form, once: reading it removes it.
#[server(prefix = "/api/public")]
pub async fn take_notice() -> Result<Option<Notice>, ApiError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let notice: Option<Notice> = session.remove(crate::server::forms::NOTICE).await?;
    Ok(notice)
}

/// What to tell the person before sending them to X to reconnect `id`.
#[server]
pub async fn load_reconnect_brief(id: String) -> Result<Option<ReconnectBrief>, ApiError> {
    let state = ssr::state()?;
    let a = match ssr::permit::<ssr::Reconnect>(&state, &id).await {
        Ok(permit) => permit.into_account(),
        Err(_) if !exists(&state, &id).await? => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(ReconnectBrief {
        account_id: a.id,
        handle: a.handle,
        name: a.display_name,
        required_scopes: state.x.app().required_scopes.iter().map(str::to_owned).collect(),
        flows: ssr::flows(&state),
        flow: a.flow,
    }))
}

#[cfg(feature = "ssr")]
async fn exists(state: &crate::server::AppState, id: &str) -> Result<bool, ApiError> {
    Ok(crate::server::db::accounts::summary(&state.pool, id).await?.is_some())
}

/// The signed-in user for the header, or `None`.
#[server(prefix = "/api/public")]
pub async fn load_viewer() -> Result<Option<ViewerInfo>, ApiError> {
    let user = ssr::current_user().await;
    let Some(user) = user.0 else { return Ok(None) };
    let state = ssr::state()?;
    let needs_you = ssr::people::needs_you_count(&state, &user).await?;
    Ok(Some(ViewerInfo { name: user.name.clone(), email: user.email.clone(), role: user.role, needs_you }))
}

/// What the sign-in page shows: whether setup is needed; demo users in demo mode.
#[server(prefix = "/api/public")]
pub async fn load_sign_in_info() -> Result<SignInInfo, ApiError> {
    let state = ssr::state()?;
    let setup_needed = !crate::server::db::users::any(&state.pool).await?;
    let demo_users = if state.config.is_demo() {
        crate::server::demo::USERS
            .iter()
            .map(|u| DemoUserView {
                name: u.name.into(),
                email: u.email.into(),
                password: u.password.into(),
                role: u.role,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(SignInInfo { setup_needed, demo_users })
}

/// What a reconnect link's page shows. Anyone holding the link may ask.
#[server(prefix = "/api/public")]
pub async fn load_link_brief(secret: String) -> Result<LinkBrief, ApiError> {
    use crate::server::links::{self, LinkProblem};
    let state = ssr::state()?;
    let unusable =
        |title: &str, problem: LinkProblem| LinkBrief::Unusable { title: title.into(), message: problem.to_string() };
    let link = match links::find(&state, &secret).await {
        Ok(Some(link)) => link,
        Ok(None) => {
            if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
                r.set_status(axum::http::StatusCode::NOT_FOUND);
            }
            return Ok(unusable("This link is not valid", LinkProblem::Unknown));
        }
        Err(e) => return Err(error::internal("Checking the link failed", &e)),
    };
    if let Err(problem) = links::usable(&link, crate::server::x::now_ms()) {
        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(axum::http::StatusCode::GONE);
        }
        let title = match problem {
            LinkProblem::Used(_) => "This link was already used",
            _ => "This link has expired",
        };
        return Ok(unusable(title, problem));
    }
    let Some(a) = crate::server::db::accounts::summary(&state.pool, &link.account_id).await? else {
        return Ok(unusable("This link is not valid", LinkProblem::Unknown));
    };
    Ok(LinkBrief::Usable {
        handle: a.handle,
        name: a.display_name,
        expires_at: link.expires_at,
        required_scopes: state.x.app().required_scopes.iter().map(str::to_owned).collect(),
        flows: ssr::flows(&state),
    })
}

/// Makes a single-use reconnect link for an account (its owners and admins).
#[server]
pub async fn create_reconnect_link(account_id: String) -> Result<NewLinkView, ApiError> {
    let state = ssr::state()?;
    let permit = ssr::permit::<ssr::ActOn>(&state, &account_id).await?;
    let link = crate::server::links::create(&state, &permit).await?;
    tracing::info!(account_id = %permit.account_id(), link_id = %link.id, by = %permit.user().id, "reconnect link created");
    Ok(NewLinkView { url: link.url, expires_at: link.expires_at })
}

/// Ends an unused reconnect link now (the account's owners and admins).
#[server]
pub async fn revoke_reconnect_link(link_id: String) -> Result<String, ApiError> {
    use crate::server::db::links;
    let state = ssr::state()?;
    if ssr::current_user().await.0.is_none() {
        return Err(ApiError::SignIn);
    }
    let link = links::by_id(&state.pool, &link_id).await?;
    // An unknown link and a link of an account one may not act on answer alike.
    let account_id = link.map(|l| l.account_id).unwrap_or_default();
    let permit = ssr::permit::<ssr::ActOn>(&state, &account_id).await?;
    let now = crate::server::x::now_ms();
    if !crate::server::links::revoke(&state, &permit, &link_id, now).await? {
        return Err(ApiError::refused("That link was used or had expired already."));
    }
    Ok("Revoked: the link no longer works.".to_owned())
}

/// Sets an account's owner and backup owner (admins). Empty ids clear them.
#[server]
pub async fn assign_owners(account_id: String, owner: String, backup_owner: String) -> Result<String, ApiError> {
    use crate::server::db::{accounts, users};
    let admin = ssr::require(Permission::Administer, "Only admins can reassign owners.").await?;
    let state = ssr::state()?;
    let mut names = Vec::new();
    for id in [&owner, &backup_owner] {
        if id.is_empty() {
            names.push("nobody".to_owned());
            continue;
        }
        match users::by_id(&state.pool, id).await? {
            Some(u) => names.push(u.name),
            None => return Err(ApiError::refused("No such user.")),
        }
    }
    if !owner.is_empty() && owner == backup_owner {
        return Err(ApiError::refused("The backup owner must be someone else than the owner."));
    }
    let owners = accounts::Owners {
        owner: Some(owner).filter(|o| !o.is_empty()),
        backup: Some(backup_owner).filter(|b| !b.is_empty()),
    };
    let detail = format!("owner: {}; backup owner: {}", names[0], names[1]);
    let changed =
        accounts::set_owners(&state.pool, &account_id, &owners, &detail, &admin.email, crate::server::x::now_ms())
            .await?;
    if !changed {
        return Err(ApiError::refused("No such account."));
    }
    Ok(format!("Saved. {detail}."))
}

/// Every dashboard user (admins).
#[server]
pub async fn load_users() -> Result<Vec<UserView>, ApiError> {
    ssr::require(Permission::Administer, "Only admins can manage users.").await?;
    let state = ssr::state()?;
    Ok(ssr::people::users(&state).await?)
}

/// Adds a dashboard user (admins).
#[server]
pub async fn add_user(
    email: String,
    name: String,
    role: crate::domain::access::Role,
    password: String,
) -> Result<String, ApiError> {
    use crate::server::auth::password::PasswordError;
    use crate::server::db::users::{self, AddUserError};
    let admin = ssr::require(Permission::Administer, "Only admins can manage users.").await?;
    let state = ssr::state()?;
    let email = users::normalize_email(&email);
    if !email.contains('@') || email.len() > 320 {
        return Err(ApiError::refused("That is not an email address."));
    }
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::refused("Give a name (up to 200 characters)."));
    }
    let hash = match state.passwords.hash(password).await {
        Ok(h) => h,
        Err(e @ (PasswordError::TooShort | PasswordError::TooLong)) => {
            return Err(ApiError::refused(format!("The password is not accepted: {e}.")))
        }
        Err(PasswordError::Busy(_)) => {
            return Err(ApiError::refused(
                "authwatch is busy checking other passwords right now; nothing was added. Try again in a moment.",
            ))
        }
        Err(e) => return Err(error::internal("Hashing the password failed", &e)),
    };
    match users::add(&state.pool, &email, &name, &hash, role, crate::server::x::now_ms()).await {
        Ok(u) => {
            tracing::info!(user_id = %u.id, by = %admin.id, role = role.as_str(), "user added");
            Ok(format!(
                "Added {} ({}) as {}. Give them the password by a channel other than this one.",
                u.name,
                u.email,
                role.as_str()
            ))
        }
        Err(AddUserError::EmailTaken) => Err(ApiError::refused("A user with this email already exists.")),
        Err(AddUserError::Database(e)) => Err(e.into()),
    }
}

/// Removes a dashboard user (admins; not oneself, never the last admin).
#[server]
pub async fn remove_user(id: String) -> Result<String, ApiError> {
    use crate::server::db::users;
    let admin = ssr::require(Permission::Administer, "Only admins can manage users.").await?;
    if admin.id == id {
        return Err(ApiError::refused("You cannot remove yourself; ask another admin."));
    }
    let state = ssr::state()?;
    let Some(user) = users::by_id(&state.pool, &id).await? else {
        return Err(ApiError::not_found("No such user."));
    };
    if !users::remove(&state.pool, &id, &admin.email, crate::server::x::now_ms()).await? {
        return Err(ApiError::refused("The last admin cannot be removed."));
    }
    tracing::info!(user_id = %id, by = %admin.id, "user removed");
    Ok(format!("Removed {}. Accounts they owned now go to the admins until reassigned.", user.name))
}
