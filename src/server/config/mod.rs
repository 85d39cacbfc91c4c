//! authwatch's configuration, read once at start-up from the environment.
//!
//! Every variable is documented where it is read. A malformed value stops
//! start-up with a message that names the variable. authwatch runs against a
//! configured X app (`AUTHWATCH_X_CLIENT_ID`…), or — only when asked for with
//! `AUTHWATCH_DEMO=1` or `authwatch serve --demo` — in **demo mode** against
//! its built-in X emulator. Neither, or both, stops start-up: a missing
//! variable must never turn a production install into a demo with a
//! published admin password.

mod engine;
mod people;
mod source;
#[cfg(test)]
mod tests;
mod x;

pub use engine::EngineSettings;
pub use people::{PeopleConfig, Smtp, Webhook};
pub use source::{join, ConfigError, Env, Source, Vars};
pub use x::{ClientType, Oauth1Config, XAppConfig, XEndpoints, XMode, DEFAULT_TIMEOUT};

use crate::domain::health::Policy;
use crate::server::secret::Secret;
use source::{bounded, flag, non_empty, parse_url, secs};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

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
    /// When to refresh, and what a clock offset may be: the diagnosis's tunables.
    pub policy: Policy,
    /// How long a person has between leaving for X and coming back.
    pub oauth_attempt_ttl: Duration,
    /// How long one call to X may take; refresh leases last twice this.
    pub x_timeout: Duration,
    /// The refresh engine's schedule, concurrency, backoff and lease.
    pub engine: EngineSettings,
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
    /// How many live-update streams (`/live`) this process holds open at once.
    pub live_streams_max: usize,
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
    /// A database for the demo, which refuses `AUTHWATCH_DATABASE_URL`: only
    /// code (the test suite, on a fresh PostgreSQL database) gives one.
    pub database_url: Option<String>,
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
        // A postgres:// URL (PostgreSQL 14 or newer) lets several replicas share one database.
        let database_url = match non_empty(src, "AUTHWATCH_DATABASE_URL") {
            Some(url) if crate::server::db::Backend::of_url(&url).is_some() => Some(url),
            Some(_) => {
                return Err(ConfigError::new(
                    "AUTHWATCH_DATABASE_URL",
                    "must be a sqlite: URL (e.g. sqlite://data/authwatch.db) or a postgres:// URL \
                     (e.g. postgres://authwatch@db.internal/authwatch)",
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
            (false, Some(client_id)) => XMode::Live(Box::new(x::x_app(src, client_id, &public_url)?)),
            (true, Some(_)) => return Err(ConfigError::new(
                "AUTHWATCH_DEMO",
                "demo mode runs against the built-in X emulator, but AUTHWATCH_X_CLIENT_ID configures a real X app: \
                     unset one of them (AUTHWATCH_DEMO / --demo, or AUTHWATCH_X_CLIENT_ID)",
            )),
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
        let database_url = database_url.or(overrides.database_url);

        // AUTHWATCH_ENCRYPTION_KEY: base64 of 32 random bytes (`openssl rand -base64 32`).
        let encryption_key = non_empty(src, "AUTHWATCH_ENCRYPTION_KEY").map(Secret::new);
        // Replicas share one database: a key generated into one machine's data
        // directory would seal tokens no other replica can open. (The demo's
        // key lives as long as its emulator and its tokens.)
        let shared_database = database_url.as_deref().and_then(crate::server::db::Backend::of_url)
            == Some(crate::server::db::Backend::Postgres);
        if shared_database && encryption_key.is_none() && !demo {
            return Err(ConfigError::new(
                "AUTHWATCH_ENCRYPTION_KEY",
                "must be set when AUTHWATCH_DATABASE_URL is a PostgreSQL database: every replica seals \
                 tokens with it, and a key generated on one machine is unknown to the others \
                 (make one with `openssl rand -base64 32` and give it to every replica)",
            ));
        }
        // AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS: comma-separated older keys, to read tokens
        // encrypted before a key rotation.
        let previous_encryption_keys = non_empty(src, "AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS")
            .map(|v| v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(Secret::new).collect())
            .unwrap_or_default();

        // AUTHWATCH_LOG: tracing filter, e.g. `info` or `authwatch=debug`. Default `info`.
        let log_filter = non_empty(src, "AUTHWATCH_LOG").unwrap_or_else(|| "info".into());

        let policy = engine::policy(src)?;
        // AUTHWATCH_OAUTH_ATTEMPT_TTL_SECS: how long a connect/reconnect may take
        // between leaving for X and the callback. Default 600 (10 min).
        let oauth_attempt_ttl = secs(src, "AUTHWATCH_OAUTH_ATTEMPT_TTL_SECS", 600)?;
        // AUTHWATCH_X_TIMEOUT_SECS: how long one call to X may take, connection
        // included. Refresh leases last twice this. Default 15 (`config::x::DEFAULT_TIMEOUT`).
        let x_timeout = secs(src, "AUTHWATCH_X_TIMEOUT_SECS", x::DEFAULT_TIMEOUT.as_secs())?;
        let engine = engine::engine(src, x_timeout)?;

        let people = people::people(src)?;

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
                ConfigError::new(
                    "AUTHWATCH_API_CACHE_MS",
                    format!("`{v}` is not a number of milliseconds between 0 and 60000"),
                )
            })?,
        };
        // AUTHWATCH_HELD_POSTS: `release` publishes an account's held posts, oldest
        // first, right after it is reconnected; `wait` keeps them until a person
        // releases them on the account page. Default `release`.
        let held_posts = match non_empty(src, "AUTHWATCH_HELD_POSTS").as_deref() {
            None | Some("release") => HeldPosts::Release,
            Some("wait") => HeldPosts::Wait,
            Some(other) => {
                return Err(ConfigError::new(
                    "AUTHWATCH_HELD_POSTS",
                    format!("`{other}` is neither `release` nor `wait`"),
                ))
            }
        };

        // AUTHWATCH_METRICS_TOKEN: `/metrics` answers only requests carrying
        // `Authorization: Bearer <this>` (at least 16 characters; e.g. `openssl rand -hex 32`).
        // Unset: `/metrics` is off (404).
        let metrics_token = match non_empty(src, "AUTHWATCH_METRICS_TOKEN") {
            None => None,
            Some(v) if v.len() < 16 => {
                return Err(ConfigError::new(
                    "AUTHWATCH_METRICS_TOKEN",
                    "too short to be a secret: use at least 16 random characters",
                ))
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
            min_accounts: bounded(src, "AUTHWATCH_INCIDENT_MIN_ACCOUNTS", defaults.min_accounts as u64, 1..=100_000)?
                as usize,
            min_share_percent: bounded(
                src,
                "AUTHWATCH_INCIDENT_MIN_SHARE_PERCENT",
                u64::from(defaults.min_share_percent),
                0..=100,
            )? as u32,
            window_ms: secs(src, "AUTHWATCH_INCIDENT_WINDOW_SECS", defaults.window_ms as u64 / 1000)?.as_millis()
                as i64,
        };
        // AUTHWATCH_PROBE_INTERVAL_SECS: while X refuses the app's calls for billing
        // (402) or an X incident is open, X is asked at most this often whether it is
        // over. Default 300: X's auto-recharge runs at most once per 5 minutes.
        let probe_every = secs(src, "AUTHWATCH_PROBE_INTERVAL_SECS", 300)?;
        // AUTHWATCH_LIVE_STREAMS_MAX: how many pages this process keeps up to date
        // live at once (`/live`, one stream each); beyond it pages are answered 503
        // and refresh themselves every 10 s instead. 0 turns live updates off.
        // Default 1000.
        let live_streams_max = bounded(src, "AUTHWATCH_LIVE_STREAMS_MAX", 1000, 0..=100_000)? as usize;

        Ok(Self {
            live_streams_max,
            incidents,
            probe_every,
            metrics_token,
            people,
            api_token_min_lifetime,
            api_cache_ttl,
            held_posts,
            x_timeout,
            engine,
            policy,
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

    /// `<public_url>/auth/x1/callback`: where X's OAuth 1.0a flow comes back.
    pub fn default_oauth1_callback_url(public_url: &Url) -> Url {
        join(public_url, "auth/x1/callback")
    }
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
