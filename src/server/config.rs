//! authwatch's configuration, read once at start-up from the environment.
//!
//! Every variable is documented where it is read. A malformed value stops
//! start-up with a message that names the variable. authwatch runs against a
//! configured X app (`AUTHWATCH_X_CLIENT_ID`…), or — only when asked for with
//! `AUTHWATCH_DEMO=1` or `authwatch serve --demo` — in **demo mode** against
//! its built-in X emulator. Neither, or both, stops start-up: a missing
//! variable must never turn a production install into a demo with a
//! published admin password.

use crate::domain::scopes::{Scopes, DEFAULT_REQUIRED};
use crate::server::secret::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Where configuration values come from: the process environment in
/// production, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// Variables from a list instead of the environment (tests, benchmarks):
/// the first value given for a name wins.
pub struct Vars(pub Vec<(String, String)>);

impl Source for Vars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A configuration value that could not be used; start-up stops with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self { var, problem: problem.into() }
    }
}

/// Whether X is real or emulated.
#[derive(Debug, Clone)]
pub enum XMode {
    /// No X app configured: the emulator is mounted in-process and demo
    /// accounts are connected through it.
    Demo,
    /// A real X app (or an external emulator) configured by the variables below.
    Live(XAppConfig),
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

/// Everything authwatch runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory for the SQLite database and the generated encryption key.
    pub data_dir: PathBuf,
    /// sqlx database URL, when configured; see [`Config::database_url`].
    pub database_url: Option<String>,
    /// The address the server listens on.
    pub site_addr: SocketAddr,
    /// The URL people reach authwatch at (scheme, host, port, optional path).
    pub public_url: Url,
    /// A label shown on every page so nobody mistakes staging for production.
    pub environment: String,
    pub x: XMode,
    /// Base64 of a 32-byte AES-256 key for tokens at rest; generated into the
    /// data directory on first run when absent.
    pub encryption_key: Option<Secret>,
    /// Base64 keys that were current before, kept to decrypt old tokens.
    pub previous_encryption_keys: Vec<Secret>,
    /// `tracing` filter directives.
    pub log_filter: String,
    /// Refresh an access token this long before it expires.
    pub refresh_lead: Duration,
    /// A measured offset of X's clock beyond this is a problem.
    pub clock_drift_threshold: Duration,
    /// How long a person has between leaving for X and coming back.
    pub oauth_attempt_ttl: Duration,
    /// How often the refresh engine looks for due accounts.
    pub sweep_every: Duration,
    /// Refreshes in flight at once.
    pub refresh_concurrency: usize,
    /// How long one call to X may take; refresh leases last twice this.
    pub x_timeout: Duration,
    /// The daily check's time of day, UTC, in minutes after midnight.
    pub daily_check_at_minute: u32,
    /// A successful refresh this recent counts as the daily check's proof of life.
    pub proof_of_life: Duration,
    /// Dashboard users, prompts and the channels that carry them.
    pub people: PeopleConfig,
    /// Pipeline API: the token broker refreshes a token expiring within this long.
    pub api_token_min_lifetime: Duration,
    /// Pipeline API: how long an API key and an account's token may be served
    /// from memory before the database is read again (zero: every call reads it).
    pub api_cache_ttl: Duration,
    /// Pipeline API: what happens to held posts after a successful reconnect.
    pub held_posts: HeldPosts,
    /// The bearer token `/metrics` asks for; without one, `/metrics` is off.
    pub metrics_token: Option<Secret>,
    /// When many accounts failing the same way are one X incident.
    pub incidents: crate::domain::incidents::Thresholds,
    /// How often at most X is asked whether an app-level or X incident is over.
    pub probe_every: Duration,
}

