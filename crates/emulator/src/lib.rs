//! An emulator of X's OAuth 2.0, OAuth 1.0a and v2 API, as authwatch's `docs/x-behaviour.md` describes it —
//! quirks included (`invalid_request` where RFC 6749 says `invalid_grant`,
//! single-use rotating refresh tokens, the "Something went wrong" page that
//! never redirects). Every test of authwatch trusts it, so it follows X, not
//! any client. Behaviours nobody has verified are [`EmulatorSettings`].
//!
//! # Endpoints (paths exactly as on X)
//! - `GET /i/oauth2/authorize` — consent page (`#x-user` account picker,
//!   "Authorize app" / "Cancel" buttons); `POST` of its form redirects.
//! - `POST /2/oauth2/token`, `POST /2/oauth2/revoke` — form-encoded.
//! - `GET /2/users/me`, `POST /2/tweets` — Bearer access token, or an OAuth
//!   1.0a signature with a user's access token (same success bodies; any
//!   refused 1.0a request gets the generic v2 401 problem body, OBS).
//!
//! OAuth 1.0a user context (X's "older auth flow"): every request signed
//! with HMAC-SHA1 (RFC 5849), verified for real against the URL the client
//! addressed — `X-Forwarded-Proto` (else `http`), `Host`, and the path
//! *with* any prefix the router is nested under — its query, its form body
//! (JSON bodies are not signed) and the `oauth_*` parameters. Each app's
//! consumer key and secret (X's "API key and secret") are on
//! [`EmulatedApp`]; its callbacks serve both flows.
//! - `POST /oauth/request_token` — signed with the consumer key alone,
//!   `oauth_callback` in the header (`oob` or a registered callback; a query
//!   string is allowed) → `oauth_token=…&oauth_token_secret=…&oauth_callback_confirmed=true`
//!   as `text/html; charset=utf-8` (UNV). A callback not registered (or
//!   none, UNV) → 403 `application/xml;charset=utf-8`
//!   `<?xml version="1.0" encoding="UTF-8"?><errors><error code="415">Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings</error></errors>`
//!   (setting `oauth1_callback_error_as_json`: the older JSON body, code 415).
//!   Request tokens live 15 minutes (UNV) and are single use.
//! - `GET /oauth/authorize?oauth_token=…`, `GET /oauth/authenticate?oauth_token=…`
//!   — the consent page, like OAuth 2.0's (`#x-user`, "Authorize app",
//!   "Cancel", relative form action); an unknown, used or expired request
//!   token → X's "Something went wrong" page. `POST` of its form: 303 to the
//!   callback with `oauth_token` and `oauth_verifier` appended to its query,
//!   or with `denied=<request token>` on Cancel (`oob`: a PIN page).
//! - `POST /oauth/access_token` — signed with the consumer key and the
//!   request token, `oauth_verifier` in the header or the form body →
//!   `oauth_token=…&oauth_token_secret=…&user_id=…&screen_name=…`. A wrong
//!   verifier, used or expired request token → 401 code 89 (UNV; a wrong
//!   verifier spends nothing). Access tokens never expire; the same user
//!   connecting again gets the same token (UNV, setting
//!   `oauth1_reissue_same_token`).
//! - `GET /1.1/account/verify_credentials.json` — signed, user context →
//!   `{"id":…,"id_str":"…","name":"…","screen_name":"…"}`: v1.1
//!   verify_credentials, where X's codes 89/32/135 are seen (UNV-availability).
//!
//! The refusals of signed requests, in X's order, each 401
//! `{"errors":[{"code":N,"message":"…"}]}` as `application/json; charset=utf-8`:
//! a missing or garbled header, an unknown consumer key or a bad signature →
//! 32 "Could not authenticate you."; `oauth_timestamp` more than
//! `oauth1_timestamp_window_secs` (UNV, 300) from X's clock → 135
//! "Timestamp out of bounds."; a nonce seen before for the consumer key and
//! token → 32 (UNV which code); a token unknown, revoked, of another app, or
//! issued under a consumer key since regenerated → 89 "Invalid or expired
//! token." (an unknown token is told before the signature: its secret is
//! part of the key).
//!
//! The router works nested under a prefix (authwatch's demo mode mounts it at
//! `/x-emulator`): its pages only use relative links.
//!
//! # Control API (JSON, under `/_control`, when `control_enabled`)
//! Same operations as the methods of [`Emulator`]. Errors are
//! `{"error":"…"}` with 400 (bad input) or 404 (unknown app); operations
//! without a result answer 204.
//! - `GET /_control/users` — list users. `POST /_control/users`
//!   `{"id"?,"username","name"}` → 201 user (an existing id is replaced).
//! - `GET /_control/apps` — list apps. `POST /_control/apps`
//!   `{"name","client_id"?,"client_secret"?,"client_type":"confidential"|"public","callbacks":[…],"in_project"?,"consumer_key"?,"consumer_secret"?}`
//!   → 201 app (at most 10 callbacks, no query strings, unique consumer keys).
//! - `POST /_control/apps/{client_id}/secret` `{"client_secret"}` — rotate the secret.
//! - `POST /_control/apps/{client_id}/consumer-key` (no body, or
//!   `{"consumer_key"?,"consumer_secret"?}`) → 200 `{"consumer_key","consumer_secret"}`:
//!   regenerate (or set) the 1.0a API key and secret. The old key stops
//!   authenticating (32) and every 1.0a token issued under it dies (89),
//!   for good; 400 for a key another app has.
//! - `POST /_control/apps/{client_id}/withhold-scopes` `{"scopes":[…]}` — the
//!   next consents grant fewer scopes (`[]` stops withholding).
//! - `POST /_control/grants/revoke` `{"client_id","user_id"}` — the user
//!   disconnects the app in X's settings: all its tokens die, OAuth 1.0a
//!   tokens too.
//! - `POST /_control/tokens/expire` `{"client_id","user_id"?}` — access
//!   tokens expire now; refresh tokens still work.
//! - `POST /_control/tokens/invalidate` `{"client_id","user_id"?}` or
//!   `{"access_token"}` — X refuses access tokens early: the working access
//!   tokens of the app (of one user), or that one token, die before their 2
//!   hours; refresh tokens still work → `{"invalidated": n}`.
//! - `POST /_control/clock` `{"offset_seconds"}` — skew the `date` header only.
//! - `POST /_control/time/advance` `{"seconds"}` — move X's clock forward.
//! - `GET|POST|DELETE /_control/faults` — list, inject (a [`Fault`], e.g.
//!   `{"endpoint":"token","kind":{"status":503},"times":1,"grant":"refresh_token"}`;
//!   kinds `{"status":N}`, `"rate_limited"`, `{"slow":{"millis":N}}`,
//!   `"drop_connection"`, `"rotate_and_drop"`, and for the token endpoint's
//!   success answers `"success_as_text_plain"`, `"expires_in_as_string"`,
//!   `"truncated_success"`), clear all. Endpoints `authorize`, `token`,
//!   `revoke`, `users_me`, `tweets`, and `v2` for both v2 endpoints (Bearer
//!   and 1.0a calls alike); for OAuth 1.0a `request_token`,
//!   `oauth1_authorize`, `access_token`, `verify_credentials` (their
//!   injected 401/429/500/503 carry X's v1.1 bodies, codes 32/88/131/130).
//!   X's failures that are not the account's:
//!   - X's auth outage: `{"endpoint":"v2","kind":"auth_outage"}` — the
//!     ordinary 401 for every access token, fresh ones too, while the token
//!     endpoint keeps refreshing;
//!   - credits depleted: `{"endpoint":"v2","kind":"credits_depleted","client_id":"…"}`
//!     — 402 `{"title":"Payment Required","detail":"credits depleted","type":"https://api.x.com/2/problems/credits-depleted"}`
//!     on every v2 call of the app;
//!   - a duplicate post is refused by default (setting
//!     `reject_duplicate_posts`), and a refresh made with a copy of the
//!     tokens leaves the old access token working (setting
//!     `refresh_keeps_previous_access_token`): a second client just calls
//!     `POST /2/oauth2/token` with the copied refresh token.
//! - `GET /_control/counts`, `POST /_control/counts/reset` — [`CallCounts`]:
//!   per endpoint, 1.0a ones included (`request_token`, `oauth1_authorize`,
//!   `oauth1_consent`, `access_token`, `verify_credentials`); `users_me` and
//!   `tweets` count every call, `users_me_oauth1` and `tweets_oauth1` those
//!   signed with 1.0a.
//! - `GET|PATCH /_control/settings` — read, or merge a partial
//!   [`EmulatorSettings`] object (unknown fields are refused). The 1.0a
//!   ones: `oauth1_timestamp_window_secs` (300), `oauth1_request_token_ttl_secs`
//!   (900), `oauth1_reissue_same_token` (true), `oauth1_callback_error_as_json`
//!   (false).
//! - `GET /_control/tweets` — posts made so far.

