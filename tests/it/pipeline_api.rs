#![cfg(feature = "ssr")]
//! The pipeline API's edges: API keys (bearer only, scoped, revocable, stored
//! hashed, made by the command line), problem+json for every bad input, and
//! the OpenAPI document — valid, and the API answers as it says.

use crate::support as common;
use crate::support::pipeline;

use authwatch::server::db::api_keys;
use authwatch::server::x::now_ms;
use common::TestApp;
use pipeline::{account, reply, Api};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[tokio::test]
async fn calls_without_a_valid_bearer_key_are_refused_and_cookies_do_not_count() {
    let app = TestApp::start(vec![("AUTHWATCH_API_CACHE_MS", "0")]).await;
    authwatch::server::demo::seed(&app.state, app.emulator()).await.unwrap();
    let api = Api::new(&app).await;
    let http = reqwest::Client::new();

    let none = reply(http.get(app.url("/api/v1/accounts")).send().await.unwrap()).await;
    none.assert_problem(401, "missing-api-key");
    assert_eq!(none.headers.get("www-authenticate").unwrap(), "Bearer");
    api.with_key("awk_not-a-key").get("/accounts").await.assert_problem(401, "invalid-api-key");
    let basic =
        reply(http.get(app.url("/api/v1/accounts")).basic_auth("user", Some(&api.key)).send().await.unwrap()).await;
    basic.assert_problem(401, "missing-api-key");

    // A browser signed in to the dashboard is no API client: its cookie counts for nothing here.
    let browser = app.admin().await;
    assert_eq!(browser.get(app.url("/")).send().await.unwrap().status(), 200, "signed in");
    reply(browser.get(app.url("/api/v1/accounts")).send().await.unwrap()).await.assert_problem(401, "missing-api-key");

    assert_eq!(api.get("/accounts").await.status, 200);
    let id = api_keys::list(&app.state.pool).await.unwrap()[0].id.clone();
    assert!(api_keys::revoke(&app.state.pool, &id, now_ms()).await.unwrap());
    api.get("/accounts").await.assert_problem(401, "invalid-api-key");

    // Only the hash is stored.
    let bytes = app.database_bytes().await;
    assert!(
        !bytes.windows(api.key.len()).any(|w| w == api.key.as_bytes()),
        "the key itself is nowhere in the database"
    );
    let hash = authwatch::server::pipeline::auth::hash(&api.key);
    assert!(bytes.windows(hash.len()).any(|w| w == hash.as_bytes()));
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_the_cache_ttl() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    assert_eq!(api.get("/accounts").await.status, 200);
    let id = api_keys::list(&app.state.pool).await.unwrap()[0].id.clone();
    api_keys::revoke(&app.state.pool, &id, now_ms()).await.unwrap();
    tokio::time::sleep(app.state.config.api_cache_ttl + std::time::Duration::from_millis(50)).await;
    api.get("/accounts").await.assert_problem(401, "invalid-api-key");
}

#[tokio::test]
async fn a_key_scoped_to_some_accounts_sees_and_acts_for_only_those() {
    let app = TestApp::demo().await;
    let news = account(&app, "acme_news").await;
    let support = account(&app, "acme_support").await;
    let api = Api::with_accounts(&app, Some(std::slice::from_ref(&news.id))).await;

    let list = api.get("/accounts").await;
    assert_eq!(list.body.as_array().unwrap().iter().map(|a| a["id"].clone()).collect::<Vec<_>>(), vec![json!(news.id)]);
    assert_eq!(api.get(&format!("/accounts/{}/token", news.id)).await.status, 200);
    api.get(&format!("/accounts/{}/token", support.id)).await.assert_problem(403, "account-not-allowed");
    api.publish(&support.id, "k", "not mine").await.assert_problem(403, "account-not-allowed");
    // An unknown id is "not allowed" for a scoped key: it reveals nothing.
    api.get("/accounts/acc_nope/token").await.assert_problem(403, "account-not-allowed");
    assert!(pipeline::published(&app).is_empty());
}

