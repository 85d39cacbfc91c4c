//! Helpers for the emulator's integration tests: a real server on a random
//! port, a reqwest client with redirects off, and the OAuth dance done the
//! way a browser and a client would do it. The test modules
//! `use crate::harness::*`.

use std::collections::HashMap;
use std::net::SocketAddr;

use authwatch_emulator::{ClientType, EmulatedApp, EmulatedUser, Emulator, EmulatorSettings, NewApp, NewUser};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CALLBACK: &str = "http://127.0.0.1:3000/auth/x/callback";
pub const PUBLIC_CALLBACK: &str = "http://127.0.0.1:4000/callback";
pub const ALL_SCOPES: &str = "tweet.read tweet.write users.read offline.access";

/// A running emulator with one confidential app, one public app and two users.
pub struct Harness {
    pub emulator: Emulator,
    pub base: String,
    pub http: reqwest::Client,
    pub app: EmulatedApp,
    pub public_app: EmulatedApp,
    pub alice: EmulatedUser,
    pub bob: EmulatedUser,
}

/// A status, JSON body (or `Null`) and headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Tokens from a successful token call.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub scope: String,
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("verifier-{}-0123456789abcdefghijklmnopqrstuvwxyz", rand_suffix());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn basic(app: &EmulatedApp) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", app.client_id, app.client_secret)))
}

/// Serves `router` on a random local port; the base URL.
pub async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    format!("http://{addr}")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The `{"error","error_description"}` body X sends from its token endpoint.
pub fn oauth_error(error: &str, description: &str) -> Value {
    serde_json::json!({ "error": error, "error_description": description })
}

pub fn invalid_token_error() -> Value {
    oauth_error("invalid_request", "Value passed for the token was invalid.")
}