mod api;
mod control;
mod faults;
mod http;
mod model;
mod oauth;
mod oauth1;
mod pages;
mod settings;
mod signature;
mod state;
mod tokens;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::routing::{get, post};
use axum::Router;

pub use faults::{CallCounts, Endpoint, EndpointCounts, Fault, FaultKind, GrantKind};
pub use model::{ClientType, EmulatedApp, EmulatedUser, EmulatorError, NewApp, NewUser, Oauth1Token, PostedTweet};
pub use settings::EmulatorSettings;

use state::State;

/// The client id of the app [`Emulator::with_sample_data`] registers.
pub const SAMPLE_CLIENT_ID: &str = "authwatch-local";
/// Its client secret (fixed, so a local authwatch can be configured once).
pub const SAMPLE_CLIENT_SECRET: &str = "authwatch-local-secret-not-for-production";
/// Its callback URL: authwatch's own, as served by `cargo leptos watch`.
pub const SAMPLE_CALLBACK: &str = "http://127.0.0.1:3000/auth/x/callback";
/// Its OAuth 1.0a consumer key (fixed, like its client secret).
pub const SAMPLE_CONSUMER_KEY: &str = "authwatch-local-consumer-key";
/// Its OAuth 1.0a consumer secret.
pub const SAMPLE_CONSUMER_SECRET: &str = "authwatch-local-consumer-secret-not-for-production";

