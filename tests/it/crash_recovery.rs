#![cfg(feature = "ssr")]
//! authwatch killed with SIGKILL in the middle of a refresh sweep: on restart
//! every account is either valid or flagged, none silently dead. Spawns the
//! real binary against an emulator served from this test.

use crate::support as common;

use authwatch::emulator::{
    ClientType, Emulator, EmulatorSettings, Endpoint, Fault, FaultKind, GrantKind, NewApp, NewUser,
};
use authwatch::server::config::{Config, Overrides};
use authwatch::server::db::{accounts, events};
use authwatch::server::demo::connect_as;
use authwatch::server::lifecycle::connect::Intent;
use authwatch::server::web::Server;
use common::Vars;
use leptos::config::LeptosOptions;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 16;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn live_vars(emulator_base: &str, public_url: &str, data_dir: &str) -> Vec<(String, String)> {
    [
        ("AUTHWATCH_X_CLIENT_ID", "crash-test"),
        ("AUTHWATCH_X_CLIENT_SECRET", "crash-secret"),
        ("AUTHWATCH_X_AUTHORIZE_URL", &format!("{emulator_base}/i/oauth2/authorize")),
        ("AUTHWATCH_X_TOKEN_URL", &format!("{emulator_base}/2/oauth2/token")),
        ("AUTHWATCH_X_REVOKE_URL", &format!("{emulator_base}/2/oauth2/revoke")),
        ("AUTHWATCH_X_API_BASE", emulator_base),
        ("AUTHWATCH_PUBLIC_URL", public_url),
        ("AUTHWATCH_DATA_DIR", data_dir),
        ("AUTHWATCH_SWEEP_INTERVAL_SECS", "1"),
        ("AUTHWATCH_REFRESH_CONCURRENCY", "4"),
        // Short calls to X, so the dead process's leases (twice this) expire quickly.
        ("AUTHWATCH_X_TIMEOUT_SECS", "2"),
        ("AUTHWATCH_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn spawn_authwatch(port: u16, vars: &[(String, String)], site: &common::site::Site) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_authwatch"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("LEPTOS_OUTPUT_NAME", "authwatch")
        .envs(site.vars())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the authwatch binary starts");
    Killed(child)
}

#[tokio::test]
async fn a_process_killed_mid_sweep_leaves_every_account_valid_or_flagged() {
    // X, emulated, served from this test.
    let emulator = Emulator::new(EmulatorSettings::default());
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    emulator
        .create_app(NewApp {
            name: "crash".into(),
            client_id: Some("crash-test".into()),
            client_secret: Some("crash-secret".into()),
            client_type: ClientType::Confidential,
            callbacks: vec![format!("{public_url}/auth/x/callback")],
            in_project: true,
            consumer_key: None,
            consumer_secret: None,
        })
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator_base = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // Connect accounts through the real code path, with 60-second tokens: all due.
    let dir = tempfile::tempdir().unwrap();
    let vars = live_vars(&emulator_base, &public_url, &dir.path().display().to_string());
    let config =
        Config::load(&Vars(vars.clone()), format!("127.0.0.1:{port}").parse().unwrap(), Overrides::default()).unwrap();
    let options = LeptosOptions::builder().output_name("authwatch").build();
    let server = Server::new(config, options).await.unwrap();
    let state = server.state().clone();
    emulator.update_settings(|s| s.access_token_ttl_secs = 60);
    for i in 0..ACCOUNTS {
        let user =
            emulator.create_user(NewUser { id: None, username: format!("crash_{i}"), name: format!("Crash {i}") });
        connect_as(&state, &user.id, &Intent::NewAccount, "test", None).await.unwrap();
    }
    emulator.update_settings(|s| s.access_token_ttl_secs = 7200);

    // Slow refreshes, so some are in flight when the process dies.
    emulator.inject_fault(Fault::new(Endpoint::Token, FaultKind::Slow { millis: 400 }).grant(GrantKind::RefreshToken));
    emulator.reset_counts();
    let site = common::site::Site::plain();
    let first = spawn_authwatch(free_port(), &vars, &site);
    let deadline = Instant::now() + Duration::from_secs(60);
    while emulator.counts().client("crash-test").refresh_grants < 6 {
        assert!(Instant::now() < deadline, "the engine never started refreshing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first); // SIGKILL, mid-sweep
    emulator.clear_faults();

    let ids: Vec<String> = accounts::summaries(&state.pool).await.unwrap().into_iter().map(|s| s.id).collect();
    let mut orphans = 0;
    for id in &ids {
        let last = events::recent(&state.pool, id, 1).await.unwrap().remove(0);
        if last.kind.as_str() == "refresh" && last.outcome.as_str() == "started" {
            orphans += 1;
        }
    }

    // Restart; let recovery and a few sweeps run.
    let second = spawn_authwatch(free_port(), &vars, &site);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut settled = true;
        for id in &ids {
            let s = accounts::summary(&state.pool, id).await.unwrap().unwrap();
            let last = events::recent(&state.pool, id, 1).await.unwrap().remove(0);
            let valid = s.incident_cause.is_none() && s.expires_at > authwatch::server::x::now_ms() + 15 * 60_000;
            settled &= (valid || s.incident_cause.is_some())
                && !(last.kind.as_str() == "refresh" && last.outcome.as_str() == "started");
        }
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "accounts did not settle after the restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(second);

    // Every account: its stored token works at X, or it carries a cause.
    for id in &ids {
        let s = accounts::summary(&state.pool, id).await.unwrap().unwrap();
        match s.incident_cause {
            Some(cause) => assert!(!cause.as_str().is_empty()),
            None => {
                let tokens = accounts::tokens(&state.pool, &state.keyring, id).await.unwrap().unwrap();
                state.x.users_me(&tokens.access).await.unwrap_or_else(|e| panic!("{id} looks valid but X says {e}"));
            }
        }
    }
    // Each refresh the kill left unfinished was found and flagged by recovery.
    let recovered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE actor = 'recovery'")
        .fetch_one(&state.pool)
        .await
        .unwrap();
    assert_eq!(recovered as usize, orphans, "orphaned refresh intents: {orphans}");
}
