//! The real `authwatch` binary in a process of its own, for what needs the
//! server's own memory and CPU (the sign-in and dashboard benchmarks): its
//! environment built from a list of variables only, its output in a log
//! file, its memory and CPU time read from `/proc`, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary: `AUTHWATCH_BENCH_BIN`, else the `authwatch` binary
/// cargo built with this target (release under `cargo bench`, debug under
/// `cargo test`).
pub fn binary() -> PathBuf {
    let bin = std::env::var("AUTHWATCH_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_authwatch")));
    assert!(bin.exists(), "no server binary at {}", bin.display());
    bin
}

/// `bin` with exactly these `AUTHWATCH_*` variables (none inherited) and the
/// site settings of a release, run from the project's directory. `vars`
/// may name another site (`LEPTOS_SITE_ROOT` and the hash file's variables).
pub fn command(bin: &Path, vars: &[(String, String)]) -> Command {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(bin);
    cmd.current_dir(manifest);
    for (name, _) in std::env::vars() {
        if name.starts_with("AUTHWATCH_") || name.starts_with("LEPTOS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("LEPTOS_OUTPUT_NAME", "authwatch")
        .env("LEPTOS_SITE_ROOT", manifest.join("target/site"))
        .env("LEPTOS_ENV", "PROD");
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd
}

/// The X of a live-mode benchmark server: a port where nothing listens, so
/// nothing measured ever waits for X.
pub const UNREACHABLE_X: &str = "http://127.0.0.1:9";

/// The variables of a live install for a server process: the X app
/// `client_id`/`client_secret` with every URL at [`UNREACHABLE_X`], the
/// database at `db_url`, tokens sealed with `key`. Callers add their own
/// (the log filter, proxies).
pub fn live_vars(
    client_id: &str,
    client_secret: &str,
    db_url: &str,
    data_dir: &Path,
    key: &str,
) -> Vec<(String, String)> {
    [
        ("AUTHWATCH_X_CLIENT_ID", client_id.to_owned()),
        ("AUTHWATCH_X_CLIENT_SECRET", client_secret.to_owned()),
        ("AUTHWATCH_X_AUTHORIZE_URL", format!("{UNREACHABLE_X}/i/oauth2/authorize")),
        ("AUTHWATCH_X_TOKEN_URL", format!("{UNREACHABLE_X}/2/oauth2/token")),
        ("AUTHWATCH_X_REVOKE_URL", format!("{UNREACHABLE_X}/2/oauth2/revoke")),
        ("AUTHWATCH_X_API_BASE", UNREACHABLE_X.to_owned()),
        ("AUTHWATCH_ENVIRONMENT", "bench".to_owned()),
        ("AUTHWATCH_DATABASE_URL", db_url.to_owned()),
        ("AUTHWATCH_ENCRYPTION_KEY", key.to_owned()),
        ("AUTHWATCH_DATA_DIR", data_dir.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What `/proc/<pid>/status` says of a process's memory.
pub struct Memory {
    pub rss_mb: f64,
    pub hwm_mb: f64,
}

/// `authwatch serve` in its own process; killed when dropped, also when the
/// caller panics.
pub struct ServerProcess {
    child: Child,
    log: PathBuf,
    port: u16,
    /// The site it serves when the caller named none: `authwatch serve`
    /// refuses to start without the bundle its pages ask for.
    _site: Option<super::site::Site>,
}

impl ServerProcess {
    /// Starts `bin serve` on a free port of 127.0.0.1 with `vars`; its
    /// output goes to `log`. Without `LEPTOS_SITE_ROOT` among `vars`, it
    /// serves a small built site of its own (what is measured here is the
    /// server, not the bundle).
    pub fn start(bin: &Path, vars: &[(String, String)], log: PathBuf) -> Self {
        Self::start_on(bin, vars, log, free_port())
    }

    /// As [`ServerProcess::start`], on `port`: a replica restarted where
    /// its clients and load balancer knew it. Its output is added to `log`.
    pub fn start_on(bin: &Path, vars: &[(String, String)], log: PathBuf, port: u16) -> Self {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let mut vars = vars.to_vec();
        let site = (!vars.iter().any(|(name, _)| name == "LEPTOS_SITE_ROOT")).then(super::site::Site::plain);
        vars.extend(site.iter().flat_map(super::site::Site::vars));
        let child = command(bin, &vars)
            .arg("serve")
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Self { child, log, port, _site: site }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `kill -9`: the process dies where it stands, with no shutdown of
    /// any kind (what a crash or an OOM kill does).
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/healthz` answers 200; how long that took. Panics with
    /// the server's log when it exits or takes over a minute.
    pub async fn wait_healthy(&self, client: &reqwest::Client) -> Duration {
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.base())).send().await {
                if r.status().is_success() {
                    return started.elapsed();
                }
            }
            let exited =
                std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).map_or(true, |s| s.contains(") Z "));
            if exited || started.elapsed() > Duration::from_secs(60) {
                panic!("the server did not become healthy:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the server wrote so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc/<pid>/status");
        Memory { rss_mb: status_kb(&status, "VmRSS:") / 1024.0, hwm_mb: status_kb(&status, "VmHWM:") / 1024.0 }
    }

    /// User + system CPU time so far (clock ticks of 1/100 s, Linux's USER_HZ).
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("/proc/<pid>/stat");
        let rest = &stat[stat.rfind(')').expect("stat") + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        ticks / 100.0
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_kb(status: &str, field: &str) -> f64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// The resident memory of process `pid` in KB, while it runs.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = status_kb(&status, "VmRSS:");
    kb.is_finite().then_some(kb as u64)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}
