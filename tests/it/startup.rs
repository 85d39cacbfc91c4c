#![cfg(feature = "ssr")]
//! Start-up fails closed: demo mode only when asked for, never on a real
//! database, never labelled production, never off loopback, writing nothing
//! but its own file — and a live install refuses a database with demo users.
//! The real binary is started, as an operator would start it.

use crate::support as common;

use authwatch::server::config::{Config, Overrides};
use authwatch::server::web::{Server, StartError};
use common::{TestApp, Vars};
use leptos::config::LeptosOptions;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs `authwatch serve` with only these variables (and a fresh data
/// directory) and waits for it to stop on its own, which every case here
/// must: a refusal ends start-up before anything listens.
fn serve(args: &[&str], vars: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_authwatch"));
    command
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        command.env(k, v);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start authwatch");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("authwatch {args:?} {vars:?} kept running: it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), dir)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn with_no_x_app_and_no_demo_start_up_stops_and_names_both_ways_out() {
    let (out, dir) = serve(&[], &[("LEPTOS_SITE_ADDR", "127.0.0.1:0")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("AUTHWATCH_X_CLIENT_ID") && err.contains("--demo") && err.contains("AUTHWATCH_DEMO=1"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written: {err}");
}

#[test]
fn demo_refuses_a_database_production_another_address_and_an_x_app() {
    // Arguments, variables, and the variable the refusal must name.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&["--demo"], &[("AUTHWATCH_DATABASE_URL", "sqlite://elsewhere.db")], "AUTHWATCH_DATABASE_URL"),
        (&[], &[("AUTHWATCH_DEMO", "1"), ("AUTHWATCH_ENVIRONMENT", "production")], "AUTHWATCH_ENVIRONMENT"),
        (&["--demo", "--addr", "0.0.0.0:0"], &[], "LEPTOS_SITE_ADDR"),
        (&[], &[("AUTHWATCH_DEMO", "1"), ("LEPTOS_SITE_ADDR", "0.0.0.0:0")], "LEPTOS_SITE_ADDR"),
        (&["--demo"], &[("AUTHWATCH_X_CLIENT_ID", "real-app"), ("AUTHWATCH_X_CLIENT_SECRET", "s")], "AUTHWATCH_DEMO"),
    ];
    for (args, vars, named) in cases {
        let mut vars = vars.to_vec();
        if !vars.iter().any(|(k, _)| *k == "LEPTOS_SITE_ADDR") {
            vars.push(("LEPTOS_SITE_ADDR", "127.0.0.1:0"));
        }
        let (out, dir) = serve(args, &vars);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} {vars:?} started");
        assert!(err.contains(named), "{args:?} {vars:?}: {err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{args:?}: nothing written");
    }
}

#[tokio::test]
async fn demo_writes_only_its_own_database_file() {
    let app = TestApp::builder().sqlite().demo().start().await;
    let mut names: Vec<String> = std::fs::read_dir(app.data_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.iter().all(|n| n == "demo.db" || n == "demo.db-wal" || n == "demo.db-shm"), "{names:?}");
    assert!(names.contains(&"demo.db".to_owned()));
}

#[tokio::test]
async fn live_mode_refuses_a_database_holding_demo_users_and_says_how_to_remove_them() {
    let demo = TestApp::builder().sqlite().demo().start().await;
    let live_dir = tempfile::tempdir().unwrap();
    // A live install whose database once ran the demo (or was copied from one).
    sqlx::query("VACUUM INTO ?")
        .bind(live_dir.path().join("authwatch.db").display().to_string())
        .execute(&demo.state.pool)
        .await
        .unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:3999".parse().unwrap();
    let live = |dir: &std::path::Path| {
        let vars = vec![
            ("AUTHWATCH_X_CLIENT_ID", "live-app"),
            ("AUTHWATCH_X_CLIENT_SECRET", "live-secret"),
            ("AUTHWATCH_DATA_DIR", dir.to_str().unwrap()),
        ];
        Config::load(
            &Vars(vars.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()),
            addr,
            Overrides::default(),
        )
        .unwrap()
    };
    let options = LeptosOptions::builder().output_name("authwatch").site_addr(addr).build();
    let Err(StartError::DemoUsers(message)) = Server::new(live(live_dir.path()), options.clone()).await.map(|_| ())
    else {
        panic!("a live server started on a database with demo users");
    };
    assert!(message.contains("ada@demo.authwatch") && message.contains("dana@demo.authwatch"), "{message}");
    assert!(message.contains("authwatch user remove --email ada@demo.authwatch"), "{message}");

    // Following the advice works: a real admin first, then the demo users go.
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_authwatch"))
            .args(args)
            .arg("--data-dir")
            .arg(live_dir.path())
            .env("AUTHWATCH_X_CLIENT_ID", "live-app")
            .env("AUTHWATCH_X_CLIENT_SECRET", "live-secret")
            .env_remove("AUTHWATCH_DEMO")
            .env_remove("AUTHWATCH_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(line) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(line.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let out = cli(&["user", "remove", "--email", "ada@demo.authwatch"], None);
    assert!(!out.status.success(), "the only admin is not removed");
    assert!(stderr(&out).contains("last admin"), "{}", stderr(&out));
    let out = cli(
        &["user", "add", "--admin", "--email", "ops@example.com", "--name", "Ops", "--password-stdin"],
        Some("a real admin password\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for email in ["ada@demo.authwatch", "dana@demo.authwatch"] {
        let out = cli(&["user", "remove", "--email", email], None);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(Server::new(live(live_dir.path()), options).await.is_ok(), "no demo user left: it starts");
}
