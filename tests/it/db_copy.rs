//! Moving an installation: `authwatch db copy --from … --to …`, the real
//! binary, from a real SQLite file to a fresh PostgreSQL database (or, when
//! the suite has no PostgreSQL, to another SQLite file). Counts and sealed
//! tokens arrive exact; the key opens them on the new database; a database
//! that holds anything is refused and left as it was.

use crate::support::{postgres, TestApp, LIVE, TEST_KEY};
use authwatch::domain::scopes::Scopes;
use authwatch::server::crypto::Keyring;
use authwatch::server::db::{self, accounts, copy::TABLES, Pool};
use authwatch::server::secret::Secret;
use std::path::Path;
use std::process::Output;

/// A target database: a fresh one on the suite's PostgreSQL, or a new SQLite
/// file in `dir`.
async fn new_target(dir: &Path, name: &str) -> String {
    match postgres::server() {
        Some(server) => postgres::fresh_database(&server).await,
        None => format!("sqlite://{}", dir.join(name).display()),
    }
}

/// Runs `authwatch db copy` with these variables and nothing else of ours.
fn cli(from: &str, to: &str, vars: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_authwatch"));
    command.args(["db", "copy", "--from", from, "--to", to]);
    for name in ["AUTHWATCH_ENCRYPTION_KEY", "AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS", "AUTHWATCH_DATABASE_URL"] {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied()).output().expect("run authwatch")
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

type TokenRow = (String, i64, String, String, Option<String>);

/// What a copy must carry exactly: every table's count, and every sealed
/// token set as stored.
async fn contents(pool: &Pool) -> (Vec<(String, i64)>, Vec<TokenRow>) {
    let mut counts = Vec::new();
    for (table, _) in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(pool).await.unwrap();
        counts.push(((*table).to_owned(), n));
    }
    let mut tokens: Vec<TokenRow> =
        sqlx::query_as("SELECT account_id, generation, key_id, access_token_ct, refresh_token_ct FROM token_sets")
            .fetch_all(pool)
            .await
            .unwrap();
    tokens.sort();
    (counts, tokens)
}

/// The demo's database, seeded, as a file of its own that nothing else uses.
async fn demo_database(dir: &Path) -> (TestApp, String) {
    let demo = TestApp::builder().sqlite().demo().start().await;
    let file = dir.join("authwatch.db");
    sqlx::query("VACUUM INTO $1").bind(file.display().to_string()).execute(&demo.state.pool).await.unwrap();
    (demo, format!("sqlite://{}", file.display()))
}

#[tokio::test]
async fn the_demo_database_arrives_exact_and_sealed_and_a_second_copy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, from) = demo_database(dir.path()).await;
    let to = new_target(dir.path(), "copy.db").await;

    let out = cli(&from, &to, &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");

    let (source, target) = (db::open(&from).await.unwrap(), db::open(&to).await.unwrap());
    let (counts, tokens) = contents(&source).await;
    assert!(counts.iter().any(|(t, n)| t == "accounts" && *n >= 5), "the demo has accounts: {counts:?}");
    assert!(counts.iter().any(|(t, n)| t == "events" && *n > 0), "{counts:?}");
    assert!(!tokens.is_empty());
    assert_eq!(contents(&target).await, (counts.clone(), tokens.clone()), "every count and sealed token exact");
    for (table, n) in &counts {
        assert!(stdout.contains(&format!("{table}: {n}\n")), "{table}: {stdout}");
    }
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let key = demo.state.keyring.current_key_id();
    assert!(
        stdout.contains(&format!("copied {total} rows; tokens stay sealed with key {key} (give every replica")),
        "{stdout}"
    );
    assert!(stdout.contains("sessions: not copied"), "{stdout}");

    // Sealed, not opened: the key that sealed them opens them on the copy.
    for (account_id, ..) in &tokens {
        let was = accounts::tokens(&source, &demo.state.keyring, account_id).await.unwrap().unwrap();
        let is = accounts::tokens(&target, &demo.state.keyring, account_id).await.unwrap().unwrap();
        assert_eq!(was.access.expose(), is.access.expose());
        assert_eq!(was.refresh.as_ref().map(Secret::expose), is.refresh.as_ref().map(Secret::expose));
        assert!(!stdout.contains(was.access.expose()) && !stderr.contains(was.access.expose()), "never printed");
    }

    // New rows on the copy get new ids: PostgreSQL's identity sequences
    // were moved past the copied ids.
    sqlx::query(
        "INSERT INTO events (account_id, at, kind, outcome, actor) \
         SELECT account_id, at, kind, outcome, actor FROM events WHERE id = (SELECT MIN(id) FROM events)",
    )
    .execute(&target)
    .await
    .expect("a new event next to the copied ones");
    sqlx::query("DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)").execute(&target).await.unwrap();

    // Again, into the database that now holds the copy: refused, unchanged.
    let before = contents(&target).await;
    let again = cli(&from, &to, &[]);
    let (stdout, stderr) = text(&again);
    assert!(!again.status.success(), "{stdout}");
    assert!(stderr.contains("the target database is not empty"), "{stderr}");
    let accounts_n = counts.iter().find(|(t, _)| t == "accounts").unwrap().1;
    assert!(stderr.contains(&format!("{accounts_n} row(s) in accounts")), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(contents(&target).await, before, "nothing written");
}

/// A live install's SQLite database, with `n` accounts whose tokens
/// `keyring` sealed.
async fn live_database(dir: &Path, keyring: &Keyring, n: u32) -> (String, Vec<(String, String)>) {
    let url = format!("sqlite://{}", dir.join("authwatch.db").display());
    let pool = db::open(&url).await.unwrap();
    let app = db::apps::AppRecord {
        client_id: LIVE[0].1,
        client_type: "confidential",
        environment: "test",
        secret_fingerprint: None,
        consumer_key_fingerprint: None,
    };
    db::apps::upsert(&pool, &app, 1_000).await.unwrap();
    let mut connected = Vec::new();
    for i in 0..n {
        let access = format!("access-token-{i}");
        let grant = accounts::TokenGrant::new(
            Secret::new(access.clone()),
            Some(Secret::new(format!("refresh-token-{i}"))),
            Scopes::parse("tweet.read users.read offline.access"),
            1_000,
            2_000,
        )
        .unwrap();
        let account = accounts::NewAccount {
            x_user_id: format!("7000{i}"),
            handle: format!("live_{i}"),
            display_name: format!("Live {i}"),
            client_id: LIVE[0].1.into(),
        };
        let saved = accounts::save_grant(&pool, keyring, &account, &grant, "test", None, 1_000).await.unwrap();
        connected.push((saved.account_id, access));
    }
    pool.close().await;
    (url, connected)
}

#[tokio::test]
async fn a_live_server_on_the_copy_opens_the_tokens_with_the_same_key_and_a_wrong_key_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::load(Some(&Secret::new(TEST_KEY)), &[], dir.path()).unwrap();
    let (from, connected) = live_database(dir.path(), &keyring, 3).await;
    let to = new_target(dir.path(), "copy.db").await;

    let out = cli(&from, &to, &[("AUTHWATCH_ENCRYPTION_KEY", TEST_KEY)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("checked: AUTHWATCH_ENCRYPTION_KEY opens the copied tokens"), "{stdout}");
    assert!(!stderr.contains("WARNING"), "{stderr}");

    // A live server on the copy, with the key: it starts (PostgreSQL refuses
    // a key that cannot open the tokens) and opens every one.
    let app = TestApp::builder()
        .vars(LIVE.iter().copied())
        .var("AUTHWATCH_ENCRYPTION_KEY", TEST_KEY)
        .var("AUTHWATCH_DATABASE_URL", to.as_str())
        .start()
        .await;
    for (account_id, access) in &connected {
        let tokens = accounts::tokens(&app.state.pool, &app.state.keyring, account_id).await.unwrap().unwrap();
        assert_eq!(tokens.access.expose(), access);
    }
    let summaries = accounts::summaries(&app.state.pool).await.unwrap();
    assert_eq!(summaries.len(), connected.len());
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), 200);

    // Another key: the copy is still exact, and says loudly that this key
    // will not open it.
    let other = new_target(dir.path(), "other.db").await;
    let wrong = "b3RoZXIta2V5LW9mLTMyLWJ5dGVzLWV4YWN0bHktISE=";
    let out = cli(&from, &other, &[("AUTHWATCH_ENCRYPTION_KEY", wrong)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("WARNING: the copy is exact, but AUTHWATCH_ENCRYPTION_KEY cannot open"), "{stderr}");
    assert!(stderr.contains(keyring.current_key_id()), "names the key that sealed them: {stderr}");
    let target = db::open(&other).await.unwrap();
    assert_eq!(contents(&target).await, contents(&app.state.pool).await);
}