pub fn problem(title: &str, status: u16) -> Value {
    serde_json::json!({ "title": title, "type": "about:blank", "status": status, "detail": title })
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_settings(EmulatorSettings::default()).await
    }

    pub async fn with_settings(settings: EmulatorSettings) -> Self {
        let emulator = Emulator::new(settings);
        let app = emulator
            .create_app(NewApp {
                name: "Pipeline App".into(),
                client_type: ClientType::Confidential,
                callbacks: vec![CALLBACK.into(), "http://localhost:3000/auth/x/callback".into()],
                ..NewApp::default()
            })
            .expect("app");
        let public_app = emulator
            .create_app(NewApp {
                name: "Native App".into(),
                client_type: ClientType::Public,
                callbacks: vec![PUBLIC_CALLBACK.into()],
                ..NewApp::default()
            })
            .expect("public app");
        let alice = emulator.create_user(NewUser { id: None, username: "alice".into(), name: "Alice A".into() });
        let bob = emulator.create_user(NewUser { id: Some("42".into()), username: "bob".into(), name: "Bob B".into() });
        let base = serve_router(emulator.router()).await;
        Self { emulator, base, http: client(), app, public_app, alice, bob }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn callback(app: &EmulatedApp) -> &str {
        &app.callbacks[0]
    }

    /// The query of an authorization request.
    pub fn authorize_query(
        app: &EmulatedApp,
        scope: &str,
        state: &str,
        challenge: &str,
        method: &str,
    ) -> Vec<(String, String)> {
        [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", Self::callback(app)),
            ("scope", scope),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", method),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub async fn get_page(&self, query: &[(String, String)], cookie: Option<&str>) -> Reply {
        let mut request = self.http.get(self.url("/i/oauth2/authorize")).query(query);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        reply(request.send().await.expect("authorize page")).await
    }

    /// Submits the consent page the way a browser would: its hidden fields,
    /// the picked account and the pressed button.
    pub async fn submit_consent(&self, page_html: &str, user_id: &str, action: &str) -> Reply {
        let mut form = hidden_inputs(page_html);
        form.push(("user_id".into(), user_id.into()));
        form.push(("action".into(), action.into()));
        let response = self.http.post(self.url("/i/oauth2/authorize")).form(&form).send().await.expect("consent");
        reply(response).await
    }

    /// Consent as `user`; the redirect's query.
    pub async fn consent(
        &self,
        app: &EmulatedApp,
        user: &EmulatedUser,
        scope: &str,
        challenge: &str,
        method: &str,
    ) -> HashMap<String, String> {
        let page = self.get_page(&Self::authorize_query(app, scope, "st-1", challenge, method), None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("Authorize app"), "{}", page.text);
        let redirect = self.submit_consent(&page.text, &user.id, "authorize").await;
        assert_eq!(redirect.status, 302, "{}", redirect.text);
        let location = redirect.header("location").expect("location");
        let url = url::Url::parse(location).expect("absolute location");
        assert_eq!(format!("{}{}", url.origin().ascii_serialization(), url.path()), Self::callback(app));
        url.query_pairs().into_owned().collect()
    }

    /// A code for `user` with an S256 challenge; (code, verifier).
    pub async fn code(&self, app: &EmulatedApp, user: &EmulatedUser, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let query = self.consent(app, user, scope, &challenge, "S256").await;
        assert_eq!(query.get("state").map(String::as_str), Some("st-1"));
        (query.get("code").expect("code").clone(), verifier)
    }

    /// A token call authenticated as `app`'s type wants.
    pub async fn token(&self, app: &EmulatedApp, params: &[(&str, &str)]) -> Reply {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut request = self.http.post(self.url("/2/oauth2/token"));
        match app.client_type {
            ClientType::Confidential => request = request.header("authorization", basic(app)),
            ClientType::Public => form.push(("client_id", &app.client_id)),
        }
        reply(request.form(&form).send().await.expect("token call")).await
    }

    pub async fn exchange(&self, app: &EmulatedApp, code: &str, verifier: &str) -> Reply {
        self.token(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", Self::callback(app)),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    pub async fn refresh(&self, app: &EmulatedApp, refresh_token: &str) -> Reply {
        self.token(app, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Consent and code exchange in one go.
    pub async fn connect(&self, app: &EmulatedApp, user: &EmulatedUser, scope: &str) -> Tokens {
        let (code, verifier) = self.code(app, user, scope).await;
        let reply = self.exchange(app, &code, &verifier).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        tokens(&reply)
    }

    pub async fn users_me(&self, access_token: &str) -> Reply {
        reply(self.http.get(self.url("/2/users/me")).bearer_auth(access_token).send().await.expect("users/me")).await
    }

    pub async fn tweet(&self, access_token: &str, body: &str) -> Reply {
        let request = self
            .http
            .post(self.url("/2/tweets"))
            .bearer_auth(access_token)
            .header("content-type", "application/json")
            .body(body.to_owned());
        reply(request.send().await.expect("tweet")).await
    }

    pub async fn revoke(&self, app: &EmulatedApp, token: &str, hint: &str) -> Reply {
        self.token_like("/2/oauth2/revoke", app, &[("token", token), ("token_type_hint", hint)]).await
    }

    async fn token_like(&self, path: &str, app: &EmulatedApp, params: &[(&str, &str)]) -> Reply {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut request = self.http.post(self.url(path));
        match app.client_type {
            ClientType::Confidential => request = request.header("authorization", basic(app)),
            ClientType::Public => form.push(("client_id", &app.client_id)),
        }
        reply(request.form(&form).send().await.expect("call")).await
    }
}

pub fn tokens(reply: &Reply) -> Tokens {
    Tokens {
        access: reply.body["access_token"].as_str().expect("access_token").to_owned(),
        refresh: reply.body["refresh_token"].as_str().map(str::to_owned),
        scope: reply.body["scope"].as_str().expect("scope").to_owned(),
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text, headers }
}

/// The `<input type="hidden" name=… value=…>` fields of a page.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for tag in html.split("<input").skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        if !tag.contains(r#"type="hidden""#) {
            continue;
        }
        let attr = |name: &str| {
            let start = tag.find(&format!(r#"{name}=""#))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
    }
    fields
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}