#[tokio::test]
async fn bad_input_gets_a_clear_problem_and_posts_nothing() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let news = account(&app, "acme_news").await;
    let posts = format!("{}/accounts/{}/posts", api.base, news.id);

    api.get("/accounts/acc_nope/token").await.assert_problem(404, "unknown-account");
    api.publish("acc_nope", "k0", "hello").await.assert_problem(404, "unknown-account");
    let malformed = api
        .http
        .post(&posts)
        .bearer_auth(&api.key)
        .header("Idempotency-Key", "k1")
        .header("content-type", "application/json")
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    reply(malformed).await.assert_problem(400, "malformed-request");
    let no_key = api.http.post(&posts).bearer_auth(&api.key).json(&json!({"text": "hi"})).send().await.unwrap();
    let no_key = reply(no_key).await;
    no_key.assert_problem(400, "malformed-request");
    assert!(no_key.body["detail"].as_str().unwrap().contains("Idempotency-Key"));
    let long = api.publish(&news.id, "k2", &"x".repeat(281)).await;
    long.assert_problem(422, "invalid-request");
    assert!(long.body["detail"].as_str().unwrap().contains("281 characters; X allows at most 280"));
    assert_eq!(api.publish(&news.id, "k3", &"é".repeat(280)).await.status, 201, "280 characters are fine");
    api.publish(&news.id, "k4", "").await.assert_problem(422, "invalid-request");
    api.publish(&news.id, "k 1", "hello").await.assert_problem(400, "malformed-request");
    api.get("/nowhere").await.assert_problem(404, "not-found");
    assert_eq!(pipeline::published(&app).len(), 1);
}

