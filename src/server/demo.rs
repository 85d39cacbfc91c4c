//! Demo mode, the embedded default: the X emulator runs inside authwatch, an
//! X app is registered in it, and demo accounts are connected through the
//! real OAuth code path (authorize → consent → code → token exchange by our
//! client → users/me), then put into distinct states with the emulator's
//! controls — as a visitor could do from the demo panel.

use crate::domain::access::Role;
use crate::domain::scopes::{Scopes, DEFAULT_REQUIRED};
use crate::emulator::{ClientType as EmulatedClientType, Emulator, EmulatorSettings, NewApp, NewUser};
use crate::server::auth::password;
use crate::server::config::{join, ClientType, Config, Oauth1Config, XAppConfig, XEndpoints};
use crate::server::db::users;
use crate::server::lifecycle::check;
use crate::server::lifecycle::connect::{self, Completed, Intent};
use crate::server::lifecycle::AccountError;
use crate::server::secret::Secret;
use crate::server::AppState;
use rand::distributions::{Alphanumeric, DistString};
use url::Url;

/// Where the in-process emulator is mounted in demo mode.
pub const EMULATOR_MOUNT: &str = "/x-emulator";

/// The demo X app's client id.
pub const CLIENT_ID: &str = "authwatch-demo";
/// Who the event log says acted during seeding.
const ACTOR: &str = "demo";
/// How long the demo states stay as seeded before the refresh engine starts
/// (and refreshes the accounts that are due).
pub const ENGINE_DELAY: std::time::Duration = std::time::Duration::from_secs(120);
/// How far the demo skews X's clock: beyond the 30 s threshold.
pub const CLOCK_SKEW_SECS: i64 = 95;

/// A demo account and the state it is put in.
pub struct DemoAccount {
    pub x_user_id: &'static str,
    pub handle: &'static str,
    pub name: &'static str,
    pub state: DemoState,
}

/// The states demo mode shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoState {
    Healthy,
    /// Connected with a 10-minute token: inside the refresh lead time.
    NearExpiry,
    /// Connected with a 1-second token: expired, refresh token fine.
    Expired,
    /// A copy of the tokens (as a restored backup would) refreshed first, then
    /// authwatch's refresh was tried: X rejected the refresh token while the
    /// access token of the same generation still worked.
    TokensCopied,
    /// Consent granted without `tweet.write`.
    ScopeMissing,
    /// Grant revoked at X, then a check: users/me answered 401.
    Revoked,
    /// Healthy, checked after X's clock was skewed: the app-level drift warning.
    ClockDrift,
}

/// A dashboard user demo mode creates; the sign-in page shows them (in demo mode only).
pub struct DemoUser {
    pub email: &'static str,
    pub name: &'static str,
    pub password: &'static str,
    pub role: Role,
}

pub const ADMIN: DemoUser =
    DemoUser { email: "ada@demo.authwatch", name: "Ada Admin", password: "demo-admin-password", role: Role::Admin };
pub const MANAGER: DemoUser = DemoUser {
    email: "dana@demo.authwatch",
    name: "Dana Manager",
    password: "demo-manager-password",
    role: Role::Manager,
};
pub const USERS: &[DemoUser] = &[ADMIN, MANAGER];

/// Who owns which demo account: the manager owns half, among them two that
/// need a reconnect, so signing in as her shows "needs you".
fn demo_owner(handle: &str) -> &'static DemoUser {
    match handle {
        "acme_news" | "acme_sports" | "acme_events" | "acme_jobs" => &MANAGER,
        _ => &ADMIN,
    }
}

/// Creates the demo users (the demo database is new at every start).
pub async fn create_users(pool: &crate::server::db::Pool, passwords: &password::Passwords) -> Result<(), DemoError> {
    for u in USERS {
        let hash = passwords.hash(u.password.to_owned()).await.map_err(|e| DemoError::Users(e.to_string()))?;
        match users::add(pool, u.email, u.name, &hash, u.role, crate::server::x::now_ms()).await {
            Ok(_) | Err(users::AddUserError::EmailTaken) => {}
            Err(users::AddUserError::Database(e)) => return Err(DemoError::Users(e.to_string())),
        }
    }
    Ok(())
}

pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { x_user_id: "1600000000000000001", handle: "acme_news", name: "Acme News", state: DemoState::Healthy },
    DemoAccount {
        x_user_id: "1600000000000000002",
        handle: "acme_support",
        name: "Acme Support",
        state: DemoState::Healthy,
    },
    DemoAccount {
        x_user_id: "1600000000000000003",
        handle: "acme_sports",
        name: "Acme Sports",
        state: DemoState::NearExpiry,
    },
    DemoAccount {
        x_user_id: "1600000000000000004",
        handle: "acme_deals",
        name: "Acme Deals",
        state: DemoState::Expired,
    },
    DemoAccount {
        x_user_id: "1600000000000000005",
        handle: "acme_events",
        name: "Acme Events",
        state: DemoState::TokensCopied,
    },
    DemoAccount {
        x_user_id: "1600000000000000006",
        handle: "acme_jobs",
        name: "Acme Jobs",
        state: DemoState::ScopeMissing,
    },
    DemoAccount { x_user_id: "1600000000000000007", handle: "acme_labs", name: "Acme Labs", state: DemoState::Revoked },
    DemoAccount {
        x_user_id: "1600000000000000008",
        handle: "acme_travel",
        name: "Acme Travel",
        state: DemoState::ClockDrift,
    },
];

/// X users the emulator knows but authwatch has not connected: someone to
/// sign in as when trying "Connect account" or a wrong-account reconnect.
pub const UNCONNECTED: &[(&str, &str, &str)] =
    &[("1600000000000000101", "acme_careers", "Acme Careers"), ("1600000000000000102", "acme_press", "Acme Press")];