/// Sign-in sessions, prompts, reconnect links and notification channels.
#[derive(Debug, Clone)]
pub struct PeopleConfig {
    /// A dashboard session ends after this long without a request.
    pub session_idle: Duration,
    /// A dashboard session ends this long after sign-in, however busy.
    pub session_max: Duration,
    /// An open prompt nobody acted on goes to the admins after this long.
    pub escalate_after: Duration,
    /// How long a reconnect link works.
    pub link_ttl: Duration,
    /// How often prompts are reconciled with the accounts' health and queued
    /// messages are delivered.
    pub notify_every: Duration,
    /// A generic JSON webhook, signed with HMAC-SHA256.
    pub webhook: Option<Webhook>,
    /// A Slack incoming-webhook URL (or anything that takes Slack's payload).
    pub slack_webhook_url: Option<Secret>,
    /// Email over SMTP.
    pub smtp: Option<Smtp>,
    /// How many reverse proxies in front of authwatch append to
    /// `X-Forwarded-For`: the client address for sign-in throttling is the
    /// entry that many from the end. 0: the connection's own address.
    pub forwarded_for_hops: usize,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Url,
    pub secret: Secret,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    /// lettre's SMTP URL; it may hold a password, so it is a secret.
    pub url: Secret,
    pub from: String,
}

/// What happens to an account's held posts once it is reconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldPosts {
    /// Published at once, oldest first.
    Release,
    /// Kept until a person releases them on the account page.
    Wait,
}

/// Command-line values that take precedence over the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub site_addr: Option<SocketAddr>,
    /// `--demo`: run the demo, as `AUTHWATCH_DEMO=1` does.
    pub demo: bool,
}

