//! The suite on PostgreSQL: with `AUTHWATCH_TEST_POSTGRES` set to a server's
//! URL (the test command starts a throwaway one), every [`super::TestApp`]
//! that names no database of its own gets a fresh, empty database there.

use sqlx::Connection;

/// The variable naming the server (a URL to its `postgres` database).
pub const VAR: &str = "AUTHWATCH_TEST_POSTGRES";

/// The server's URL, when the suite runs on PostgreSQL.
pub fn server() -> Option<String> {
    std::env::var(VAR).ok().filter(|v| !v.is_empty())
}

/// A new, empty database on the server at `server`: its URL.
pub async fn fresh_database(server: &str) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    let name = format!("aw_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 16).to_lowercase());
    let mut admin = sqlx::PgConnection::connect(server).await.expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create a test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(server).expect("server URL");
    url.set_path(&name);
    url.to_string()
}

/// Every byte a PostgreSQL database holds in its tables, as text (bytea
/// columns raw): what someone with a dump of it would read.
pub async fn contents(url: &str) -> Vec<u8> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_schema IN ('public', 'tower_sessions') AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut bytes = Vec::new();
    for (schema, table) in tables {
        bytes.extend(format!("{schema}.{table}\n").into_bytes());
        let rows: Vec<Option<String>> = sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM {schema}.{table} t"))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        for row in rows.into_iter().flatten() {
            bytes.extend(row.into_bytes());
        }
    }
    let sessions: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT data FROM tower_sessions.session").fetch_all(&mut conn).await.unwrap_or_default();
    for data in sessions {
        bytes.extend(data);
    }
    bytes
}