/// An emulated X. Cheap to clone: clones share one world.
///
/// All state sits behind one mutex, never held across an `.await`, so every
/// check-and-update (spending a code, rotating a refresh token) is atomic.
#[derive(Clone, Default)]
pub struct Emulator {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").finish_non_exhaustive()
    }
}

impl Emulator {
    /// An empty X (no users, no apps) behaving as `settings` say.
    pub fn new(settings: EmulatorSettings) -> Self {
        Self { state: Arc::new(Mutex::new(State::new(settings))) }
    }

    /// Default settings, one confidential app ([`SAMPLE_CLIENT_ID`],
    /// [`SAMPLE_CLIENT_SECRET`], consumer key and secret
    /// [`SAMPLE_CONSUMER_KEY`] and [`SAMPLE_CONSUMER_SECRET`], callbacks
    /// [`SAMPLE_CALLBACK`] and its `localhost` twin) and three users. Used
    /// by `authwatch emulator`.
    pub fn with_sample_data() -> Self {
        let emulator = Self::new(EmulatorSettings::default());
        let sample = NewApp {
            name: "authwatch (local)".to_owned(),
            client_id: Some(SAMPLE_CLIENT_ID.to_owned()),
            client_secret: Some(SAMPLE_CLIENT_SECRET.to_owned()),
            client_type: ClientType::Confidential,
            callbacks: vec![SAMPLE_CALLBACK.to_owned(), "http://localhost:3000/auth/x/callback".to_owned()],
            in_project: true,
            consumer_key: Some(SAMPLE_CONSUMER_KEY.to_owned()),
            consumer_secret: Some(SAMPLE_CONSUMER_SECRET.to_owned()),
        };
        if let Err(e) = emulator.create_app(sample) {
            // The sample app is built from constants; failing here is a bug.
            tracing::error!(error = %e, "cannot register the sample app");
        }
        for (id, username, name) in [
            ("1500000000000000101", "acme_news", "Acme News"),
            ("1500000000000000102", "acme_support", "Acme Support"),
            ("1500000000000000103", "jane_social", "Jane Social"),
        ] {
            emulator.create_user(NewUser {
                id: Some(id.to_owned()),
                username: username.to_owned(),
                name: name.to_owned(),
            });
        }
        emulator
    }

