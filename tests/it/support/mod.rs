//! Shared by the integration tests: a real authwatch on a real port, with a
//! real SQLite file in a temporary data directory — or, when the suite runs
//! on PostgreSQL (`AUTHWATCH_TEST_POSTGRES`), a fresh database there.

// The benchmarks' own helpers.
#[allow(dead_code)]
pub mod bench;
pub mod oauth;
pub mod pipeline;
pub mod postgres;
// The benchmarks that run the server binary on its own use this.
#[allow(dead_code)]
pub mod process;
pub mod sinks;
// Built sites to serve (the serving tests, and server processes that need one).
#[allow(dead_code)]
pub mod site;

use authwatch::emulator::Emulator;
use authwatch::server::config::{Config, Overrides};
use authwatch::server::web::Server;
use authwatch::server::{demo, AppState};
use leptos::config::LeptosOptions;
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Configuration from a list of variables instead of the environment.
pub use authwatch::server::config::Vars;

/// Variables of a live install whose X app nobody answers for (nothing
/// listens on port 9): for tests of what a live server does on its own,
/// such as its files and sessions, with no X call involved.
pub const LIVE: &[(&str, &str)] = &[
    ("AUTHWATCH_X_CLIENT_ID", "live-test-app"),
    ("AUTHWATCH_X_CLIENT_SECRET", "live-test-secret"),
    ("AUTHWATCH_X_AUTHORIZE_URL", "http://127.0.0.1:9/i/oauth2/authorize"),
    ("AUTHWATCH_X_TOKEN_URL", "http://127.0.0.1:9/2/oauth2/token"),
    ("AUTHWATCH_X_REVOKE_URL", "http://127.0.0.1:9/2/oauth2/revoke"),
    ("AUTHWATCH_X_API_BASE", "http://127.0.0.1:9"),
];

/// The encryption key of tests on PostgreSQL (which refuses a generated one).
pub const TEST_KEY: &str = "dGVzdC1rZXktb2YtMzItYnl0ZXMtZXhhY3RseS0hISE=";

/// A running authwatch.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub data_dir: TempDir,
    /// The PostgreSQL database it runs on, when the suite runs there.
    pub postgres: Option<String>,
    stop: Option<oneshot::Sender<()>>,
}

/// How a [`TestApp`] is started: its variables, and whether the demo
/// accounts are connected once it serves.
#[must_use]
#[derive(Default)]
pub struct Builder {
    vars: Vec<(String, String)>,
    seed: bool,
    site: Option<LeptosOptions>,
    sqlite: bool,
    database: Option<String>,
}

impl Builder {
    /// Connects every demo account, in its demo state, once the app serves.
    pub fn demo(mut self) -> Self {
        self.seed = true;
        self
    }

    /// Sets a variable; the first value given for a name wins, over the
    /// defaults too (a fresh data directory, the public URL of the port).
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// On SQLite whatever the suite runs on: for tests of SQLite's own files,
    /// and of commands run beside the demo (which finds its database by its
    /// data directory alone).
    pub fn sqlite(mut self) -> Self {
        self.sqlite = true;
        self
    }

    /// On this database (another app's `postgres`): a second replica.
    pub fn database(mut self, url: &str) -> Self {
        self.database = Some(url.to_owned());
        self
    }

    /// Serves this built site (by default, none).
    pub fn site(mut self, site: &site::Site) -> Self {
        let mut options = LeptosOptions::builder().output_name("authwatch").build();
        site.apply(&mut options);
        self.site = Some(options);
        self
    }

    /// Sets each of these variables, as [`Builder::var`].
    pub fn vars<K: Into<String>, V: Into<String>>(self, vars: impl IntoIterator<Item = (K, V)>) -> Self {
        vars.into_iter().fold(self, |builder, (name, value)| builder.var(name, value))
    }