/// The in-process emulator with the demo app and users, and the app
/// configuration that points authwatch at it.
pub fn setup(public_url: &Url) -> (Emulator, XAppConfig) {
    let emulator = Emulator::new(EmulatorSettings::default());
    let secret = Alphanumeric.sample_string(&mut rand::thread_rng(), 40);
    let consumer_key = Alphanumeric.sample_string(&mut rand::thread_rng(), 25);
    let consumer_secret = Alphanumeric.sample_string(&mut rand::thread_rng(), 50);
    let callback_url = Config::default_callback_url(public_url);
    let oauth1_callback_url = Config::default_oauth1_callback_url(public_url);
    emulator
        .create_app(NewApp {
            name: "authwatch (demo)".into(),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(secret.clone()),
            client_type: EmulatedClientType::Confidential,
            callbacks: vec![callback_url.to_string(), oauth1_callback_url.to_string()],
            in_project: true,
            // The demo app offers OAuth 1.0a too, as many X apps do.
            consumer_key: Some(consumer_key.clone()),
            consumer_secret: Some(consumer_secret.clone()),
        })
        .expect("the demo app is valid");
    let emulator_base = join(public_url, EMULATOR_MOUNT.trim_start_matches('/'));
    let users = ACCOUNTS.iter().map(|a| (a.x_user_id, a.handle, a.name)).chain(UNCONNECTED.iter().copied());
    for (id, handle, name) in users {
        emulator.create_user(NewUser { id: Some(id.into()), username: handle.into(), name: name.into() });
    }
    let app = XAppConfig {
        client_id: CLIENT_ID.into(),
        client_secret: Some(Secret::new(secret)),
        client_type: ClientType::Confidential,
        callback_url,
        required_scopes: Scopes::from_names(DEFAULT_REQUIRED.iter().copied()),
        endpoints: XEndpoints::emulator(&emulator_base),
        oauth1: Some(Oauth1Config::at(&emulator_base, consumer_key, Secret::new(consumer_secret), oauth1_callback_url)),
    };
    (emulator, app)
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo consent at the emulator failed: {0}")]
    Consent(String),
    #[error(transparent)]
    Connect(#[from] connect::ConnectError),
    #[error(transparent)]
    Refresh(#[from] std::sync::Arc<AccountError>),
    #[error(transparent)]
    Check(#[from] AccountError),
    #[error("demo users: {0}")]
    Users(String),
}

/// Connects every demo account and puts it in its state. Needs the server
/// listening: our client reaches the emulator over HTTP, as it would reach X.
pub async fn seed(state: &AppState, emulator: &Emulator) -> Result<(), DemoError> {
    let defaults = EmulatorSettings::default();
    for account in ACCOUNTS {
        let ttl = match account.state {
            DemoState::NearExpiry => 10 * 60,
            DemoState::Expired => 1,
            _ => defaults.access_token_ttl_secs,
        };
        emulator.update_settings(|s| s.access_token_ttl_secs = ttl);
        let withheld = if account.state == DemoState::ScopeMissing { vec!["tweet.write".to_owned()] } else { vec![] };
        emulator.withhold_scopes(CLIENT_ID, withheld);
        let owner = users::credentials(&state.pool, demo_owner(account.handle).email)
            .await
            .map_err(|e| DemoError::Users(e.to_string()))?
            .map(|(u, _)| u.id);
        let connected = connect_as(state, account.x_user_id, &Intent::NewAccount, ACTOR, owner.as_deref()).await;
        emulator.update_settings(|s| s.access_token_ttl_secs = defaults.access_token_ttl_secs);
        emulator.withhold_scopes(CLIENT_ID, vec![]);
        let account_id = match connected? {
            Completed::Saved { connected, .. } => connected.account_id,
            Completed::WrongAccount { signed_in_as, .. } => {
                return Err(DemoError::Consent(format!("the emulator signed in as @{signed_in_as}")))
            }
        };
        match account.state {
            DemoState::TokensCopied => {
                // The copy holds the same tokens and the same app: it refreshes
                // through X's token endpoint exactly as authwatch would.
                let copy = crate::server::db::accounts::tokens(&state.pool, &state.keyring, &account_id)
                    .await
                    .map_err(AccountError::from)?
                    .and_then(|t| t.refresh)
                    .ok_or_else(|| DemoError::Consent("the demo account got no refresh token".into()))?;
                state
                    .x
                    .refresh(&copy)
                    .await
                    .map_err(|e| DemoError::Consent(format!("the copy's refresh failed: {e}")))?;
                state.engine.refresh(state, &account_id, ACTOR, None).await?;
            }
            DemoState::Revoked => {
                emulator.revoke_grant(CLIENT_ID, account.x_user_id);
                check::check(state, &account_id, ACTOR, check::Proof::AskX).await?;
            }
            DemoState::ClockDrift => {
                emulator.set_clock_offset(CLOCK_SKEW_SECS);
                check::check(state, &account_id, ACTOR, check::Proof::AskX).await?;
            }
            DemoState::Healthy | DemoState::NearExpiry | DemoState::Expired | DemoState::ScopeMissing => {}
        }
    }
    tracing::info!(accounts = ACCOUNTS.len(), "demo accounts connected through the emulator");
    Ok(())
}

/// Goes through the whole authorization as the X user `x_user_id` would in a
/// browser: open the authorize URL, pick the account, click "Authorize app",
/// follow the redirect to the callback — then finish like the callback does.
pub async fn connect_as(
    state: &AppState,
    x_user_id: &str,
    intent: &Intent,
    actor: &str,
    owner: Option<&str>,
) -> Result<Completed, DemoError> {
    let auth = state.x.authorize(&state.x.app().required_scopes);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| DemoError::Consent(e.to_string()))?;
    let mut form: Vec<(String, String)> = auth.url.query_pairs().into_owned().collect();
    form.push(("user_id".into(), x_user_id.into()));
    form.push(("action".into(), "authorize".into()));
    let mut consent_url = auth.url.clone();
    consent_url.set_query(None);
    let answer = browser.post(consent_url).form(&form).send().await.map_err(|e| DemoError::Consent(e.to_string()))?;
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| Url::parse(l).ok())
        .ok_or_else(|| DemoError::Consent(format!("no redirect from the consent page (HTTP {})", answer.status())))?;
    let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("state").as_deref() != Some(auth.state.expose()) {
        return Err(DemoError::Consent("the redirect carried another state".into()));
    }
    let code = param("code").ok_or_else(|| DemoError::Consent("the redirect carried no code".into()))?;
    let outcome = connect::complete(state, &code, &auth.verifier, intent, actor, owner).await?;
    if let connect::Completed::Saved { connected, .. } = &outcome {
        // As the callback does: posts held for the account can go out now.
        crate::server::pipeline::after_reconnect(state, &connected.account_id);
    }
    Ok(outcome)
}
