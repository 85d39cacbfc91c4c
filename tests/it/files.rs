#![cfg(feature = "ssr")]
//! The files authwatch keeps: the data directory, the database with its WAL
//! and shared-memory files, and the key are the server's user's alone.

use crate::support as common;

use authwatch::server::config::{Config, Overrides};
use authwatch::server::crypto::KEY_FILE;
use authwatch::server::web::Server;
use common::{TestApp, Vars};
use leptos::config::LeptosOptions;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Files a running server has written to, with their modes.
fn modes(dir: &Path, names: &[&str]) -> Vec<(String, u32)> {
    names.iter().map(|n| ((*n).to_owned(), mode(&dir.join(n)))).collect()
}

#[tokio::test]
async fn a_new_data_directory_and_everything_in_it_are_private() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("nested").join("data");
    let app = TestApp::builder().sqlite().var("AUTHWATCH_DATA_DIR", data.to_str().unwrap()).start().await;
    // Written to, so SQLite has its WAL and shared-memory files open.
    let browser = app.admin().await;
    assert_eq!(browser.get(app.url("/")).send().await.unwrap().status(), 200);
    assert_eq!(mode(&data), 0o700, "the data directory");
    let files = ["demo.db", "demo.db-wal", "demo.db-shm"];
    assert_eq!(modes(&data, &files), files.iter().map(|f| ((*f).to_owned(), 0o600)).collect::<Vec<_>>());

    // A live install also generates its key there (the demo keeps its key in memory).
    let data = parent.path().join("live").join("data");
    let server = start_in(&data).await.expect("a live start");
    sqlx::query("SELECT 1").execute(&server.state().pool).await.unwrap();
    assert_eq!(mode(&data), 0o700, "the data directory");
    let files = ["authwatch.db", "authwatch.db-wal", "authwatch.db-shm", KEY_FILE];
    assert_eq!(modes(&data, &files), files.iter().map(|f| ((*f).to_owned(), 0o600)).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_existing_open_directory_and_database_are_made_private() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("kept.db");
    let url = format!("sqlite://{}", file.display());
    // Made by an earlier version: everything readable by everyone.
    {
        let pool = authwatch::server::db::open(&url).await.unwrap();
        sqlx::query("SELECT 1").execute(&pool).await.unwrap();
        pool.close().await;
    }
    set_mode(data.path(), 0o755);
    set_mode(&file, 0o644);
    // Left behind open (SQLite removes them on a clean close; an empty WAL
    // and shared-memory file are what a crash can leave).
    for stale in ["kept.db-wal", "kept.db-shm"] {
        fs::OpenOptions::new().create(true).append(true).open(data.path().join(stale)).unwrap();
        set_mode(&data.path().join(stale), 0o644);
    }
    // A live install (the demo refuses a configured database).
    let mut vars = common::LIVE.to_vec();
    vars.extend([("AUTHWATCH_DATA_DIR", data.path().to_str().unwrap()), ("AUTHWATCH_DATABASE_URL", url.as_str())]);
    let app = TestApp::builder().sqlite().vars(vars).start().await;
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), 200);
    assert_eq!(mode(data.path()), 0o700);
    let files = ["kept.db", "kept.db-wal", "kept.db-shm"];
    assert_eq!(modes(data.path(), &files), files.iter().map(|f| ((*f).to_owned(), 0o600)).collect::<Vec<_>>());
}

async fn start_in(data: &Path) -> Result<Server, String> {
    let addr = "127.0.0.1:0".parse().unwrap();
    let mut vars: Vec<(String, String)> =
        common::LIVE.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    vars.push(("AUTHWATCH_DATA_DIR".into(), data.display().to_string()));
    let vars = Vars(vars);
    let config = Config::load(&vars, addr, Overrides::default()).unwrap();
    let options = LeptosOptions::builder().output_name("authwatch").site_addr(addr).build();
    Server::new(config, options).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_key_file_others_can_read_stops_the_start_naming_the_file_and_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let key = data.path().join(KEY_FILE);
    // The server made the key; then someone loosened it.
    let first = start_in(data.path()).await.expect("a first start");
    let key_id = first.state().keyring.current_key_id().to_owned();
    drop(first);
    set_mode(&key, 0o644);
    let err = start_in(data.path()).await.err().expect("refused");
    assert!(
        err.contains(&format!("encryption key file {} can be read by other users (mode 644)", key.display())),
        "{err}"
    );
    assert!(err.contains(&format!("`chmod 600 {}`", key.display())), "{err}");
    assert_eq!(mode(&key), 0o644, "left for the person to fix, not silently changed");

    set_mode(&key, 0o600);
    let again = start_in(data.path()).await.expect("starts once fixed");
    assert_eq!(again.state().keyring.current_key_id(), key_id, "the same key");
}