    /// Starts authwatch with these variables (plus a fresh data directory) on
    /// a free port of 127.0.0.1 — in demo mode unless an X app is given.
    pub async fn start(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut vars = self.vars;
        vars.push(("AUTHWATCH_DATA_DIR".into(), data_dir.path().display().to_string()));
        vars.push(("AUTHWATCH_PUBLIC_URL".into(), format!("http://{addr}")));
        // Without an X app of its own, a test runs the demo (which must be asked for).
        if !vars.iter().any(|(k, _)| k == "AUTHWATCH_X_CLIENT_ID") {
            vars.push(("AUTHWATCH_DEMO".into(), "1".into()));
        }
        // On PostgreSQL, unless the test names a database of its own: a fresh
        // one, and the one key every replica of it would share.
        let postgres = match postgres::server() {
            Some(_) if self.database.is_some() => {
                vars.push(("AUTHWATCH_ENCRYPTION_KEY".into(), TEST_KEY.into()));
                self.database.clone()
            }
            Some(server) if !self.sqlite && !vars.iter().any(|(k, _)| k == "AUTHWATCH_DATABASE_URL") => {
                vars.push(("AUTHWATCH_ENCRYPTION_KEY".into(), TEST_KEY.into()));
                Some(postgres::fresh_database(&server).await)
            }
            _ => None,
        };
        let overrides = Overrides { database_url: postgres.clone(), ..Overrides::default() };
        let config = Config::load(&Vars(vars), addr, overrides).expect("config");
        let mut options = self.site.unwrap_or_else(|| LeptosOptions::builder().output_name("authwatch").build());
        options.site_addr = addr;
        let server = Server::new(config, options).await.expect("server");
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.serve_with(listener, async move {
            let _ = stopped.await;
        }));
        let app = TestApp { addr, state, data_dir, postgres, stop: Some(stop) };
        if self.seed {
            demo::seed(&app.state, app.emulator()).await.expect("demo seeding");
        }
        app
    }
}

impl TestApp {
    /// A builder: `TestApp::builder().demo().var(name, value).start().await`.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Demo mode with every demo account connected and in its state.
    pub async fn demo() -> Self {
        Self::builder().demo().start().await
    }

    /// Demo mode, no account connected yet.
    pub async fn empty_demo() -> Self {
        Self::builder().start().await
    }

    /// Starts authwatch with these variables (plus a fresh data directory).
    pub async fn start(vars: Vec<(&str, &str)>) -> Self {
        Self::builder().vars(vars).start().await
    }

    pub fn emulator(&self) -> &Emulator {
        self.state.emulator.as_ref().expect("demo mode has an emulator")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client like a browser with cookies, except that it does not follow
    /// redirects (tests look at them). Like a browser, it sends its page's
    /// `Origin` with every request, which the CSRF check requires of POSTs.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ORIGIN, format!("http://{}", self.addr).parse().expect("origin"));
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .default_headers(headers)
            // A page that never answers fails its test instead of hanging the suite.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("client")
    }

    /// A browser signed in as `email` with `password`.
    pub async fn signed_in_as(&self, email: &str, password: &str) -> reqwest::Client {
        let browser = self.browser();
        let answer = browser
            .post(self.url("/auth/sign-in"))
            .form(&[("email", email), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("sign in");
        let location = answer.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!((answer.status().as_u16(), location.as_str()), (303, "/"), "signing in as {email}");
        browser
    }

    /// A browser signed in as the demo admin.
    pub async fn admin(&self) -> reqwest::Client {
        self.signed_in_as(demo::ADMIN.email, demo::ADMIN.password).await
    }

    /// A browser signed in as the demo manager (who owns some demo accounts).
    pub async fn manager(&self) -> reqwest::Client {
        self.signed_in_as(demo::MANAGER.email, demo::MANAGER.password).await
    }

    /// Every byte the database holds: the file's, WAL included, or on
    /// PostgreSQL every table's rows.
    pub async fn database_bytes(&self) -> Vec<u8> {
        if let Some(url) = &self.postgres {
            return postgres::contents(url).await;
        }
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

/// The id of the account with this handle.
pub async fn account_id(app: &TestApp, handle: &str) -> String {
    authwatch::server::db::accounts::summaries(&app.state.pool)
        .await
        .expect("accounts")
        .into_iter()
        .find(|s| s.handle == handle)
        .unwrap_or_else(|| panic!("no account @{handle}"))
        .id
}
