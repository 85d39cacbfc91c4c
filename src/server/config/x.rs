//! The X app: real or emulated, its endpoints, its client and its scopes.

use super::source::{non_empty, parse_url, url_or, ConfigError, Source};
use super::Config;
use crate::domain::scopes::{Scopes, DEFAULT_REQUIRED};
use crate::server::secret::Secret;
use std::time::Duration;
use url::Url;

/// How long one call to X may take by default, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether X is real or emulated.
#[derive(Debug, Clone)]
pub enum XMode {
    /// No X app configured: the emulator is mounted in-process and demo
    /// accounts are connected through it.
    Demo,
    /// A real X app (or an external emulator) configured by the variables below.
    Live(Box<XAppConfig>),
}

/// How the X app authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// X "Web App" / "Automated App": HTTP Basic with the client secret.
    Confidential,
    /// X "Native App" / "Single page App": `client_id` in the body, no secret.
    Public,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
}

/// The four base URLs of X. Configurable so the same code talks to X in
/// production and to the emulator in tests.
#[derive(Debug, Clone)]
pub struct XEndpoints {
    pub authorize_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    pub api_base: Url,
}

impl XEndpoints {
    /// X's production endpoints.
    pub fn x() -> Self {
        Self::parse_defaults(
            "https://x.com/i/oauth2/authorize",
            "https://api.x.com/2/oauth2/token",
            "https://api.x.com/2/oauth2/revoke",
            "https://api.x.com",
        )
    }

    /// The endpoints of an emulator served at `base` (which may carry a path
    /// prefix, e.g. `http://127.0.0.1:3000/x-emulator`).
    pub fn emulator(base: &Url) -> Self {
        let base = base.as_str().trim_end_matches('/');
        Self::parse_defaults(
            &format!("{base}/i/oauth2/authorize"),
            &format!("{base}/2/oauth2/token"),
            &format!("{base}/2/oauth2/revoke"),
            base,
        )
    }

    fn parse_defaults(authorize: &str, token: &str, revoke: &str, api: &str) -> Self {
        let parse = |s: &str| Url::parse(s).unwrap_or_else(|e| panic!("built-in URL {s}: {e}"));
        Self {
            authorize_url: parse(authorize),
            token_url: parse(token),
            revoke_url: parse(revoke),
            api_base: parse(api),
        }
    }
}

/// A configured X app.
#[derive(Debug, Clone)]
pub struct XAppConfig {
    pub client_id: String,
    /// Absent for public clients.
    pub client_secret: Option<Secret>,
    pub client_type: ClientType,
    /// The URL to register with X as the app's callback.
    pub callback_url: Url,
    pub required_scopes: Scopes,
    pub endpoints: XEndpoints,
}

pub(super) fn x_app(src: &dyn Source, client_id: String, public_url: &Url) -> Result<XAppConfig, ConfigError> {
    // AUTHWATCH_X_CLIENT_TYPE: `confidential` (X "Web App"/"Automated App", the default)
    // or `public` (X "Native App"/"Single page App").
    let client_type = match non_empty(src, "AUTHWATCH_X_CLIENT_TYPE").as_deref() {
        None | Some("confidential") => ClientType::Confidential,
        Some("public") => ClientType::Public,
        Some(other) => {
            return Err(ConfigError::new(
                "AUTHWATCH_X_CLIENT_TYPE",
                format!("`{other}` is neither `confidential` nor `public`"),
            ))
        }
    };
    // AUTHWATCH_X_CLIENT_SECRET: the X app's client secret; required for confidential clients.
    let client_secret = non_empty(src, "AUTHWATCH_X_CLIENT_SECRET").map(Secret::new);
    if client_type == ClientType::Confidential && client_secret.is_none() {
        return Err(ConfigError::new(
            "AUTHWATCH_X_CLIENT_SECRET",
            "required for a confidential client (set AUTHWATCH_X_CLIENT_TYPE=public for a public one)",
        ));
    }
    // AUTHWATCH_X_CALLBACK_URL: the callback registered with X. Default
    // `<AUTHWATCH_PUBLIC_URL>/auth/x/callback`. X compares it exactly and forbids a query string.
    let callback_url = match non_empty(src, "AUTHWATCH_X_CALLBACK_URL") {
        Some(v) => parse_url("AUTHWATCH_X_CALLBACK_URL", &v)?,
        None => Config::default_callback_url(public_url),
    };
    if callback_url.query().is_some() {
        return Err(ConfigError::new("AUTHWATCH_X_CALLBACK_URL", "X rejects callback URLs with a query string"));
    }
    // AUTHWATCH_X_REQUIRED_SCOPES: space-separated scopes every account needs.
    // Default `tweet.read tweet.write users.read offline.access`.
    let required_scopes = match non_empty(src, "AUTHWATCH_X_REQUIRED_SCOPES") {
        Some(v) => {
            let scopes = Scopes::parse(&v);
            let unknown = scopes.unknown();
            if !unknown.is_empty() {
                return Err(ConfigError::new(
                    "AUTHWATCH_X_REQUIRED_SCOPES",
                    format!("X does not know the scope(s) {}", unknown.join(", ")),
                ));
            }
            scopes
        }
        None => Scopes::from_names(DEFAULT_REQUIRED.iter().copied()),
    };
    let defaults = XEndpoints::x();
    let endpoints = XEndpoints {
        // AUTHWATCH_X_AUTHORIZE_URL: default https://x.com/i/oauth2/authorize
        authorize_url: url_or(src, "AUTHWATCH_X_AUTHORIZE_URL", defaults.authorize_url)?,
        // AUTHWATCH_X_TOKEN_URL: default https://api.x.com/2/oauth2/token
        token_url: url_or(src, "AUTHWATCH_X_TOKEN_URL", defaults.token_url)?,
        // AUTHWATCH_X_REVOKE_URL: default https://api.x.com/2/oauth2/revoke
        revoke_url: url_or(src, "AUTHWATCH_X_REVOKE_URL", defaults.revoke_url)?,
        // AUTHWATCH_X_API_BASE: default https://api.x.com (v2 paths are appended)
        api_base: url_or(src, "AUTHWATCH_X_API_BASE", defaults.api_base)?,
    };
    Ok(XAppConfig { client_id, client_secret, client_type, callback_url, required_scopes, endpoints })
}