#[tokio::test]
async fn the_command_line_creates_a_working_key_shown_once_and_revokes_it() {
    // The command line finds the demo's database by its data directory.
    let app = TestApp::builder().sqlite().demo().start().await;
    let news = account(&app, "acme_news").await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_authwatch"))
            .args(args)
            .env("AUTHWATCH_DATA_DIR", app.data_dir.path())
            .env_remove("AUTHWATCH_X_CLIENT_ID")
            .env("AUTHWATCH_DEMO", "1")
            .env_remove("AUTHWATCH_DATABASE_URL")
            .output()
            .expect("run authwatch")
    };
    let out = cli(&["api-key", "create", "--name", "publisher", "--account", &news.id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| stdout.lines().find_map(|l| l.strip_prefix(name)).unwrap().trim().to_owned();
    let (id, key) = (field("id:"), field("key:"));
    assert!(key.starts_with("awk_") && key.len() > 40);

    let api = Api::new(&app).await.with_key(&key);
    assert_eq!(api.get(&format!("/accounts/{}/token", news.id)).await.status, 200);
    let listed = String::from_utf8(cli(&["api-key", "list"]).stdout).unwrap();
    assert!(listed.contains(&id) && listed.contains("publisher") && !listed.contains(&key), "{listed}");

    let unknown = cli(&["api-key", "create", "--name", "x", "--account", "acc_nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account acc_nope"));

    assert!(cli(&["api-key", "revoke", &id]).status.success());
    tokio::time::sleep(app.state.config.api_cache_ttl + std::time::Duration::from_millis(50)).await;
    api.get(&format!("/accounts/{}/token", news.id)).await.assert_problem(401, "invalid-api-key");
}

#[tokio::test]
async fn revoking_a_key_on_the_command_line_cancels_the_posts_it_holds() {
    // The command line finds the demo's database by its data directory.
    let app = TestApp::builder().sqlite().demo().start().await;
    let labs = account(&app, "acme_labs").await;
    let api = Api::named(&app, "cron job", None).await;
    let held = api.publish(&labs.id, "cli-1", "Held for labs").await;
    assert_eq!(held.status, 202);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authwatch"))
        .args(["api-key", "revoke", &api.key_id])
        .env("AUTHWATCH_DATA_DIR", app.data_dir.path())
        .env_remove("AUTHWATCH_X_CLIENT_ID")
        .env("AUTHWATCH_DEMO", "1")
        .env_remove("AUTHWATCH_DATABASE_URL")
        .output()
        .expect("run authwatch");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cancelled 1 held post(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(pipeline::post_status(&app, held.body["id"].as_i64().unwrap()).await, "cancelled");
    assert!(authwatch::server::db::posts::held(&app.state.pool, &labs.id).await.unwrap().is_empty());
    let events = authwatch::server::db::events::recent(&app.state.pool, &labs.id, 5).await.unwrap();
    assert_eq!((events[0].kind.as_str(), events[0].actor.as_str()), ("discard", "command line"));
    assert!(events[0].detail.as_deref().unwrap().contains("\"cron job\""), "{:?}", events[0].detail);
}

/// The OpenAPI document is valid, needs no key, and describes exactly the
/// routes served; every answer of a sample of real calls has a status the
/// document lists for that operation and a body of the documented schema.
#[tokio::test]
async fn the_openapi_document_describes_what_the_api_answers() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    let paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        paths,
        [
            "/api/v1/accounts",
            "/api/v1/accounts/{id}/auth-failures",
            "/api/v1/accounts/{id}/posts",
            "/api/v1/accounts/{id}/token"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    // Every $ref resolves, and every operation is secured and has responses.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(doc["components"]["schemas"][name].is_object(), "{r} does not resolve");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
            assert_eq!(operation["security"], json!([{"api_key": []}]), "{method} {path}");
        }
    }

    let news = account(&app, "acme_news").await;
    let labs = account(&app, "acme_labs").await;
    let unauthenticated = api.with_key("awk_wrong");
    let calls: Vec<(&str, String, pipeline::Reply)> = vec![
        ("get", "/api/v1/accounts".into(), api.get("/accounts").await),
        ("get", "/api/v1/accounts".into(), unauthenticated.get("/accounts").await),
        ("get", "/api/v1/accounts/{id}/token".into(), api.get(&format!("/accounts/{}/token", news.id)).await),
        ("get", "/api/v1/accounts/{id}/token".into(), api.get(&format!("/accounts/{}/token", labs.id)).await),
        ("get", "/api/v1/accounts/{id}/token".into(), api.get("/accounts/nope/token").await),
        ("post", "/api/v1/accounts/{id}/posts".into(), api.publish(&news.id, "c1", "contract").await),
        ("post", "/api/v1/accounts/{id}/posts".into(), api.publish(&labs.id, "c2", "held").await),
        ("post", "/api/v1/accounts/{id}/posts".into(), api.publish(&news.id, "c3", "").await),
        (
            "post",
            "/api/v1/accounts/{id}/auth-failures".into(),
            api.post(&format!("/accounts/{}/auth-failures", news.id), &json!({"status": 401, "body": "Unauthorized"}))
                .await,
        ),
        (
            "post",
            "/api/v1/accounts/{id}/auth-failures".into(),
            api.post(&format!("/accounts/{}/auth-failures", news.id), &json!([])).await,
        ),
        ("post", "/api/v1/accounts/{id}/auth-failures".into(), over_the_report_budget(&api, &labs.id).await),
        ("post", "/api/v1/accounts/{id}/posts".into(), discarded_then_replayed(&app, &api, &labs.id).await),
    ];
    let mut seen = BTreeSet::new();
    for (method, path, reply) in &calls {
        let operation = &doc["paths"][path.as_str()][*method];
        let response = &operation["responses"][reply.status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {} which the document does not list: {:?}",
            reply.status,
            reply.body
        );
        let content = response["content"].as_object().expect("documented content");
        let (media, schema) = content.iter().next().unwrap();
        assert_eq!(reply.content_type(), media, "{method} {path} {}", reply.status);
        conforms(&doc, &schema["schema"], &reply.body, &format!("{method} {path} {}", reply.status));
        seen.insert(reply.status);
    }
    assert!(seen.is_superset(&[200, 201, 202, 400, 401, 404, 409, 410, 422, 429].into_iter().collect()), "{seen:?}");
}

/// The answer to one report more than the budget allows.
async fn over_the_report_budget(api: &Api, account_id: &str) -> pipeline::Reply {
    let forbidden = json!({"title": "Forbidden", "status": 403});
    for _ in 0..authwatch::domain::pipeline::REPORTS_PER_WINDOW {
        assert_eq!(api.report(account_id, 403, &forbidden).await.status, 200);
    }
    let over = api.report(account_id, 403, &forbidden).await;
    over.assert_problem(429, "too-many-reports");
    over
}

