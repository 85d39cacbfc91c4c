//! The HTTP side: [`Server`] (start-up: configuration checked, database
//! migrated, background tasks started) and [`router`], the one router that
//! serves the pages, the server functions, the pipeline API and, in demo
//! mode, the emulator. The top of the server: nothing below imports it.

use super::assets;
use super::config::{Config, XMode};
use super::demo::EMULATOR_MOUNT;
use super::AppState;
use super::{auth, auth_x, config, crypto, db, demo, lifecycle, metrics, notify, pipeline, probe, secret, snapshot, x};
use super::{changes, live};
use crate::app::{shell, App};
use axum::handler::Handler;
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("encryption key: {0}")]
    Crypto(#[from] crypto::CryptoError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("demo mode: {0}")]
    Demo(String),
    #[error("refusing to start: {0}")]
    DemoUsers(String),
    #[error("notification channels: {0}")]
    Channels(#[from] notify::channels::ChannelError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("password hashing: {0}")]
    Passwords(#[from] auth::password::PasswordError),
    #[error("refusing to start: {0}")]
    Site(#[from] assets::SiteError),
    #[error("refusing to start: {0}")]
    Keyring(#[from] db::accounts::KeyringMismatch),
}

/// A configured, migrated authwatch, ready to serve.
pub struct Server {
    state: AppState,
}

impl Server {
    /// Prepares the data directory, key and database, and builds the shared
    /// state. In demo mode, also the in-process emulator with its app.
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, StartError> {
        let data_dir_error = |source| StartError::DataDir { path: config.data_dir.display().to_string(), source };
        db::prepare_data_dir(&config.data_dir).map_err(data_dir_error)?;
        let (app, emulator) = match &config.x {
            XMode::Demo => {
                let (emulator, app) = demo::setup(&config.public_url);
                // Configuration refuses a database URL in demo mode: this is the demo's own
                // file. (Only a caller in code can give the demo a database, a fresh one.)
                if config.database_url.is_none() {
                    reset_demo_database(&config.default_database_file()).map_err(data_dir_error)?;
                }
                (app, Some(emulator))
            }
            XMode::Live(app) => (app.as_ref().clone(), None),
        };
        // Demo mode writes nothing but its own database file: its tokens come
        // from the in-memory emulator and die with it, so a key of its own
        // that lives as long is all they need — unless one is configured
        // (demo replicas sharing a database, in the test suite).
        let keyring = if config.is_demo() && config.encryption_key.is_none() {
            crypto::Keyring::ephemeral()
        } else {
            crypto::Keyring::load(config.encryption_key.as_ref(), &config.previous_encryption_keys, &config.data_dir)?
        };
        let pool = db::open(&config.database_url()).await?;
        // Replicas share PostgreSQL's tokens: one whose key cannot open them
        // must not start and write tokens the others cannot read. A SQLite
        // file has one owner, whose unreadable accounts each say so.
        match db::accounts::check_keyring(&pool, &keyring).await {
            Err(mismatch) if db::Backend::of(&pool) == db::Backend::Postgres => return Err(mismatch.into()),
            Err(mismatch) => tracing::warn!(problem = %mismatch, "stored tokens this key cannot open"),
            Ok(()) => {}
        }
        if !config.is_demo() {
            refuse_demo_users(&pool).await?;
        }
        let record = db::apps::AppRecord {
            client_id: &app.client_id,
            client_type: app.client_type.as_str(),
            environment: &config.environment,
            secret_fingerprint: app.client_secret.as_ref().map(secret::Secret::fingerprint),
            consumer_key_fingerprint: app.oauth1.as_ref().map(|o| {
                secret::Secret::new(format!("{}:{}", o.consumer_key, o.consumer_secret.expose())).fingerprint()
            }),
        };
        db::apps::upsert(&pool, &record, x::now_ms()).await?;
        let passwords = Arc::new(auth::password::Passwords::for_this_machine().await?);
        if config.is_demo() {
            demo::create_users(&pool, &passwords).await.map_err(|e| StartError::Demo(e.to_string()))?;
        }
        // Sessions share the database: nothing else to back up, a reconnect
        // started before a restart can still finish after it, and a session
        // made on one replica works on every other.
        let sessions = db::sessions::Store::open(&config.database_url()).await?;
        let engine_settings = config.engine.clone();
        metrics::handle();
        let x_timeout = config.x_timeout;
        let policy = config.policy;
        let pipeline = Arc::new(pipeline::Pipeline::new(&config));
        let notifier = notify::Notifier::new(&config.people)?;
        let state = AppState {
            pipeline,
            leptos_options,
            notifier: Arc::new(notifier),
            config: Arc::new(config),
            pool,
            keyring: Arc::new(keyring),
            x: x::XClient::new(app, x_timeout)?,
            policy,
            snapshot: Arc::new(snapshot::AccountsSnapshot::default()),
            engine: Arc::new(lifecycle::engine::Engine::new(engine_settings)),
            sessions,
            emulator,
            passwords,
            changes: Arc::new(changes::Changes::new()),
        };
        Ok(Self { state })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Binds the configured address and serves until ctrl-c or SIGTERM. In
    /// demo mode, connects the demo accounts once the port is open.
    ///
    /// First, the site must hold the bundle the pages will ask for
    /// ([`assets::check_site`]): served without it, no page comes alive
    /// and nothing says why. (Servers started with [`Server::serve_with`],
    /// as the tests do, serve whatever site they are given, or none.)
    pub async fn serve(self) -> Result<(), StartError> {
        let bundle = assets::check_site(&self.state.leptos_options, &self.state.config.data_dir)?;
        tracing::info!(js = bundle.js, wasm = bundle.wasm, css = bundle.css, hashed = bundle.hashed, "site checked");
        let addr = self.state.config.site_addr;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let state = self.state.clone();
        match self.state.emulator.clone() {
            Some(emulator) => {
                tokio::spawn(async move {
                    if let Err(e) = demo::seed(&state, &emulator).await {
                        tracing::error!(error = %e, "demo accounts could not be connected");
                    }
                    state.notifier.clone().spawn(state.clone(), state.config.people.notify_every);
                    probe::spawn(state.clone(), state.config.people.notify_every);
                    // Let visitors see the demo states before the engine
                    // refreshes the due ones.
                    tokio::time::sleep(demo::ENGINE_DELAY).await;
                    state.engine.clone().spawn(state.clone());
                });
            }
            None => {
                state.engine.clone().spawn(state.clone());
                state.notifier.clone().spawn(state.clone(), state.config.people.notify_every);
                probe::spawn(state.clone(), state.config.people.notify_every);
            }
        }
        self.serve_with(listener, shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve_with(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let config = &self.state.config;
        tracing::info!(
            addr = %listener.local_addr().map_err(StartError::Serve)?,
            public_url = %config.public_url,
            environment = %config.environment,
            demo = config.is_demo(),
            "authwatch listening"
        );
        // The peer address feeds the sign-in throttle.
        let cleanup = tokio::spawn(db::sessions::delete_expired_every(
            self.state.sessions.clone(),
            db::sessions::DELETE_EXPIRED_EVERY,
        ));
        let stale_posts =
            tokio::spawn(pipeline::posts::settle_stale_every(self.state.clone(), self.state.config.engine.sweep_every));
        let feed = self.state.changes.clone();
        let publisher = tokio::spawn(feed.clone().publish());
        // The feed: on SQLite this process watches the database; PostgreSQL
        // notifies every replica of each commit, and the listener announces.
        let watcher = (db::Backend::of(&self.state.pool) == db::Backend::Sqlite)
            .then(|| tokio::spawn(changes::watch_database(self.state.pool.clone(), feed.clone())));
        let replicas = crate::server::listen::spawn(self.state.clone());
        // Live streams would hold a graceful shutdown open: they end first.
        let shutdown = async move {
            shutdown.await;
            feed.close();
        };
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served =
            axum::serve(no_delay(listener), app).with_graceful_shutdown(shutdown).await.map_err(StartError::Serve);
        cleanup.abort();
        publisher.abort();
        stale_posts.abort();
        for task in [watcher, replicas].into_iter().flatten() {
            task.abort();
        }
        served
    }
}

/// Every accepted connection with `TCP_NODELAY`: a page streamed in several
/// writes on a kept-alive connection (how a browser loads a page and then its
/// assets) otherwise waits for the peer's delayed ACK, about 40 ms, at each one.
pub fn no_delay(listener: TcpListener) -> axum::serve::TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    listener.tap_io(set_no_delay)
}

fn set_no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "TCP_NODELAY could not be set on a connection");
    }
}

/// A live install must not let anyone in with the demo's published passwords
/// (a database that once ran the demo, or was copied from one).
async fn refuse_demo_users(pool: &db::Pool) -> Result<(), StartError> {
    let present: Vec<String> = db::users::list(pool)
        .await?
        .into_iter()
        .filter(|u| demo::USERS.iter().any(|d| d.email == u.email))
        .map(|u| u.email)
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let commands: Vec<String> = present.iter().map(|e| format!("`authwatch user remove --email {e}`")).collect();
    Err(StartError::DemoUsers(format!(
        "this database holds the demo user(s) {}, whose passwords are published. Remove them with {} \
         (if one of them is your only admin, add a real one first with `authwatch user add --admin`), then start again.",
        present.join(", "),
        commands.join(" and ")
    )))
}

/// Demo data lives as long as the in-memory emulator: start from scratch.
fn reset_demo_database(file: &std::path::Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", file.display()));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The whole application as one router: pages, server functions, static
/// files, and the emulator in demo mode. Tests drive this same router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let idle = time::Duration::seconds(i64::try_from(state.config.people.session_idle.as_secs()).unwrap_or(i64::MAX));
    let https = state.config.public_url.scheme() == "https";
    // Over https the cookie is `__Host-` prefixed: browsers then accept it only
    // Secure, for this host alone (no Domain) and for the whole site (Path=/),
    // so a sibling subdomain cannot plant or overwrite it.
    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name(if https { "__Host-authwatch.sid" } else { "authwatch.sid" })
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_expiry(Expiry::OnInactivity(idle));
    let page_csp = page_csp(&state);
    let mut pages = Router::new()
        .route("/metrics", get(metrics::render))
        .merge(auth::routes::router())
        .merge(auth_x::router())
        .merge(live::router(state.config.live_streams_max))
        .leptos_routes_with_context(&state, routes, page_context(page_csp.clone()), move || shell(options.clone()));
    if let Some(emulator) = &state.emulator {
        // The demo emulator's control API changes what "X" does for every
        // account: an admin's tool, behind sign-in, the origin check and the
        // security headers like every page.
        let control = emulator.control_router().layer(axum::middleware::from_fn(auth::require_admin));
        pages = pages.nest_service(&format!("{EMULATOR_MOUNT}/_control"), control);
    }
    // Files of the site root (the favicon), else the not-found page.
    let not_found = leptos_axum::file_and_error_handler_with_context::<AppState, _>(page_context(page_csp), shell);
    let mut router = pages
        .fallback(not_found.layer(axum::middleware::from_fn(assets::site_file_headers)))
        .layer(axum::middleware::from_fn(super::forms::plain_form_posts))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::gate))
        .with_state(state.clone())
        .layer(sessions);
    // Outside the gate and the session layer: the pipeline API authenticates
    // with its bearer key only, never a cookie.
    router = router.nest("/api/v1", pipeline::router(state.clone()));
    // Probes send no cookie and no Origin: outside the gate and the session
    // layer too, so that a probe neither loads nor makes a session.
    router = router.merge(super::health::router().with_state(state.clone()));
    if let Some(emulator) = &state.emulator {
        // X's endpoints, open to all as X's are: the browser and our client
        // reach them. Its consent page styles itself inline, as X's does.
        let x = emulator.x_router().layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
        ));
        router = router.nest(EMULATOR_MOUNT, x);
    }
    // Everything above is compressed as it is answered; the bundle under
    // /pkg was compressed when it was built.
    router = router.layer(assets::compression());
    let pkg = format!("/{}", state.leptos_options.site_pkg_dir.trim_matches('/'));
    router = router.nest_service(&pkg, assets::pkg_service(&state.leptos_options));
    // Defence in depth on every answer, the nested routers' included: no
    // framing (clickjacking of the Reconnect button), no MIME sniffing, and
    // no URL — which during a callback carries a code — leaked to other
    // sites in a Referer. Answers that are not pages get the strictest policy.
    router = router
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    if https {
        // Browsers that once reached authwatch over https never try plain http
        // again for a year, so no first request can be downgraded or stripped.
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router
}

/// Context for every rendered page (the 404 page included): each carries its
/// own nonce for the inline scripts hydration needs, and the policy names it,
/// so no other inline script runs.
fn page_context(page_csp: String) -> impl Fn() + Clone + Send + 'static {
    move || {
        if let Some(nonce) = leptos::nonce::use_nonce() {
            if let (Ok(value), Some(response)) = (
                HeaderValue::from_str(&page_csp.replace("{nonce}", &nonce)),
                use_context::<leptos_axum::ResponseOptions>(),
            ) {
                response.insert_header(header::CONTENT_SECURITY_POLICY, value);
            }
        }
    }
}

/// The pages' Content-Security-Policy, `{nonce}` to be filled per response:
/// scripts only from here or with the nonce (and wasm compiled from here),
/// no plugins, no framing, and forms that post only here — or to X's
/// consent page, where the reconnect form's redirect leads.
fn page_csp(state: &AppState) -> String {
    let x_origin = state.x.app().endpoints.authorize_url.origin().ascii_serialization();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{{nonce}}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
         form-action 'self' {x_origin}"
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