impl Config {
    /// Reads the configuration. `site_addr` is the address from Leptos.toml
    /// (or `LEPTOS_SITE_ADDR`), used unless `overrides` names another.
    pub fn load(src: &dyn Source, site_addr: SocketAddr, overrides: Overrides) -> Result<Self, ConfigError> {
        let site_addr = overrides.site_addr.unwrap_or(site_addr);

        // AUTHWATCH_DATA_DIR: where the SQLite file and generated key live. Default `data`.
        let data_dir = overrides
            .data_dir
            .or_else(|| non_empty(src, "AUTHWATCH_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("data"));

        // AUTHWATCH_DATABASE_URL: an sqlx URL. Default: `sqlite://<data dir>/authwatch.db`,
        // or `sqlite://<data dir>/demo.db` in demo mode (reset at each start).
        let database_url = match non_empty(src, "AUTHWATCH_DATABASE_URL") {
            Some(url) if url.starts_with("sqlite:") => Some(url),
            Some(_) => {
                return Err(ConfigError::new(
                    "AUTHWATCH_DATABASE_URL",
                    "only sqlite: URLs are supported in this version (e.g. sqlite://data/authwatch.db)",
                ))
            }
            None => None,
        };

        // AUTHWATCH_PUBLIC_URL: the URL people and X's redirects reach authwatch at.
        // Default `http://<site address>`.
        let public_url = match non_empty(src, "AUTHWATCH_PUBLIC_URL") {
            Some(v) => parse_url("AUTHWATCH_PUBLIC_URL", &v)?,
            None => parse_url("AUTHWATCH_PUBLIC_URL", &format!("http://{site_addr}"))?,
        };

        // AUTHWATCH_DEMO: `1` (or `--demo`) runs the demo: the built-in X emulator,
        // demo users whose passwords the sign-in page shows, and demo accounts, all
        // in a throwaway `<data dir>/demo.db`. Default off.
        let demo = overrides.demo || flag(src, "AUTHWATCH_DEMO")?;
        // AUTHWATCH_X_CLIENT_ID: the X app's OAuth 2.0 client id. Required unless demo mode.
        let x = match (demo, non_empty(src, "AUTHWATCH_X_CLIENT_ID")) {
            (true, None) => XMode::Demo,
            (false, Some(client_id)) => XMode::Live(x_app(src, client_id, &public_url)?),
            (true, Some(_)) => {
                return Err(ConfigError::new(
                    "AUTHWATCH_DEMO",
                    "demo mode runs against the built-in X emulator, but AUTHWATCH_X_CLIENT_ID configures a real X app: \
                     unset one of them (AUTHWATCH_DEMO / --demo, or AUTHWATCH_X_CLIENT_ID)",
                ))
            }
            (false, None) => {
                return Err(ConfigError::new(
                    "AUTHWATCH_X_CLIENT_ID",
                    "not set, and demo mode was not asked for. Either configure your X app \
                     (AUTHWATCH_X_CLIENT_ID and AUTHWATCH_X_CLIENT_SECRET; see the README), or run the demo \
                     with `authwatch serve --demo` or AUTHWATCH_DEMO=1",
                ))
            }
        };

        // AUTHWATCH_ENVIRONMENT: a label such as production or staging. Default
        // `demo` in demo mode, `production` otherwise.
        let environment = non_empty(src, "AUTHWATCH_ENVIRONMENT").unwrap_or_else(|| match x {
            XMode::Demo => "demo".into(),
            XMode::Live(_) => "production".into(),
        });
        if demo {
            refuse_unsafe_demo(database_url.as_deref(), &environment, site_addr)?;
        }

        // AUTHWATCH_ENCRYPTION_KEY: base64 of 32 random bytes (`openssl rand -base64 32`).
        let encryption_key = non_empty(src, "AUTHWATCH_ENCRYPTION_KEY").map(Secret::new);
        // AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS: comma-separated older keys, to read tokens
        // encrypted before a key rotation.
        let previous_encryption_keys = non_empty(src, "AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS")
            .map(|v| v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(Secret::new).collect())
            .unwrap_or_default();

        // AUTHWATCH_LOG: tracing filter, e.g. `info` or `authwatch=debug`. Default `info`.
        let log_filter = non_empty(src, "AUTHWATCH_LOG").unwrap_or_else(|| "info".into());

        // AUTHWATCH_REFRESH_LEAD_SECS: refresh this many seconds before expiry. Default 900 (15 min).
        let refresh_lead = secs(src, "AUTHWATCH_REFRESH_LEAD_SECS", 900)?;
        // AUTHWATCH_CLOCK_DRIFT_THRESHOLD_SECS: warn when X's clock and ours differ by more. Default 30.
        let clock_drift_threshold = secs(src, "AUTHWATCH_CLOCK_DRIFT_THRESHOLD_SECS", 30)?;
        // AUTHWATCH_OAUTH_ATTEMPT_TTL_SECS: how long a connect/reconnect may take
        // between leaving for X and the callback. Default 600 (10 min).
        let oauth_attempt_ttl = secs(src, "AUTHWATCH_OAUTH_ATTEMPT_TTL_SECS", 600)?;

        // AUTHWATCH_SWEEP_INTERVAL_SECS: how often the engine looks for due accounts. Default 30.
        let sweep_every = secs(src, "AUTHWATCH_SWEEP_INTERVAL_SECS", 30)?;
        // AUTHWATCH_REFRESH_CONCURRENCY: refreshes in flight at once during a sweep. Default 4.
        let refresh_concurrency = match non_empty(src, "AUTHWATCH_REFRESH_CONCURRENCY") {
            None => 4,
            Some(v) => v.parse::<usize>().ok().filter(|n| (1..=256).contains(n)).ok_or_else(|| {
                ConfigError::new("AUTHWATCH_REFRESH_CONCURRENCY", format!("`{v}` is not a number between 1 and 256"))
            })?,
        };

        // AUTHWATCH_DAILY_CHECK_AT: the daily check's time, HH:MM in UTC ("before publish time"). Default 06:00.
        let daily_check_at_minute = match non_empty(src, "AUTHWATCH_DAILY_CHECK_AT") {
            None => 6 * 60,
            Some(v) => parse_hhmm(&v).ok_or_else(|| {
                ConfigError::new("AUTHWATCH_DAILY_CHECK_AT", format!("`{v}` is not a time of day as HH:MM (UTC)"))
            })?,
        };
        // AUTHWATCH_PROOF_OF_LIFE_SECS: a successful refresh this recent spares the
        // daily check's users/me call (billed per call on some plans). Default 21600 (6 h).
        let proof_of_life = secs(src, "AUTHWATCH_PROOF_OF_LIFE_SECS", 6 * 3600)?;

        // AUTHWATCH_X_TIMEOUT_SECS: how long one call to X may take, connection
        // included. Refresh leases last twice this. Default 15.
        let x_timeout = secs(src, "AUTHWATCH_X_TIMEOUT_SECS", 15)?;

        let people = people(src)?;

        // AUTHWATCH_API_TOKEN_MIN_LIFETIME_SECS: the pipeline API's token broker
        // refreshes a token that expires within this many seconds. Default 60.
        let api_token_min_lifetime = secs(src, "AUTHWATCH_API_TOKEN_MIN_LIFETIME_SECS", 60)?;
        // AUTHWATCH_API_CACHE_MS: how long the pipeline API may answer from memory
        // (API keys, an account's current token) before reading the database again;
        // a revocation or another process's refresh is seen after at most this long.
        // 0 reads the database on every call. Default 1000.
        let api_cache_ttl = match non_empty(src, "AUTHWATCH_API_CACHE_MS") {
            None => Duration::from_millis(1000),
            Some(v) => v.parse::<u64>().ok().filter(|n| *n <= 60_000).map(Duration::from_millis).ok_or_else(|| {
                ConfigError::new("AUTHWATCH_API_CACHE_MS", format!("`{v}` is not a number of milliseconds between 0 and 60000"))
            })?,
        };
        // AUTHWATCH_HELD_POSTS: `release` publishes an account's held posts, oldest
        // first, right after it is reconnected; `wait` keeps them until a person
        // releases them on the account page. Default `release`.
        let held_posts = match non_empty(src, "AUTHWATCH_HELD_POSTS").as_deref() {
            None | Some("release") => HeldPosts::Release,
            Some("wait") => HeldPosts::Wait,
            Some(other) => {
                return Err(ConfigError::new("AUTHWATCH_HELD_POSTS", format!("`{other}` is neither `release` nor `wait`")))
            }
        };

        // AUTHWATCH_METRICS_TOKEN: `/metrics` answers only requests carrying
        // `Authorization: Bearer <this>` (at least 16 characters; e.g. `openssl rand -hex 32`).
        // Unset: `/metrics` is off (404).
        let metrics_token = match non_empty(src, "AUTHWATCH_METRICS_TOKEN") {
            None => None,
            Some(v) if v.len() < 16 => {
                return Err(ConfigError::new("AUTHWATCH_METRICS_TOKEN", "too short to be a secret: use at least 16 random characters"))
            }
            Some(v) => Some(Secret::new(v)),
        };
        // AUTHWATCH_INCIDENT_MIN_ACCOUNTS, AUTHWATCH_INCIDENT_MIN_SHARE_PERCENT,
        // AUTHWATCH_INCIDENT_WINDOW_SECS: at least this many accounts, and at least
        // this share of the accounts X was asked about, failing the same way within
        // this long are one X incident: one prompt for the admins instead of one per
        // account. Defaults 5, 25 and 600 (see domain::incidents::Thresholds).
        let defaults = crate::domain::incidents::Thresholds::default();
        let incidents = crate::domain::incidents::Thresholds {
            min_accounts: bounded(src, "AUTHWATCH_INCIDENT_MIN_ACCOUNTS", defaults.min_accounts as u64, 1..=100_000)? as usize,
            min_share_percent: bounded(src, "AUTHWATCH_INCIDENT_MIN_SHARE_PERCENT", u64::from(defaults.min_share_percent), 0..=100)? as u32,
            window_ms: secs(src, "AUTHWATCH_INCIDENT_WINDOW_SECS", defaults.window_ms as u64 / 1000)?.as_millis() as i64,
        };
        // AUTHWATCH_PROBE_INTERVAL_SECS: while X refuses the app's calls for billing
        // (402) or an X incident is open, X is asked at most this often whether it is
        // over. Default 300: X's auto-recharge runs at most once per 5 minutes.
        let probe_every = secs(src, "AUTHWATCH_PROBE_INTERVAL_SECS", 300)?;

        Ok(Self {
            incidents,
            probe_every,
            metrics_token,
            people,
            api_token_min_lifetime,
            api_cache_ttl,
            held_posts,
            x_timeout,
            daily_check_at_minute,
            proof_of_life,
            sweep_every,
            refresh_concurrency,
            refresh_lead,
            clock_drift_threshold,
            oauth_attempt_ttl,
            data_dir,
            database_url,
            site_addr,
            public_url,
            environment,
            x,
            encryption_key,
            previous_encryption_keys,
            log_filter,
        })
    }

    pub fn is_demo(&self) -> bool {
        matches!(self.x, XMode::Demo)
    }

    /// The database URL: configured, or a file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.default_database_file().display()))
    }

    /// The file the database lives in when no URL is configured. Demo mode
    /// keeps its own file: the emulator's state lives in memory, so demo
    /// tokens mean nothing after a restart.
    pub fn default_database_file(&self) -> PathBuf {
        self.data_dir.join(if self.is_demo() { "demo.db" } else { "authwatch.db" })
    }

    /// The OAuth callback authwatch hosts, under the public URL.
    pub fn default_callback_url(public_url: &Url) -> Url {
        join(public_url, "auth/x/callback")
    }
}

fn people(src: &dyn Source) -> Result<PeopleConfig, ConfigError> {
    // AUTHWATCH_SESSION_IDLE_SECS: sign-in sessions end after this long without a
    // request (to within a minute). Default 1800 (30 min, OWASP ASVS level 2).
    let session_idle = secs(src, "AUTHWATCH_SESSION_IDLE_SECS", 30 * 60)?;
    // AUTHWATCH_SESSION_MAX_SECS: sign-in sessions end this long after signing in,
    // however active. Default 43200 (12 h, OWASP ASVS level 2).
    let session_max = secs(src, "AUTHWATCH_SESSION_MAX_SECS", 12 * 3600)?;
    // AUTHWATCH_ESCALATE_AFTER_SECS: a prompt nobody acted on goes to the admins after this. Default 14400 (4 h).
    let escalate_after = secs(src, "AUTHWATCH_ESCALATE_AFTER_SECS", 4 * 3600)?;
    // AUTHWATCH_RECONNECT_LINK_TTL_SECS: how long a reconnect link works. Default 259200 (72 h).
    let link_ttl = secs(src, "AUTHWATCH_RECONNECT_LINK_TTL_SECS", 72 * 3600)?;
    // AUTHWATCH_NOTIFY_INTERVAL_SECS: how often prompts are raised, escalated and closed,
    // and queued messages delivered. Default 15.
    let notify_every = secs(src, "AUTHWATCH_NOTIFY_INTERVAL_SECS", 15)?;
    // AUTHWATCH_WEBHOOK_URL: POST a JSON message for every prompt change here, signed with
    // AUTHWATCH_WEBHOOK_SECRET (HMAC-SHA256, header `X-Authwatch-Signature`).
    let webhook = match non_empty(src, "AUTHWATCH_WEBHOOK_URL") {
        None => None,
        Some(v) => {
            let url = parse_url("AUTHWATCH_WEBHOOK_URL", &v)?;
            let secret = non_empty(src, "AUTHWATCH_WEBHOOK_SECRET")
                .map(Secret::new)
                .ok_or_else(|| ConfigError::new("AUTHWATCH_WEBHOOK_SECRET", "required with AUTHWATCH_WEBHOOK_URL: receivers check the signature"))?;
            Some(Webhook { url, secret })
        }
    };
    // AUTHWATCH_SLACK_WEBHOOK_URL: a Slack incoming webhook for the same messages, as Slack text.
    let slack_webhook_url = match non_empty(src, "AUTHWATCH_SLACK_WEBHOOK_URL") {
        None => None,
        Some(v) => Some(Secret::new(parse_url("AUTHWATCH_SLACK_WEBHOOK_URL", &v)?.to_string())),
    };
    // AUTHWATCH_SMTP_URL: send email through this server, e.g. `smtps://user:pass@smtp.example.com`
    // or `smtp://localhost:25`; AUTHWATCH_SMTP_FROM: the sender, e.g. `authwatch <ops@example.com>`.
    let smtp = match non_empty(src, "AUTHWATCH_SMTP_URL") {
        None => None,
        Some(v) => {
            if !(v.starts_with("smtp://") || v.starts_with("smtps://")) {
                return Err(ConfigError::new("AUTHWATCH_SMTP_URL", "must start with smtp:// or smtps://"));
            }
            let from = non_empty(src, "AUTHWATCH_SMTP_FROM")
                .ok_or_else(|| ConfigError::new("AUTHWATCH_SMTP_FROM", "required with AUTHWATCH_SMTP_URL"))?;
            Some(Smtp { url: Secret::new(v), from })
        }
    };
    // AUTHWATCH_FORWARDED_FOR_HOPS: reverse proxies in front that append to X-Forwarded-For
    // (1 behind one nginx). Default 0: trust no header, use the connection's address.
    let forwarded_for_hops = match non_empty(src, "AUTHWATCH_FORWARDED_FOR_HOPS") {
        None => 0,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n <= 10).ok_or_else(|| {
            ConfigError::new("AUTHWATCH_FORWARDED_FOR_HOPS", format!("`{v}` is not a number of proxies between 0 and 10"))
        })?,
    };
    Ok(PeopleConfig { session_idle, session_max, escalate_after, link_ttl, notify_every, webhook, slack_webhook_url, smtp, forwarded_for_hops })
}

