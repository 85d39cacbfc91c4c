//! Shared by the integration tests: a real authwatch on a real port, with a
//! real SQLite file in a temporary data directory.
#![allow(dead_code)] // each test binary uses its own part of this module

use authwatch::emulator::Emulator;
use authwatch::server::config::{Config, Overrides, Source};
use authwatch::server::{demo, AppState, Server};
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Configuration from a list of variables instead of the environment.
pub struct Vars(pub Vec<(String, String)>);

impl Source for Vars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// A running authwatch.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub data_dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// Demo mode with every demo account connected and in its state.
    pub async fn demo() -> Self {
        let app = Self::start(Vec::new()).await;
        demo::seed(&app.state, app.emulator()).await.expect("demo seeding");
        app
    }

    /// Demo mode, no account connected yet.
    pub async fn empty_demo() -> Self {
        Self::start(Vec::new()).await
    }

    /// Starts authwatch with these variables (plus a fresh data directory).
    pub async fn start(vars: Vec<(&str, &str)>) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut vars: Vec<(String, String)> = vars.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        vars.push(("AUTHWATCH_DATA_DIR".into(), data_dir.path().display().to_string()));
        vars.push(("AUTHWATCH_PUBLIC_URL".into(), format!("http://{addr}")));
        let config = Config::load(&Vars(vars), addr, Overrides::default()).expect("config");
        let options = LeptosOptions::builder().output_name("authwatch").site_addr(addr).build();
        let server = Server::new(config, options).await.expect("server");
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.serve_with(listener, async move {
            let _ = stopped.await;
        }));
        Self { addr, state, data_dir, stop: Some(stop) }
    }

    pub fn emulator(&self) -> &Emulator {
        self.state.emulator.as_ref().expect("demo mode has an emulator")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client like a browser with cookies, except that it does not follow
    /// redirects (tests look at them).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client")
    }

    /// The database file's bytes, WAL included.
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["demo.db", "demo.db-wal"] {
            if let Ok(b) = std::fs::read(self.data_dir.path().join(name)) {
                bytes.extend(b);
            }
        }
        bytes
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