    /// The world, whatever a panicking holder left behind: the emulator's
    /// state stays consistent between statements, so a poisoned lock is safe
    /// to reuse.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The X endpoints, and the control API under `/_control` when
    /// `control_enabled` (read now: changing it later does not remount).
    pub fn router(&self) -> Router {
        let router = self.x_routes();
        let router = if self.settings().control_enabled { router.nest("/_control", control::router()) } else { router };
        router.with_state(self.clone())
    }

    /// The X endpoints alone, without the control API: what an app that
    /// mounts the emulator serves to everyone, as X would.
    pub fn x_router(&self) -> Router {
        self.x_routes().with_state(self.clone())
    }

    /// The control API alone (its paths without the `/_control` prefix), for
    /// an app that mounts it behind its own authentication.
    pub fn control_router(&self) -> Router {
        control::router().with_state(self.clone())
    }

    fn x_routes(&self) -> Router<Emulator> {
        Router::new()
            .route("/i/oauth2/authorize", get(oauth::authorize_page).post(oauth::authorize_submit))
            .route("/2/oauth2/token", post(oauth::token))
            .route("/2/oauth2/revoke", post(oauth::revoke))
            .route("/2/users/me", get(api::users_me))
            .route("/2/tweets", post(api::create_tweet))
            .route("/oauth/request_token", post(oauth1::request_token))
            .route("/oauth/authorize", get(oauth1::authorize_page).post(oauth1::consent_submit))
            .route("/oauth/authenticate", get(oauth1::authenticate_page).post(oauth1::consent_submit))
            .route("/oauth/access_token", post(oauth1::access_token))
            .route("/1.1/account/verify_credentials.json", get(oauth1::verify_credentials))
    }

    /// Adds a user, or replaces the one with the same id. A missing id is
    /// generated (numeric, like X's).
    pub fn create_user(&self, user: NewUser) -> EmulatedUser {
        self.lock().create_user(user)
    }

    /// All users, in creation order.
    pub fn users(&self) -> Vec<EmulatedUser> {
        self.lock().users()
    }

    /// Registers an app. Refused: more than 10 callbacks, a callback that is
    /// not an absolute URL or has a query string, a duplicate client id.
    pub fn create_app(&self, app: NewApp) -> Result<EmulatedApp, EmulatorError> {
        self.lock().create_app(app)
    }

    /// All apps, by client id.
    pub fn apps(&self) -> Vec<EmulatedApp> {
        self.lock().apps()
    }

    /// As if the user disconnected the app in X's settings: every token of
    /// every grant of this user to this app dies, and unexchanged codes too;
    /// so do the user's OAuth 1.0a tokens for the app.
    pub fn revoke_grant(&self, client_id: &str, user_id: &str) {
        self.lock().revoke_grant(client_id, user_id);
    }

    /// Access tokens of the app (of one user, if given) expire now; refresh
    /// tokens keep working.
    pub fn expire_access_tokens(&self, client_id: &str, user_id: Option<&str>) {
        self.lock().expire_access_tokens(client_id, user_id);
    }

    /// X refuses the working access tokens of the app (of one user, if
    /// given) before their 2 hours are over; refresh tokens keep working.
    /// How many died.
    pub fn invalidate_access_tokens(&self, client_id: &str, user_id: Option<&str>) -> usize {
        self.lock().invalidate_access_tokens(client_id, user_id)
    }

    /// The same for one access token (0 if it was not working).
    pub fn invalidate_access_token(&self, access_token: &str) -> usize {
        self.lock().invalidate_access_token(access_token)
    }

    /// Replaces the app's client secret, as "regenerate" in X's portal does.
    /// Unknown client ids are ignored.
    pub fn set_client_secret(&self, client_id: &str, secret: &str) {
        // Nothing to do for an app that does not exist.
        let _ = self.lock().set_client_secret(client_id, secret);
    }

    /// "Regenerate" of the app's API key and secret in X's portal: new
    /// OAuth 1.0a consumer credentials, returned as (key, secret). The old
    /// key stops authenticating (code 32) and every 1.0a token issued under
    /// it dies (code 89). OAuth 2.0 is not affected.
    pub fn regenerate_consumer_key(&self, client_id: &str) -> Result<(String, String), EmulatorError> {
        self.lock().set_consumer_key(client_id, None, None)
    }

