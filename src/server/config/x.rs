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
    /// The same X app's OAuth 1.0a credentials, when it offers the older flow too.
    pub oauth1: Option<Oauth1Config>,
}

/// An X app's OAuth 1.0a side: its consumer key and secret (X's "API key
/// and secret") and the 3-legged flow's endpoints.
#[derive(Debug, Clone)]
pub struct Oauth1Config {
    pub consumer_key: String,
    pub consumer_secret: Secret,
    /// The callback sent with each request token; X must have it registered.
    pub callback_url: Url,
    pub request_token_url: Url,
    /// Where the person approves: X's `/oauth/authorize` (or `/oauth/authenticate`).
    pub authorize_url: Url,
    pub access_token_url: Url,
    /// `GET /1.1/account/verify_credentials.json`: the signed call whose
    /// refusals carry X's codes (89, 32, 135).
    pub verify_credentials_url: Url,
}

impl Oauth1Config {
    /// The endpoints under `base` (X's `https://api.x.com`, or an emulator's base).
    pub fn at(base: &Url, consumer_key: String, consumer_secret: Secret, callback_url: Url) -> Self {
        let at = |path: &str| super::join(base, path);
        Self {
            consumer_key,
            consumer_secret,
            callback_url,
            request_token_url: at("oauth/request_token"),
            authorize_url: at("oauth/authorize"),
            access_token_url: at("oauth/access_token"),
            verify_credentials_url: at("1.1/account/verify_credentials.json"),
        }
    }
}

/// The OAuth 1.0a credentials, when configured: both variables or neither.
fn oauth1(src: &dyn Source, public_url: &Url, api_base: &Url) -> Result<Option<Oauth1Config>, ConfigError> {
    // AUTHWATCH_X_CONSUMER_KEY / AUTHWATCH_X_CONSUMER_SECRET: the X app's OAuth 1.0a
    // "API key and secret". Optional; both or neither. With them, the connect page
    // offers OAuth 1.0a besides OAuth 2.0.
    let key = non_empty(src, "AUTHWATCH_X_CONSUMER_KEY");
    let secret = non_empty(src, "AUTHWATCH_X_CONSUMER_SECRET").map(Secret::new);
    let (key, secret) = match (key, secret) {
        (None, None) => return Ok(None),
        (Some(key), Some(secret)) => (key, secret),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "AUTHWATCH_X_CONSUMER_SECRET",
                "required with AUTHWATCH_X_CONSUMER_KEY: OAuth 1.0a signs every request with both",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "AUTHWATCH_X_CONSUMER_KEY",
                "required with AUTHWATCH_X_CONSUMER_SECRET: OAuth 1.0a signs every request with both",
            ))
        }
    };
    // AUTHWATCH_X_OAUTH1_CALLBACK_URL: the OAuth 1.0a callback, registered with X like the
    // OAuth 2.0 one. Default `<AUTHWATCH_PUBLIC_URL>/auth/x1/callback`.
    let callback_url = match non_empty(src, "AUTHWATCH_X_OAUTH1_CALLBACK_URL") {
        Some(v) => parse_url("AUTHWATCH_X_OAUTH1_CALLBACK_URL", &v)?,
        None => Config::default_oauth1_callback_url(public_url),
    };
    // AUTHWATCH_X_OAUTH1_BASE: where X's OAuth 1.0a endpoints live (`/oauth/request_token`,
    // `/oauth/authorize`, `/oauth/access_token`, `/1.1/account/verify_credentials.json`).
    // Default: AUTHWATCH_X_API_BASE.
    let base = url_or(src, "AUTHWATCH_X_OAUTH1_BASE", api_base.clone())?;
    Ok(Some(Oauth1Config::at(&base, key, secret, callback_url)))
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
    let oauth1 = oauth1(src, public_url, &endpoints.api_base)?;
    Ok(XAppConfig { client_id, client_secret, client_type, callback_url, required_scopes, endpoints, oauth1 })
}