#[tokio::test]
async fn hostile_or_wrong_urls_and_schemas_are_refused_in_sentences_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::load(Some(&Secret::new(TEST_KEY)), &[], dir.path()).unwrap();
    let (from, _) = live_database(dir.path(), &keyring, 2).await;
    let refused = |to: &str, says: &str| {
        let out = cli(&from, to, &[]);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{to}: {stdout}");
        assert!(stderr.starts_with("authwatch: ") && stderr.contains(says), "{to}: {stderr}");
        assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"), "no password printed: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    };
    refused("mysql://root:hunter2@127.0.0.1/authwatch", "neither a sqlite: nor a postgres:// URL");
    refused("postgres://aw:hunter2@127.0.0.1:9/authwatch", "the target database (--to)");
    refused("postgres://aw:hunter2@127.0.0.1:9/authwatch'; DROP TABLE accounts; --", "the target database (--to)");
    refused("sqlite:///nonexistent/dir/authwatch.db", "the target database (--to)");
    refused("", "neither a sqlite: nor a postgres:// URL");
    refused(&from, "name the same database");

    let missing = dir.path().join("missing.db");
    let out = cli(&format!("sqlite://{}", missing.display()), &new_target(dir.path(), "t1.db").await, &[]);
    assert!(text(&out).1.contains("there is no database file at"), "{}", text(&out).1);
    assert!(!missing.exists(), "no empty database left behind");

    // A source newer than this binary, or with a table it does not know.
    let source = db::open(&from).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (9999, 'future', '2030-01-01', 1, x'00', 0)",
    )
    .execute(&source)
    .await
    .unwrap();
    let known = db::migrator(db::Backend::Sqlite).iter().map(|m| m.version).max().unwrap();
    let out = cli(&from, &new_target(dir.path(), "t2.db").await, &[]);
    let stderr = text(&out).1;
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("the source database (--from) is at migration version 9999, newer than this authwatch knows (version {known})")),
        "{stderr}"
    );
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 9999").execute(&source).await.unwrap();
    sqlx::query("CREATE TABLE extras (id INTEGER PRIMARY KEY)").execute(&source).await.unwrap();
    let to = new_target(dir.path(), "t3.db").await;
    let out = cli(&from, &to, &[]);
    let stderr = text(&out).1;
    assert!(!out.status.success());
    assert!(stderr.contains("has a table extras that this authwatch does not know"), "{stderr}");
    let target = db::open(&to).await.unwrap();
    assert!(contents(&target).await.0.iter().all(|(_, n)| *n == 0), "nothing written");
    sqlx::query("DROP TABLE extras").execute(&source).await.unwrap();
    source.close().await;
}