fn x_app(src: &dyn Source, client_id: String, public_url: &Url) -> Result<XAppConfig, ConfigError> {
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

/// Demo mode publishes its admin password on the sign-in page and resets its
/// database at every start: it must never touch a real database, call itself
/// production, or be reachable from another machine.
fn refuse_unsafe_demo(database_url: Option<&str>, environment: &str, site_addr: SocketAddr) -> Result<(), ConfigError> {
    if database_url.is_some() {
        return Err(ConfigError::new(
            "AUTHWATCH_DATABASE_URL",
            "demo mode keeps its data in its own file (<data dir>/demo.db) and resets it at every start, so it refuses \
             a configured database: unset AUTHWATCH_DATABASE_URL, or configure an X app instead of demo mode",
        ));
    }
    if environment.eq_ignore_ascii_case("production") {
        return Err(ConfigError::new(
            "AUTHWATCH_ENVIRONMENT",
            "demo mode cannot be labelled production: its admin password is printed on the sign-in page",
        ));
    }
    if !site_addr.ip().is_loopback() {
        return Err(ConfigError::new(
            "LEPTOS_SITE_ADDR",
            format!(
                "demo mode listens on loopback only (127.0.0.1 or [::1]), not {site_addr}: its admin password is printed \
                 on the sign-in page"
            ),
        ));
    }
    Ok(())
}

/// A yes/no variable: `1`/`true`/`yes` or `0`/`false`/`no` (unset: no).
fn flag(src: &dyn Source, var: &'static str) -> Result<bool, ConfigError> {
    match non_empty(src, var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::new(var, format!("`{other}` is neither 1 nor 0"))),
    }
}

