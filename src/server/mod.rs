//! Server-only code: configuration, the database, the HTTP router, and
//! (in later layers) the X client and the token lifecycle.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod secret;
pub mod state;

use crate::app::{shell, App};
use crate::emulator::Emulator;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use config::{Config, XMode};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
pub use state::AppState;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Where the in-process emulator is mounted in demo mode.
pub const EMULATOR_MOUNT: &str = "/x-emulator";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("Leptos.toml: {0}")]
    Leptos(String),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// A configured, migrated authwatch, ready to serve.
pub struct Server {
    state: AppState,
}

impl Server {
    /// Prepares the data directory and database and builds the shared state.
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let pool = db::connect(&config.database_url).await?;
        let emulator = match config.x {
            XMode::Demo => Some(Emulator::new(Default::default())),
            XMode::Live(_) => None,
        };
        Ok(Self { state: AppState::new(config, leptos_options, pool, emulator) })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until ctrl-c or SIGTERM.
    pub async fn serve(self) -> Result<(), StartError> {
        let addr = self.state.config.site_addr;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        tracing::info!(
            %addr,
            public_url = %self.state.config.public_url,
            environment = %self.state.config.environment,
            demo = self.state.config.is_demo(),
            "authwatch listening"
        );
        axum::serve(listener, router(self.state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(StartError::Serve)
    }
}

/// The whole application as one router: pages, server functions, static
/// files, and the emulator in demo mode. Tests drive this same router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .leptos_routes_with_context(&state, routes, || {}, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state.clone());
    if let Some(emulator) = &state.emulator {
        router = router.nest(EMULATOR_MOUNT, emulator.router());
    }
    router
}

/// For load balancers: 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
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