    /// The same with given credentials (`None` parts generated). Refused:
    /// an unknown app, or a key another app has.
    pub fn set_consumer_key(
        &self,
        client_id: &str,
        consumer_key: Option<String>,
        consumer_secret: Option<String>,
    ) -> Result<(String, String), EmulatorError> {
        self.lock().set_consumer_key(client_id, consumer_key, consumer_secret)
    }

    /// The app's OAuth 1.0a access tokens, live or dead, without their
    /// secrets.
    pub fn oauth1_tokens(&self, client_id: &str) -> Vec<Oauth1Token> {
        self.lock().oauth1_tokens(client_id)
    }

    /// Skews only the `date` header by `seconds`: from the client's point of
    /// view, *its* clock is off by `-seconds` against X.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.lock().set_clock_offset(seconds);
    }

    /// Moves the emulator's own clock forward: codes, tokens and rate windows
    /// age. The `date` header is not affected.
    pub fn advance_time(&self, seconds: u64) {
        self.lock().advance_time(seconds);
    }

    /// From now on, consents to this app grant the requested scopes minus
    /// `scopes` (an empty list stops withholding). Existing tokens keep
    /// their scopes. Unknown apps and scopes are ignored.
    pub fn withhold_scopes(&self, client_id: &str, scopes: Vec<String>) {
        // Nothing to withhold from an app that does not exist.
        let _ = self.lock().withhold_scopes(client_id, scopes);
    }

    /// Adds a fault; faults match in the order they were injected.
    pub fn inject_fault(&self, fault: Fault) {
        self.lock().faults.inject(fault);
    }

    /// The faults still in force.
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.list()
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Calls so far, per endpoint and per app.
    pub fn counts(&self) -> CallCounts {
        self.lock().counts.clone()
    }

    /// Starts counting from zero.
    pub fn reset_counts(&self) {
        self.lock().counts = CallCounts::default();
    }

    /// The current settings.
    pub fn settings(&self) -> EmulatorSettings {
        self.lock().settings.clone()
    }

    /// Changes settings in place; they apply to the next requests (except
    /// `control_enabled`, read when the router is built).
    pub fn update_settings(&self, f: impl FnOnce(&mut EmulatorSettings)) {
        f(&mut self.lock().settings);
    }

    /// Forgets every rate-limit window.
    pub fn reset_rate_limits(&self) {
        self.lock().rate.clear();
    }

    /// Posts made through `POST /2/tweets`, oldest first.
    pub fn tweets(&self) -> Vec<PostedTweet> {
        self.lock().tweets()
    }

    /// Every access token, refresh token and authorization code handed out
    /// so far, live or dead, and every OAuth 1.0a access token, token
    /// secret, request token secret and verifier: what a test searches a
    /// client's logs, pages and database for.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.lock().issued_secrets()
    }
}

/// Serves `emulator` alone on `addr` until ctrl-c (`authwatch emulator`),
/// after logging its apps and users so a developer can configure a client.
pub async fn serve(addr: SocketAddr, emulator: Emulator) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, control = emulator.settings().control_enabled, "X emulator listening");
    for app in emulator.apps() {
        // The emulator's secrets are fake by construction: printing them is
        // how a developer configures a local authwatch against it.
        tracing::info!(
            client_id = %app.client_id,
            client_secret = %app.client_secret,
            consumer_key = %app.consumer_key,
            consumer_secret = %app.consumer_secret,
            client_type = ?app.client_type,
            callbacks = ?app.callbacks,
            "emulated app"
        );
    }
    for user in emulator.users() {
        tracing::info!(id = %user.id, username = %user.username, name = %user.name, "emulated user");
    }
    // TCP_NODELAY, as authwatch's own server: an answer written in several
    // pieces must not wait for the client's delayed ACK.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "TCP_NODELAY could not be set on a connection");
        }
    });
    axum::serve(listener, emulator.router())
        .with_graceful_shutdown(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!(error = %e, "cannot listen for ctrl-c; serving until killed");
                std::future::pending::<()>().await;
            }
        })
        .await
}