fn parse_hhmm(v: &str) -> Option<u32> {
    let (h, m) = v.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn secs(src: &dyn Source, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match non_empty(src, var) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400 * 7).contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| ConfigError::new(var, format!("`{v}` is not a number of seconds between 1 and 604800"))),
    }
}

fn bounded(src: &dyn Source, var: &'static str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, ConfigError> {
    match non_empty(src, var) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            ConfigError::new(var, format!("`{v}` is not a number between {} and {}", range.start(), range.end()))
        }),
    }
}

fn non_empty(src: &dyn Source, var: &str) -> Option<String> {
    src.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn url_or(src: &dyn Source, var: &'static str, default: Url) -> Result<Url, ConfigError> {
    match non_empty(src, var) {
        Some(v) => parse_url(var, &v),
        None => Ok(default),
    }
}

fn parse_url(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::new(var, format!("`{value}` is not a URL ({e})")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(ConfigError::new(var, format!("`{value}` must be http or https, not {other}"))),
    }
}

/// Appends a path below `base`, keeping any path prefix `base` has.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}/{path}"));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:3000".parse().unwrap()
    }

    #[test]
    fn nothing_configured_stops_and_names_both_ways_out() {
        let err = Config::load(&MapSource(&[("UNRELATED", "x")]), addr(), Overrides::default()).unwrap_err();
        assert_eq!(err.var, "AUTHWATCH_X_CLIENT_ID");
        let message = err.to_string();
        assert!(message.contains("AUTHWATCH_DEMO=1") && message.contains("--demo"), "{message}");
        assert!(message.contains("AUTHWATCH_X_CLIENT_SECRET"), "{message}");
    }

    #[test]
    fn demo_mode_by_choice_with_local_defaults() {
        for (vars, demo_flag) in [(&[("AUTHWATCH_DEMO", "1")][..], false), (&[][..], true)] {
            let overrides = Overrides { demo: demo_flag, ..Overrides::default() };
            let c = Config::load(&MapSource(vars), addr(), overrides).unwrap();
            assert!(c.is_demo());
            assert_eq!(c.environment, "demo");
            assert_eq!(c.database_url(), "sqlite://data/demo.db");
            assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        }
    }

    #[test]
    fn demo_mode_refuses_what_would_make_it_dangerous() {
        let demo = |extra: &[(&'static str, &'static str)], site: &str| {
            // The first value of a name wins: `extra` may override the flag itself.
            let mut vars = extra.to_vec();
            vars.push(("AUTHWATCH_DEMO", "1"));
            Config::load(&MapSource(&vars), site.parse().unwrap(), Overrides::default()).map(|_| ())
        };
        let var = |r: Result<(), ConfigError>| r.unwrap_err().var;
        assert_eq!(var(demo(&[("AUTHWATCH_DATABASE_URL", "sqlite://data/authwatch.db")], "127.0.0.1:3000")), "AUTHWATCH_DATABASE_URL");
        assert_eq!(var(demo(&[("AUTHWATCH_ENVIRONMENT", "Production")], "127.0.0.1:3000")), "AUTHWATCH_ENVIRONMENT");
        assert_eq!(var(demo(&[], "0.0.0.0:3000")), "LEPTOS_SITE_ADDR");
        assert_eq!(var(demo(&[], "192.0.2.10:3000")), "LEPTOS_SITE_ADDR");
        assert_eq!(var(demo(&[("AUTHWATCH_X_CLIENT_ID", "abc")], "127.0.0.1:3000")), "AUTHWATCH_DEMO");
        assert_eq!(var(demo(&[("AUTHWATCH_DEMO", "maybe")], "127.0.0.1:3000")), "AUTHWATCH_DEMO");
        assert!(demo(&[("AUTHWATCH_ENVIRONMENT", "staging")], "[::1]:3000").is_ok());
    }

    #[test]
    fn a_live_app_gets_x_endpoints_and_the_hosted_callback() {
        let c = Config::load(
            &MapSource(&[
                ("AUTHWATCH_X_CLIENT_ID", "abc"),
                ("AUTHWATCH_X_CLIENT_SECRET", "s3cret"),
                ("AUTHWATCH_PUBLIC_URL", "https://authwatch.example.com/ops"),
            ]),
            addr(),
            Overrides::default(),
        )
        .unwrap();
        let XMode::Live(app) = c.x else { panic!("expected live mode") };
        assert_eq!(app.callback_url.as_str(), "https://authwatch.example.com/ops/auth/x/callback");
        assert_eq!(app.endpoints.token_url.as_str(), "https://api.x.com/2/oauth2/token");
        assert_eq!(app.required_scopes.to_string(), "offline.access tweet.read tweet.write users.read");
        assert_eq!(format!("{:?}", app.client_secret), "Some([redacted])");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 12] = [
            (&[("AUTHWATCH_DAILY_CHECK_AT", "25:00")], "AUTHWATCH_DAILY_CHECK_AT"),
            (&[("AUTHWATCH_REFRESH_LEAD_SECS", "soon")], "AUTHWATCH_REFRESH_LEAD_SECS"),
            (&[("AUTHWATCH_X_CLIENT_ID", "abc")], "AUTHWATCH_X_CLIENT_SECRET"),
            (&[("AUTHWATCH_X_CLIENT_ID", "a"), ("AUTHWATCH_X_CLIENT_TYPE", "web")], "AUTHWATCH_X_CLIENT_TYPE"),
            (
                &[("AUTHWATCH_X_CLIENT_ID", "a"), ("AUTHWATCH_X_CLIENT_TYPE", "public"), ("AUTHWATCH_X_TOKEN_URL", "not a url")],
                "AUTHWATCH_X_TOKEN_URL",
            ),
            (
                &[("AUTHWATCH_X_CLIENT_ID", "a"), ("AUTHWATCH_X_CLIENT_TYPE", "public"), ("AUTHWATCH_X_REQUIRED_SCOPES", "tweet.read tweets.write")],
                "AUTHWATCH_X_REQUIRED_SCOPES",
            ),
            (&[("AUTHWATCH_DATABASE_URL", "mysql://x")], "AUTHWATCH_DATABASE_URL"),
            (&[("AUTHWATCH_WEBHOOK_URL", "https://hooks.example/x")], "AUTHWATCH_WEBHOOK_SECRET"),
            (&[("AUTHWATCH_SMTP_URL", "smtp://localhost:25")], "AUTHWATCH_SMTP_FROM"),
            (&[("AUTHWATCH_SMTP_URL", "imap://localhost")], "AUTHWATCH_SMTP_URL"),
            (&[("AUTHWATCH_ESCALATE_AFTER_SECS", "4h")], "AUTHWATCH_ESCALATE_AFTER_SECS"),
            (&[("AUTHWATCH_FORWARDED_FOR_HOPS", "many")], "AUTHWATCH_FORWARDED_FOR_HOPS"),
        ];
        for (vars, var) in cases {
            // Demo mode stands in for an X app where the case configures none.
            let mut vars = vars.to_vec();
            if !vars.iter().any(|(k, _)| *k == "AUTHWATCH_X_CLIENT_ID") {
                vars.push(("AUTHWATCH_DEMO", "1"));
            }
            let src = MapSource(&vars);
            let err = Config::load(&src, addr(), Overrides::default()).unwrap_err();
            assert_eq!(err.var, var, "{err}");
            assert!(err.to_string().starts_with(var));
        }
    }

    struct MapSource<'a>(&'a [(&'a str, &'a str)]);
    impl Source for MapSource<'_> {
        fn get(&self, name: &str) -> Option<String> {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        }
    }
}
