#![cfg(feature = "ssr")]
//! Finishing a key rotation: `authwatch keys reseal` seals every stored token
//! again with the current key, so the previous one can be dropped — and
//! refuses, writing nothing, when a row cannot be opened.

use authwatch::domain::scopes::Scopes;
use authwatch::server::crypto::Keyring;
use authwatch::server::db::{self, accounts, Pool};
use authwatch::server::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::Path;

const A: [u8; 32] = [1; 32];
const B: [u8; 32] = [2; 32];
const C: [u8; 32] = [3; 32];

fn key(bytes: [u8; 32]) -> String {
    STANDARD.encode(bytes)
}

/// A keyring with `current` and `previous`, as the configuration makes it.
fn ring(dir: &Path, current: [u8; 32], previous: &[[u8; 32]]) -> Keyring {
    let previous: Vec<Secret> = previous.iter().map(|k| Secret::new(key(*k))).collect();
    Keyring::load(Some(&Secret::new(key(current))), &previous, dir).unwrap()
}

/// Connects X user `n` with tokens sealed by `keyring`; returns the account id
/// and the plaintext tokens.
async fn connect(pool: &Pool, keyring: &Keyring, n: u32, with_refresh: bool) -> (String, String, Option<String>) {
    let access = format!("access-token-{n}");
    let refresh = with_refresh.then(|| format!("refresh-token-{n}"));
    let grant = accounts::TokenGrant::new(
        Secret::new(access.clone()),
        refresh.clone().map(Secret::new),
        Scopes::parse("tweet.read users.read offline.access"),
        1_000,
        2_000,
    )
    .unwrap();
    let account = accounts::NewAccount {
        x_user_id: format!("9000{n}"),
        handle: format!("user_{n}"),
        display_name: format!("User {n}"),
        client_id: "client".into(),
    };
    let connected = accounts::save_grant(pool, keyring, &account, &grant, "test", None, 1_000).await.unwrap();
    (connected.account_id, access, refresh)
}

/// Every stored token set, raw: what must not change when nothing may.
async fn raw_rows(pool: &Pool) -> Vec<(String, i64, String, Option<String>, String, String)> {
    sqlx::query_as(
        "SELECT account_id, generation, access_token_ct, refresh_token_ct, key_id, access_fingerprint FROM token_sets ORDER BY account_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The database a live server with X app `client` would have.
async fn database(dir: &Path) -> Pool {
    let pool = db::open(&format!("sqlite://{}", dir.join("authwatch.db").display())).await.unwrap();
    let app = db::apps::AppRecord {
        client_id: "client",
        client_type: "public",
        environment: "test",
        secret_fingerprint: None,
        consumer_key_fingerprint: None,
    };
    db::apps::upsert(&pool, &app, 1_000).await.unwrap();
    pool
}

#[tokio::test]
async fn reseal_moves_every_token_to_the_current_key_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path()).await;
    let (old, new) = (ring(dir.path(), A, &[]), ring(dir.path(), B, &[]));
    let mut connected = Vec::new();
    for n in 0..5 {
        connected.push(connect(&pool, &old, n, n != 2).await);
    }
    connected.push(connect(&pool, &new, 9, true).await);
    let before = raw_rows(&pool).await;

    let rotated = ring(dir.path(), B, &[A]);
    let done = accounts::reseal_all(&pool, &rotated).await.unwrap();
    let (a, b) = (old.current_key_id().to_owned(), new.current_key_id().to_owned());
    assert_eq!(done.before, [(a.clone(), 5), (b.clone(), 1)].into_iter().collect());
    assert_eq!(done.after, [(b.clone(), 6)].into_iter().collect());
    assert_eq!(done.resealed, 5);

    // The old key can go: the new one alone opens every token, unchanged.
    for (id, access, refresh) in &connected {
        let tokens = accounts::tokens(&pool, &new, id).await.unwrap().unwrap();
        assert_eq!(tokens.access.expose(), access);
        assert_eq!(tokens.refresh.as_ref().map(|r| r.expose().to_owned()), *refresh);
    }
    let after = raw_rows(&pool).await;
    for (was, is) in before.iter().zip(&after) {
        assert_eq!((&was.0, was.1, &was.5), (&is.0, is.1, &is.5), "same account, generation and token");
        assert_eq!(
            was.3.is_some(),
            is.3.is_some(),
            "a missing refresh token stays missing, a present one is never blanked"
        );
        if was.4 == a {
            assert_ne!(was.2, is.2, "sealed again");
        } else {
            assert_eq!(was, is, "already under the current key: untouched");
        }
    }

    let again = accounts::reseal_all(&pool, &rotated).await.unwrap();
    assert_eq!((again.resealed, &again.after), (0, &done.after));
    assert_eq!(raw_rows(&pool).await, after, "a second run writes nothing");
}