/// The answer to a publish replayed after its held post was discarded.
async fn discarded_then_replayed(app: &TestApp, api: &Api, account_id: &str) -> pipeline::Reply {
    let held = api.publish(account_id, "discard-me", "Discarded before it went out").await;
    assert_eq!(held.status, 202, "{:?}", held.body);
    let id = held.body["id"].as_i64().unwrap();
    assert!(authwatch::server::pipeline::posts::discard_held(&app.state, account_id, id, "test").await.unwrap());
    let replay = api.publish(account_id, "discard-me", "Discarded before it went out").await;
    replay.assert_problem(410, "post-cancelled");
    replay
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(r)) = fields.get("$ref") {
                out.push(r.clone());
            }
            fields.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Checks `value` against the subset of JSON Schema utoipa generates:
/// `$ref`, `type` (one or a list, `null` included), `properties`,
/// `required`, `items`, `oneOf`.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Err(why) = check(doc, schema, value, at) {
        panic!("{why}");
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: {reference} does not resolve"));
        }
        return check(doc, target, value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        return if options.iter().any(|o| check(doc, o, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: {value} matches no option of {schema}"))
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !(types.contains(&actual) || (actual == "integer" && types.contains(&"number"))) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    match value {
        Value::Object(fields) => {
            for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !fields.contains_key(required) {
                    return Err(format!("{at}: `{required}` missing from {value}"));
                }
            }
            if let Some(properties) = schema["properties"].as_object() {
                for (name, field) in fields {
                    let property = properties.get(name).ok_or_else(|| format!("{at}: `{name}` is not documented"))?;
                    check(doc, property, field, &format!("{at}.{name}"))?;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                check(doc, &schema["items"], item, at)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[tokio::test]
async fn admins_create_list_and_revoke_keys_on_the_settings_page_and_nobody_else_can() {
    use authwatch::api::api_keys::{CreateApiKey, LoadApiKeys, RevokeApiKey};
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let admin = app.admin().await;
    let manager = app.manager().await;
    let anonymous = app.browser();
    let create = |c: &reqwest::Client| {
        c.post(app.url(CreateApiKey::PATH)).form(&[("name", "scheduler"), ("accounts", "")]).send()
    };

    assert_eq!(create(&anonymous).await.unwrap().status(), 401);
    assert_eq!(create(&manager).await.unwrap().status(), 403);
    assert_eq!(manager.post(app.url(LoadApiKeys::PATH)).send().await.unwrap().status(), 403);
    assert!(api_keys::list(&app.state.pool).await.unwrap().is_empty(), "refused calls created nothing");

    let created = create(&admin).await.unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let api = Api::new(&app).await.with_key(&key);
    assert_eq!(api.get("/accounts").await.status, 200, "the key shown once works");

    let listed: Value = admin.post(app.url(LoadApiKeys::PATH)).send().await.unwrap().json().await.unwrap();
    let mine = listed.as_array().unwrap().iter().find(|k| k["id"] == created["id"]).unwrap().clone();
    assert_eq!(
        (mine["name"].as_str(), mine["scope"].as_str(), mine["revoked"].as_bool()),
        (Some("scheduler"), Some("all accounts"), Some(false))
    );
    assert!(!listed.to_string().contains(&key), "the list never shows a key");
    let page = admin.get(app.url("/settings")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Pipeline API keys") && page.contains("scheduler") && !page.contains(&key));

    let id = created["id"].as_str().unwrap();
    assert_eq!(manager.post(app.url(RevokeApiKey::PATH)).form(&[("id", id)]).send().await.unwrap().status(), 403);
    assert_eq!(api.get("/accounts").await.status, 200);
    assert_eq!(admin.post(app.url(RevokeApiKey::PATH)).form(&[("id", id)]).send().await.unwrap().status(), 200);
    api.get("/accounts").await.assert_problem(401, "invalid-api-key");
}

#[tokio::test]
async fn only_people_who_may_act_on_an_account_release_its_held_posts() {
    use authwatch::api::held::{LoadHeldPosts, ReleaseHeldPosts};
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let labs = account(&app, "acme_labs").await;
    let api = Api::new(&app).await;
    assert_eq!(api.publish(&labs.id, "h1", "Held for labs").await.status, 202);

    let anonymous = app.browser();
    assert_eq!(
        anonymous
            .post(app.url(LoadHeldPosts::PATH))
            .form(&[("account_id", labs.id.as_str())])
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let held: Value = app
        .manager()
        .await
        .post(app.url(LoadHeldPosts::PATH))
        .form(&[("account_id", labs.id.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(held[0]["text"], "Held for labs", "everyone signed in sees them");
    let release = |c: reqwest::Client| {
        let url = app.url(ReleaseHeldPosts::PATH);
        let id = labs.id.clone();
        async move { c.post(url).form(&[("account_id", id)]).send().await.unwrap() }
    };
    assert_eq!(release(anonymous).await.status(), 401);
    let owner_or_admin = release(app.admin().await).await;
    assert_eq!(owner_or_admin.status(), 200);
    let said: String = owner_or_admin.json().await.unwrap();
    assert!(said.contains("still held"), "the account still needs a reconnect: {said}");
    assert!(pipeline::published(&app).is_empty());
}

#[tokio::test]
async fn owners_and_admins_discard_a_held_post_and_nobody_else_can() {
    use authwatch::api::held::DiscardHeldPost;
    use leptos::server_fn::ServerFn;
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let labs = account(&app, "acme_labs").await; // the admin's
    let events = account(&app, "acme_events").await; // the manager's
    let of_labs = api.publish(&labs.id, "d1", "Held for labs").await.body["id"].as_i64().unwrap();
    let of_events = api.publish(&events.id, "d2", "Held for events").await.body["id"].as_i64().unwrap();
    let discard = |c: reqwest::Client, account_id: &str, post_id: i64| {
        let url = app.url(DiscardHeldPost::PATH);
        let form = [("account_id", account_id.to_owned()), ("post_id", post_id.to_string())];
        async move { c.post(url).form(&form).send().await.unwrap() }
    };
    let status = |id| pipeline::post_status(&app, id);

    assert_eq!(discard(app.browser(), &labs.id, of_labs).await.status(), 401);
    // The manager is not the owner of @acme_labs.
    assert_eq!(discard(app.manager().await, &labs.id, of_labs).await.status(), 403);
    // Nor does naming her own account reach another account's post.
    let elsewhere = discard(app.manager().await, &events.id, of_labs).await;
    assert_eq!(elsewhere.status(), 409);
    assert_eq!(status(of_labs).await, "held", "refused calls changed nothing");
    let pool = app.state.pool.clone();
    let timeline = |id: String| {
        let pool = pool.clone();
        async move {
            authwatch::server::db::events::recent(&pool, &id, 50)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind.as_str() == "discard")
                .collect::<Vec<_>>()
        }
    };
    assert!(timeline(labs.id.clone()).await.is_empty());

    let by_owner = discard(app.manager().await, &events.id, of_events).await;
    assert_eq!(by_owner.status(), 200);
    assert_eq!(status(of_events).await, "cancelled");
    let recorded = timeline(events.id.clone()).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].actor, authwatch::server::demo::MANAGER.email);
    assert_eq!(discard(app.admin().await, &labs.id, of_labs).await.status(), 200);
    assert_eq!(status(of_labs).await, "cancelled");
    assert_eq!(discard(app.admin().await, &labs.id, of_labs).await.status(), 409, "once");

    // Neither goes out after the reconnect, and the pipeline learns it on a replay.
    pipeline::reconnect_in_browser(&app, &labs.id, &labs.x_user_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(pipeline::published(&app).is_empty());
    api.publish(&labs.id, "d1", "Held for labs").await.assert_problem(410, "post-cancelled");
}

#[tokio::test]
async fn the_account_page_offers_discard_per_held_post_to_those_who_may_act() {
    let app = TestApp::demo().await;
    let api = Api::new(&app).await;
    let labs = account(&app, "acme_labs").await;
    let first = api.publish(&labs.id, "p1", "First held").await.body["id"].as_i64().unwrap();
    let second = api.publish(&labs.id, "p2", "Second held").await.body["id"].as_i64().unwrap();
    let page = pipeline::account_page(&app, &labs.id).await;
    for id in [first, second] {
        assert!(page.contains(&format!("data-discard=\"{id}\"")), "a discard button for post {id}");
    }
    // The manager does not own @acme_labs: she sees the posts, not the buttons.
    let hers =
        app.manager().await.get(app.url(&format!("/accounts/{}", labs.id))).send().await.unwrap().text().await.unwrap();
    assert!(hers.contains("First held") && !hers.contains("data-discard"));
}
