//! Liveness and readiness over a real port: `/healthz` answers while the
//! process serves, whatever the database does; `/readyz` only while the
//! database answers and holds exactly this binary's migrations.

use crate::support::TestApp;
use authwatch::server::db::{self, Backend};

/// An anonymous client, as a load balancer's probe is.
fn probe() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn get(app: &TestApp, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = probe().get(app.url(path)).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

async fn readyz(app: &TestApp) -> (u16, serde_json::Value) {
    let (status, body, headers) = get(app, "/readyz").await;
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["content-type"], "application/json");
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}")))
}

fn backend(app: &TestApp) -> &'static str {
    match Backend::of(&app.state.pool) {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    }
}

#[tokio::test]
async fn both_answer_200_signed_out_and_refuse_other_methods() {
    let app = TestApp::empty_demo().await;
    let (status, body, headers) = get(&app, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");

    let (status, json) = readyz(&app).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json, serde_json::json!({"database": "ok", "migrations": "current", "backend": backend(&app)}));

    for path in ["/healthz", "/readyz"] {
        for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let r = probe().request(method.clone(), app.url(path)).body("x").send().await.unwrap();
            assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn readyz_is_503_when_the_migrations_differ_from_this_binarys() {
    let app = TestApp::empty_demo().await;
    let pool = &app.state.pool;
    let latest = db::migrator(Backend::of(pool)).iter().map(|m| m.version).max().unwrap();
    let saved: (i64, String, Vec<u8>) =
        sqlx::query_as("SELECT version, description, checksum FROM _sqlx_migrations WHERE version = $1")
            .bind(latest)
            .fetch_one(pool)
            .await
            .unwrap();

    // A migration this binary has, not applied.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(latest).execute(pool).await.unwrap();
    let (status, json) = readyz(&app).await;
    assert_eq!(status, 503);
    assert_eq!((json["database"].as_str(), json["migrations"].as_str()), (Some("ok"), Some("differ")), "{json}");
    assert_eq!(json["missing"], serde_json::json!([latest]), "{json}");

    // Applied with another file than this binary's.
    let insert = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                  VALUES ($1, $2, $3, $4, 0)";
    let ok = true;
    sqlx::query(insert).bind(latest).bind(&saved.1).bind(ok).bind(vec![0u8; 48]).execute(pool).await.unwrap();
    let (status, json) = readyz(&app).await;
    assert_eq!((status, &json["changed"]), (503, &serde_json::json!([latest])), "{json}");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(latest).execute(pool).await.unwrap();
    sqlx::query(insert).bind(latest).bind(&saved.1).bind(ok).bind(saved.2.clone()).execute(pool).await.unwrap();
    assert_eq!(readyz(&app).await.0, 200, "as it was: ready again");

    // One more than it knows: a newer version ran on this database.
    sqlx::query(insert).bind(9999i64).bind("from the future").bind(ok).bind(vec![1u8; 48]).execute(pool).await.unwrap();
    let (status, json) = readyz(&app).await;
    assert_eq!((status, &json["unknown"]), (503, &serde_json::json!([9999])), "{json}");
    assert_eq!(get(&app, "/healthz").await.0, 200, "alive all the same");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone_and_healthz_still_200() {
    let app = TestApp::empty_demo().await;
    assert_eq!(readyz(&app).await.0, 200);
    // Every connection closed, none to be had: what a server whose database
    // went away sees.
    app.state.pool.close().await;
    let (status, json) = readyz(&app).await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(json["database"], "unreachable", "{json}");
    assert_eq!(json["migrations"], "unknown", "{json}");
    let body = json.to_string();
    assert!(!body.contains("sqlite:") && !body.contains("postgres:"), "no URL: {body}");
    let (status, body, _) = get(&app, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"), "liveness makes no database call");
}