#[tokio::test]
async fn a_token_under_a_key_not_configured_refuses_the_run_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path()).await;
    let (ring_a, ring_c) = (ring(dir.path(), A, &[]), ring(dir.path(), C, &[]));
    for n in 0..3 {
        connect(&pool, &ring_a, n, true).await;
    }
    connect(&pool, &ring_c, 7, true).await;
    let before = raw_rows(&pool).await;

    let err = accounts::reseal_all(&pool, &ring(dir.path(), B, &[A])).await.unwrap_err().to_string();
    let c = ring_c.current_key_id();
    assert!(err.contains(&format!("1 token set(s) are sealed with key {c}, which is not configured")), "{err}");
    assert!(err.contains("AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS") && err.contains("Nothing was changed"), "{err}");
    assert_eq!(raw_rows(&pool).await, before, "nothing written");

    // A row that does not open (moved from another account) refuses too —
    // even when it comes last, after more rows than one batch holds.
    sqlx::query("DELETE FROM accounts").execute(&pool).await.unwrap();
    for n in 0..600 {
        connect(&pool, &ring_a, n, n % 2 == 0).await;
    }
    let ids: Vec<String> = raw_rows(&pool).await.into_iter().map(|r| r.0).collect();
    let victim = ids.last().unwrap().clone();
    sqlx::query("UPDATE token_sets SET access_token_ct = (SELECT access_token_ct FROM token_sets WHERE account_id = $1) WHERE account_id = $2")
        .bind(&ids[0])
        .bind(&victim)
        .execute(&pool)
        .await
        .unwrap();
    let tampered = raw_rows(&pool).await;
    let err = accounts::reseal_all(&pool, &ring(dir.path(), B, &[A])).await.unwrap_err().to_string();
    assert!(err.contains(&format!("the tokens of account {victim}")) && err.contains("do not decrypt"), "{err}");
    // (Not assert_eq!: 600 rows of ciphertext help nobody read a failure.)
    let changed = raw_rows(&pool).await.iter().zip(&tampered).filter(|(now, was)| now != was).count();
    assert_eq!(changed, 0, "nothing written, not even the rows that would open");
}

#[tokio::test]
async fn the_command_line_reseals_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(dir.path()).await;
    let old = ring(dir.path(), A, &[]);
    for n in 0..2 {
        connect(&pool, &old, n, true).await;
    }
    pool.close().await;
    let elsewhere = tempfile::tempdir().unwrap();
    let cli_in = |data_dir: &Path, current: [u8; 32], previous: &[[u8; 32]]| {
        let previous: Vec<String> = previous.iter().map(|k| key(*k)).collect();
        std::process::Command::new(env!("CARGO_BIN_EXE_authwatch"))
            .args(["keys", "reseal", "--data-dir", data_dir.to_str().unwrap()])
            .env("AUTHWATCH_ENCRYPTION_KEY", key(current))
            .env("AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS", previous.join(","))
            .env("AUTHWATCH_X_CLIENT_ID", "client")
            .env("AUTHWATCH_X_CLIENT_TYPE", "public")
            .env_remove("AUTHWATCH_DATABASE_URL")
            .env_remove("AUTHWATCH_DATA_DIR")
            .output()
            .expect("run authwatch")
    };
    let cli = |current: [u8; 32], previous: &[[u8; 32]]| cli_in(dir.path(), current, previous);
    let (a, b) = (old.current_key_id().to_owned(), ring(dir.path(), B, &[]).current_key_id().to_owned());

    let refused = cli(B, &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&format!("2 token set(s) are sealed with key {a}, which is not configured")), "{stderr}");

    let out = cli(B, &[A]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("before: 2 with key {a}\n")), "{stdout}");
    assert!(stdout.contains("resealed: 2 token set(s)"), "{stdout}");
    assert!(stdout.contains(&format!("after: 2 with key {b} (current)")), "{stdout}");

    let out = cli(B, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "without the old key now: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("resealed: 0 token set(s)"), "{stdout}");

    // Pointed at the wrong directory: refused, and no empty database left there.
    let wrong = cli_in(elsewhere.path(), B, &[A]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}
