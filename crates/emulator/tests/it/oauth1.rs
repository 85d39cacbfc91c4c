//! The emulator's OAuth 1.0a user context against X's behaviour (X_API.md,
//! "OAuth 1.0a user context"), over real HTTP, every request signed by a
//! third-party signer (`oauth1-request`): the 3-legged flow, each refusal
//! with X's code, the deaths of 1.0a tokens, v2 with 1.0a, counts.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::*;
use authwatch_emulator::{EmulatedApp, EmulatedUser, Emulator, EmulatorSettings, Endpoint, Fault, FaultKind};
use oauth1_request as oauth;
use reqwest::Method;
use serde_json::{json, Value};

const XML_415: &str = r#"<?xml version="1.0" encoding="UTF-8"?><errors><error code="415">Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings</error></errors>"#;

fn v1_error(code: u16, message: &str) -> Value {
    json!({ "errors": [{ "code": code, "message": message }] })
}

fn could_not_authenticate() -> Value {
    v1_error(32, "Could not authenticate you.")
}

fn invalid_or_expired() -> Value {
    v1_error(89, "Invalid or expired token.")
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// What the signer puts in the header besides the consumer credentials.
#[derive(Default, Clone, Copy)]
struct Sign<'a> {
    token: Option<(&'a str, &'a str)>,
    callback: Option<&'a str>,
    verifier: Option<&'a str>,
    timestamp: Option<u64>,
    nonce: Option<&'a str>,
}

/// A user's 1.0a access token and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UserToken {
    token: String,
    secret: String,
}

impl UserToken {
    fn sign(&self) -> Sign<'_> {
        Sign { token: Some((&self.token, &self.secret)), ..Sign::default() }
    }
}

/// A 1.0a client of one app, talking to the emulator at `base`.
struct Client1 {
    http: reqwest::Client,
    base: String,
    key: String,
    secret: String,
    /// Where `connect` asks X to send the browser back.
    callback: String,
}

impl Client1 {
    fn new(base: &str, app: &EmulatedApp) -> Self {
        Self {
            callback: Harness::callback(app).to_owned(),
            ..Self::with_keys(base, &app.consumer_key, &app.consumer_secret)
        }
    }

    /// A client of the harness's confidential app with these keys.
    fn with_keys(base: &str, key: &str, secret: &str) -> Self {
        let (key, secret) = (key.to_owned(), secret.to_owned());
        Self { http: client(), base: base.to_owned(), key, secret, callback: CALLBACK.to_owned() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `Authorization` header `oauth1-request` computes for this call.
    fn authorization(&self, method: &str, url: &str, params: &[(&str, &str)], sign: Sign<'_>) -> String {
        let client = oauth::Credentials::new(self.key.as_str(), self.secret.as_str());
        let mut builder = oauth::Builder::<_, _>::new(client, oauth::HmacSha1::new());
        builder
            .token(sign.token.map(|(token, secret)| oauth::Credentials::new(token, secret)))
            .callback(sign.callback)
            .verifier(sign.verifier)
            .nonce(sign.nonce)
            .timestamp(sign.timestamp.and_then(NonZeroU64::new));
        builder.authorize(method, url, &oauth::ParameterList::new(params.to_vec()))
    }

    async fn send(&self, method: Method, path: &str, form: &[(&str, &str)], sign: Sign<'_>) -> Reply {
        let url = self.url(path);
        let header = self.authorization(method.as_str(), &url, form, sign);
        let mut request = self.http.request(method.clone(), &url).header("authorization", header);
        if method == Method::POST {
            request = request.form(form);
        }
        reply(request.send().await.expect("signed call")).await
    }

    async fn request_token(&self, callback: &str) -> Reply {
        self.send(Method::POST, "/oauth/request_token", &[], Sign { callback: Some(callback), ..Sign::default() }).await
    }

    /// A request token for `callback`; (token, secret).
    async fn request_token_ok(&self, callback: &str) -> (String, String) {
        let answer = self.request_token(callback).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let form = form_of(&answer.text);
        assert_eq!(form["oauth_callback_confirmed"], "true");
        (form["oauth_token"].clone(), form["oauth_token_secret"].clone())
    }

    async fn page(&self, path: &str, oauth_token: &str) -> Reply {
        reply(self.http.get(self.url(path)).query(&[("oauth_token", oauth_token)]).send().await.expect("page")).await
    }

    /// Submits the consent page at `path` like a browser: its form's
    /// relative action resolved against the page's URL, its hidden fields,
    /// the picked account, the pressed button.
    async fn submit(&self, path: &str, page_html: &str, user_id: &str, action: &str) -> Reply {
        let form_action = page_html.split(r#"<form method="post" action=""#).nth(1).expect("a form");
        let form_action = &form_action[..form_action.find('"').expect("quoted action")];
        let target = url::Url::parse(&self.url(path)).unwrap().join(form_action).unwrap();
        let mut fields = hidden_inputs(page_html);
        fields.push(("user_id".into(), user_id.into()));
        fields.push(("action".into(), action.into()));
        reply(self.http.post(target).form(&fields).send().await.expect("consent")).await
    }

    /// Consent as `user` on the `/oauth/authorize` page; the callback's query.
    async fn authorize(&self, oauth_token: &str, user: &EmulatedUser) -> HashMap<String, String> {
        let page = self.page("/oauth/authorize", oauth_token).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("Authorize app"), "{}", page.text);
        let redirect = self.submit("/oauth/authorize", &page.text, &user.id, "authorize").await;
        assert_eq!(redirect.status, 303, "{}", redirect.text);
        let location = url::Url::parse(redirect.header("location").expect("location")).expect("absolute");
        location.query_pairs().into_owned().collect()
    }

    async fn access_token(&self, token: &str, secret: &str, verifier: &str) -> Reply {
        let sign = Sign { token: Some((token, secret)), verifier: Some(verifier), ..Sign::default() };
        self.send(Method::POST, "/oauth/access_token", &[], sign).await
    }

    /// The whole 3-legged flow for `user`.
    async fn connect(&self, user: &EmulatedUser) -> UserToken {
        let (token, secret) = self.request_token_ok(&self.callback).await;
        let query = self.authorize(&token, user).await;
        let answer = self.access_token(&token, &secret, &query["oauth_verifier"]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let form = form_of(&answer.text);
        assert_eq!(form["user_id"], user.id);
        UserToken { token: form["oauth_token"].clone(), secret: form["oauth_token_secret"].clone() }
    }

    async fn verify_credentials(&self, sign: Sign<'_>) -> Reply {
        self.send(Method::GET, "/1.1/account/verify_credentials.json", &[], sign).await
    }

    async fn users_me(&self, sign: Sign<'_>) -> Reply {
        self.send(Method::GET, "/2/users/me", &[], sign).await
    }

    /// `POST /2/tweets` with a JSON body, which the signature does not cover.
    async fn tweet(&self, sign: Sign<'_>, body: &str) -> Reply {
        let url = self.url("/2/tweets");
        let header = self.authorization("POST", &url, &[], sign);
        let request = self
            .http
            .post(&url)
            .header("authorization", header)
            .header("content-type", "application/json")
            .body(body.to_owned());
        reply(request.send().await.expect("tweet")).await
    }
}

fn form_of(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

fn assert_v1_error(reply: &Reply, status: u16, body: &Value) {
    assert_eq!((reply.status, &reply.body), (status, body), "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"));
    assert!(httpdate::parse_http_date(reply.header("date").expect("date")).is_ok());
}

fn assert_error_page(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.header("location").is_none(), "X never redirects here");
    assert!(reply.text.contains("Something went wrong"), "{}", reply.text);
    assert!(!reply.text.contains("Authorize app"));
}

async fn control(h: &Harness, method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = h.http.request(method, h.url(&format!("/_control{path}")));
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply(request.send().await.unwrap()).await
}

// ---- the 3-legged flow ------------------------------------------------------

#[tokio::test]
async fn three_legged_flow_signed_by_a_third_party_client() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);

    let answer = x.request_token(CALLBACK).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(httpdate::parse_http_date(answer.header("date").expect("date")).is_ok());
    let form = form_of(&answer.text);
    let keys: Vec<&str> = answer.text.split('&').map(|p| p.split('=').next().unwrap()).collect();
    assert_eq!(keys, ["oauth_token", "oauth_token_secret", "oauth_callback_confirmed"]);
    assert_eq!(form["oauth_callback_confirmed"], "true");
    let (token, secret) = (form["oauth_token"].clone(), form["oauth_token_secret"].clone());

    let page = x.page("/oauth/authorize", &token).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text.contains("Pipeline App wants to access your X account."), "{}", page.text);
    assert!(page.text.contains(r#"<select id="x-user" name="user_id">"#));
    assert!(page.text.contains(r#"<option value="42">@bob (Bob B)</option>"#));
    assert!(page.text.contains(r#"id="x-authorize">Authorize app</button>"#));
    assert!(page.text.contains(r#"id="x-cancel" class="secondary">Cancel</button>"#));
    assert!(page.text.contains(r#"action="authorize""#), "relative form action");
    assert!(hidden_inputs(&page.text).contains(&("oauth_token".into(), token.clone())));

    let redirect = x.submit("/oauth/authorize", &page.text, &h.bob.id, "authorize").await;
    assert_eq!(redirect.status, 303, "{}", redirect.text);
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    assert_eq!(format!("{}{}", location.origin().ascii_serialization(), location.path()), CALLBACK);
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(query["oauth_token"], token);
    let verifier = &query["oauth_verifier"];

    let answer = x.access_token(&token, &secret, verifier).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    let keys: Vec<&str> = answer.text.split('&').map(|p| p.split('=').next().unwrap()).collect();
    assert_eq!(keys, ["oauth_token", "oauth_token_secret", "user_id", "screen_name"]);
    let form = form_of(&answer.text);
    assert_eq!((form["user_id"].as_str(), form["screen_name"].as_str()), ("42", "bob"));
    assert!(form["oauth_token"].starts_with("42-"), "X's shape: <user id>-…");
    let user = UserToken { token: form["oauth_token"].clone(), secret: form["oauth_token_secret"].clone() };
    assert_ne!(user.token, token);

    let me = x.verify_credentials(user.sign()).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(me.body, json!({"id": 42, "id_str": "42", "name": "Bob B", "screen_name": "bob"}));
    assert_eq!(h.emulator.oauth1_tokens(&h.app.client_id).len(), 1);
    assert!(h.emulator.oauth1_tokens(&h.app.client_id)[0].live);
}

#[tokio::test]
async fn authenticate_page_is_the_same_consent_posting_to_itself() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let page = x.page("/oauth/authenticate", &token).await;
    assert!(page.text.contains(r#"action="authenticate""#), "{}", page.text);
    assert!(page.text.contains(r#"<select id="x-user" name="user_id">"#));
    let redirect = x.submit("/oauth/authenticate", &page.text, &h.alice.id, "authorize").await;
    assert_eq!(redirect.status, 303, "{}", redirect.text);
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    let verifier = location.query_pairs().find(|(k, _)| k == "oauth_verifier").unwrap().1.into_owned();
    let answer = x.access_token(&token, &secret, &verifier).await;
    assert_eq!(form_of(&answer.text)["screen_name"], "alice");
}

#[tokio::test]
async fn cancel_redirects_with_denied_and_the_request_token_is_spent() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let page = x.page("/oauth/authorize", &token).await;
    let redirect = x.submit("/oauth/authorize", &page.text, &h.alice.id, "cancel").await;
    assert_eq!(redirect.status, 303);
    assert_eq!(redirect.header("location"), Some(format!("{CALLBACK}?denied={token}").as_str()));
    assert_error_page(&x.page("/oauth/authorize", &token).await);
    assert_v1_error(&x.access_token(&token, &secret, "anything").await, 401, &invalid_or_expired());
    assert!(h.emulator.oauth1_tokens(&h.app.client_id).is_empty());
}

#[tokio::test]
async fn callback_may_carry_a_query_string_which_the_redirect_keeps() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, _) = x.request_token_ok(&format!("{CALLBACK}?account=7&x=a%20b")).await;
    let page = x.page("/oauth/authorize", &token).await;
    let redirect = x.submit("/oauth/authorize", &page.text, &h.alice.id, "authorize").await;
    let location = redirect.header("location").unwrap();
    assert!(
        location.starts_with(&format!("{CALLBACK}?account=7&x=a%20b&oauth_token={token}&oauth_verifier=")),
        "{location}"
    );
}

#[tokio::test]
async fn unregistered_callback_is_403_with_xs_xml_415() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    for callback in [
        "http://127.0.0.1:3000/other",
        "http://127.0.0.1:3001/auth/x/callback",
        "https://127.0.0.1:3000/auth/x/callback",
        "http://127.0.0.1:3000/auth/x/callback/",
        PUBLIC_CALLBACK, // another app's
        "not a url",
    ] {
        let answer = x.request_token(callback).await;
        assert_eq!((answer.status, answer.text.as_str()), (403, XML_415), "{callback}");
        assert_eq!(answer.header("content-type"), Some("application/xml;charset=utf-8"));
    }
    // Without any callback, nothing is approved either.
    let answer = x.send(Method::POST, "/oauth/request_token", &[], Sign::default()).await;
    assert_eq!((answer.status, answer.text.as_str()), (403, XML_415));
    assert_eq!(x.request_token("oob").await.status, 200, "oob needs no registration");
}

#[tokio::test]
async fn unregistered_callback_as_json_when_the_setting_says_so() {
    let h =
        Harness::with_settings(EmulatorSettings { oauth1_callback_error_as_json: true, ..Default::default() }).await;
    let answer = Client1::new(&h.base, &h.app).request_token("http://evil.example/cb").await;
    assert_v1_error(
        &answer,
        403,
        &v1_error(
            415,
            "Callback URL not approved for this client application. Approved callback URLs can be adjusted in your \
             application settings",
        ),
    );
}

#[tokio::test]
async fn oob_shows_the_verifier_as_a_pin() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok("oob").await;
    let page = x.page("/oauth/authorize", &token).await;
    let pin_page = x.submit("/oauth/authorize", &page.text, &h.alice.id, "authorize").await;
    assert_eq!(pin_page.status, 200);
    let pin = pin_page.text.split(r#"<code id="x-pin">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let answer = x.access_token(&token, &secret, &pin).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn unknown_or_missing_request_token_shows_xs_error_page() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    assert_error_page(&x.page("/oauth/authorize", "no-such-token").await);
    assert_error_page(&x.page("/oauth/authenticate", "").await);
    let (token, _) = x.request_token_ok(CALLBACK).await;
    let page = x.page("/oauth/authorize", &token).await;
    assert_error_page(&x.submit("/oauth/authorize", &page.text, "999", "authorize").await);
    assert!(x.page("/oauth/authorize", &token).await.text.contains("Authorize app"), "a refused form spends nothing");
}

#[tokio::test]
async fn request_token_is_single_use() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    // Consent given: the page cannot be used again.
    let again = x.page("/oauth/authorize", &token).await;
    assert_error_page(&again);
    let answer = x.access_token(&token, &secret, &query["oauth_verifier"]).await;
    assert_eq!(answer.status, 200);
    // Exchanged: the request token is spent.
    assert_v1_error(&x.access_token(&token, &secret, &query["oauth_verifier"]).await, 401, &invalid_or_expired());
}

#[tokio::test]
async fn request_token_expires_after_15_minutes() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (unused, _) = x.request_token_ok(CALLBACK).await;
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    h.emulator.advance_time(14 * 60);
    assert!(x.page("/oauth/authorize", &unused).await.text.contains("Authorize app"), "still alive at 14 minutes");
    h.emulator.advance_time(60);
    assert_error_page(&x.page("/oauth/authorize", &unused).await);
    // Signed on X's clock, so that only the request token's age counts.
    let sign = Sign {
        token: Some((&token, &secret)),
        verifier: Some(&query["oauth_verifier"]),
        timestamp: Some(unix_now() + 15 * 60),
        ..Sign::default()
    };
    let answer = x.send(Method::POST, "/oauth/access_token", &[], sign).await;
    assert_v1_error(&answer, 401, &invalid_or_expired());
}

#[tokio::test]
async fn access_token_exchange_is_single_use_and_a_wrong_verifier_spends_nothing() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    assert_v1_error(&x.access_token(&token, &secret, "wrong-verifier").await, 401, &invalid_or_expired());
    assert_v1_error(&x.access_token("unknown", "secret", &query["oauth_verifier"]).await, 401, &invalid_or_expired());
    let first = x.access_token(&token, &secret, &query["oauth_verifier"]).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = x.access_token(&token, &secret, &query["oauth_verifier"]).await;
    assert_v1_error(&second, 401, &invalid_or_expired());
    // Another app cannot exchange this app's request token either.
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    let other = Client1::new(&h.base, &h.public_app);
    assert_v1_error(&other.access_token(&token, &secret, &query["oauth_verifier"]).await, 401, &invalid_or_expired());
    assert_eq!(x.access_token(&token, &secret, &query["oauth_verifier"]).await.status, 200);
}

#[tokio::test]
async fn verifier_may_come_in_the_form_body() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    let sign = Sign { token: Some((&token, &secret)), ..Sign::default() };
    let answer =
        x.send(Method::POST, "/oauth/access_token", &[("oauth_verifier", &query["oauth_verifier"])], sign).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn connecting_again_gives_back_the_same_token() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let first = x.connect(&h.alice).await;
    let second = x.connect(&h.alice).await;
    assert_eq!(first, second);
    assert_eq!(x.verify_credentials(first.sign()).await.status, 200);
    assert_ne!(x.connect(&h.bob).await, first, "another user, another token");
}

#[tokio::test]
async fn connecting_again_replaces_the_token_when_the_setting_says_so() {
    let h = Harness::with_settings(EmulatorSettings { oauth1_reissue_same_token: false, ..Default::default() }).await;
    let x = Client1::new(&h.base, &h.app);
    let first = x.connect(&h.alice).await;
    let second = x.connect(&h.alice).await;
    assert_ne!(first, second);
    assert_v1_error(&x.verify_credentials(first.sign()).await, 401, &invalid_or_expired());
    assert_eq!(x.verify_credentials(second.sign()).await.status, 200);
}

// ---- the checks of a signed request ------------------------------------------

#[tokio::test]
async fn bad_signature_is_32() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let user = x.connect(&h.alice).await;
    let wrong_secret = Client1::with_keys(&h.base, &h.app.consumer_key, "not-the-consumer-secret");
    assert_v1_error(&wrong_secret.request_token(CALLBACK).await, 401, &could_not_authenticate());
    assert_v1_error(&wrong_secret.verify_credentials(user.sign()).await, 401, &could_not_authenticate());
    let wrong_token_secret = Sign { token: Some((&user.token, "not-the-token-secret")), ..Sign::default() };
    assert_v1_error(&x.verify_credentials(wrong_token_secret).await, 401, &could_not_authenticate());
    // Signed for another URL than the one called.
    let header = x.authorization("GET", &x.url("/1.1/account/settings.json"), &[], user.sign());
    let answer = reply(
        x.http.get(x.url("/1.1/account/verify_credentials.json")).header("authorization", header).send().await.unwrap(),
    )
    .await;
    assert_v1_error(&answer, 401, &could_not_authenticate());
    // Signed without the query string that was sent.
    let header = x.authorization("GET", &x.url("/1.1/account/verify_credentials.json"), &[], user.sign());
    let answer = reply(
        x.http
            .get(x.url("/1.1/account/verify_credentials.json?include_email=true"))
            .header("authorization", header)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_v1_error(&answer, 401, &could_not_authenticate());
    // Signed with the query string: fine.
    let header = x.authorization(
        "GET",
        &x.url("/1.1/account/verify_credentials.json"),
        &[("include_email", "true")],
        user.sign(),
    );
    let answer = reply(
        x.http
            .get(x.url("/1.1/account/verify_credentials.json?include_email=true"))
            .header("authorization", header)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn missing_or_garbled_header_is_32() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let url = x.url("/1.1/account/verify_credentials.json");
    let none = reply(x.http.get(&url).send().await.unwrap()).await;
    assert_v1_error(&none, 401, &could_not_authenticate());
    let good = x.authorization("GET", &url, &[], Sign::default());
    for garbled in [
        "OAuth".to_owned(),
        "OAuth oauth_consumer_key=unquoted".to_owned(),
        good.replace("HMAC-SHA1", "PLAINTEXT"),
        good.replace("oauth_nonce", "oauth_noncense"),
        format!("{good},oauth_nonce=\"again\""),
        "Bearer abc".to_owned(),
    ] {
        let answer = reply(x.http.get(&url).header("authorization", &garbled).send().await.unwrap()).await;
        assert_v1_error(&answer, 401, &could_not_authenticate());
    }
    let request_token = reply(x.http.post(x.url("/oauth/request_token")).send().await.unwrap()).await;
    assert_v1_error(&request_token, 401, &could_not_authenticate());
}

#[tokio::test]
async fn unknown_consumer_key_is_32() {
    let h = Harness::start().await;
    let user = Client1::new(&h.base, &h.app).connect(&h.alice).await;
    let stranger = Client1::with_keys(&h.base, "no-such-consumer-key", &h.app.consumer_secret);
    assert_v1_error(&stranger.request_token(CALLBACK).await, 401, &could_not_authenticate());
    assert_v1_error(&stranger.verify_credentials(user.sign()).await, 401, &could_not_authenticate());
}

#[tokio::test]
async fn timestamp_outside_xs_window_is_135_both_ways() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let user = x.connect(&h.alice).await;
    let out_of_bounds = v1_error(135, "Timestamp out of bounds.");
    // The client's clock is ahead of X's.
    let ahead = Sign { timestamp: Some(unix_now() + 310), ..user.sign() };
    assert_v1_error(&x.verify_credentials(ahead).await, 401, &out_of_bounds);
    let slightly_ahead = Sign { timestamp: Some(unix_now() + 280), ..user.sign() };
    assert_eq!(x.verify_credentials(slightly_ahead).await.status, 200);
    // X's clock moves on: the client's is behind.
    let advanced = control(&h, Method::POST, "/time/advance", Some(json!({"seconds": 280}))).await;
    assert_eq!(advanced.status, 204);
    assert_eq!(x.verify_credentials(user.sign()).await.status, 200, "280 seconds behind is within the window");
    control(&h, Method::POST, "/time/advance", Some(json!({"seconds": 30}))).await;
    assert_v1_error(&x.verify_credentials(user.sign()).await, 401, &out_of_bounds);
    assert_v1_error(&x.request_token(CALLBACK).await, 401, &out_of_bounds);
    // A bad signature is told before the timestamp.
    let wrong = Client1::with_keys(&h.base, &h.app.consumer_key, "wrong");
    assert_v1_error(&wrong.verify_credentials(user.sign()).await, 401, &could_not_authenticate());
}

#[tokio::test]
async fn timestamp_window_is_a_setting() {
    let h = Harness::with_settings(EmulatorSettings { oauth1_timestamp_window_secs: 30, ..Default::default() }).await;
    let x = Client1::new(&h.base, &h.app);
    let user = x.connect(&h.alice).await;
    h.emulator.advance_time(40);
    assert_v1_error(&x.verify_credentials(user.sign()).await, 401, &v1_error(135, "Timestamp out of bounds."));
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let alice = x.connect(&h.alice).await;
    let bob = x.connect(&h.bob).await;
    let url = x.url("/1.1/account/verify_credentials.json");
    let header = x.authorization("GET", &url, &[], alice.sign());
    let first = reply(x.http.get(&url).header("authorization", &header).send().await.unwrap()).await;
    assert_eq!(first.status, 200);
    let replay = reply(x.http.get(&url).header("authorization", &header).send().await.unwrap()).await;
    assert_v1_error(&replay, 401, &could_not_authenticate());
    // The same nonce with another token is another request.
    let nonce = "fixed-nonce-0123456789";
    assert_eq!(x.verify_credentials(Sign { nonce: Some(nonce), ..alice.sign() }).await.status, 200);
    assert_eq!(x.verify_credentials(Sign { nonce: Some(nonce), ..bob.sign() }).await.status, 200);
    let again = x.verify_credentials(Sign { nonce: Some(nonce), ..alice.sign() }).await;
    assert_v1_error(&again, 401, &could_not_authenticate());
    // On v2 as well, where it is the generic 401.
    let header = x.authorization("GET", &x.url("/2/users/me"), &[], bob.sign());
    let send = || x.http.get(x.url("/2/users/me")).header("authorization", &header).send();
    assert_eq!(reply(send().await.unwrap()).await.status, 200);
    let replayed = reply(send().await.unwrap()).await;
    assert_eq!((replayed.status, replayed.body), (401, problem("Unauthorized", 401)));
}

#[tokio::test]
async fn a_concurrent_burst_of_one_signed_request_passes_once() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let user = x.connect(&h.alice).await;
    let url = x.url("/1.1/account/verify_credentials.json");
    let header = x.authorization("GET", &url, &[], user.sign());
    let calls = (0..20).map(|_| {
        let request = x.http.get(&url).header("authorization", &header);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_join_all(calls).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 19, "{statuses:?}");
}

/// Runs the futures concurrently on the test's runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = u16> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_scheme_signed_is_the_forwarded_one() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let user = x.connect(&h.alice).await;
    let http_url = x.url("/1.1/account/verify_credentials.json");
    let https_url = http_url.replacen("http://", "https://", 1);
    let header = x.authorization("GET", &https_url, &[], user.sign());
    let behind_tls = reply(
        x.http
            .get(&http_url)
            .header("authorization", header)
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(behind_tls.status, 200, "{}", behind_tls.text);
    let header = x.authorization("GET", &https_url, &[], user.sign());
    let plain = reply(x.http.get(&http_url).header("authorization", header).send().await.unwrap()).await;
    assert_v1_error(&plain, 401, &could_not_authenticate());
}

// ---- death of 1.0a tokens -----------------------------------------------------

#[tokio::test]
async fn a_user_who_revokes_the_app_leaves_a_dead_token_89() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let alice = x.connect(&h.alice).await;
    let bob = x.connect(&h.bob).await;
    let oauth2 = h.connect(&h.app, &h.alice, ALL_SCOPES).await;
    let revoked =
        control(&h, Method::POST, "/grants/revoke", Some(json!({"client_id": h.app.client_id, "user_id": h.alice.id})))
            .await;
    assert_eq!(revoked.status, 204);
    assert_v1_error(&x.verify_credentials(alice.sign()).await, 401, &invalid_or_expired());
    let v2 = x.users_me(alice.sign()).await;
    assert_eq!((v2.status, v2.body), (401, problem("Unauthorized", 401)));
    assert_eq!(h.users_me(&oauth2.access).await.status, 401, "the OAuth 2.0 grant died too");
    assert_eq!(x.verify_credentials(bob.sign()).await.status, 200, "only alice's");
    let live: Vec<String> =
        h.emulator.oauth1_tokens(&h.app.client_id).into_iter().filter(|t| t.live).map(|t| t.user_id).collect();
    assert_eq!(live, [h.bob.id.as_str()]);
    // Connecting again gives a new, working token.
    let again = x.connect(&h.alice).await;
    assert_ne!(again, alice);
    assert_eq!(x.verify_credentials(again.sign()).await.status, 200);
}

#[tokio::test]
async fn an_unknown_token_is_89() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let made_up = Sign { token: Some(("1-madeup", "secret")), ..Sign::default() };
    assert_v1_error(&x.verify_credentials(made_up).await, 401, &invalid_or_expired());
    // Another app's token, signed with this app's keys, is not this app's.
    let theirs = Client1::new(&h.base, &h.public_app).connect(&h.alice).await;
    assert_v1_error(&x.verify_credentials(theirs.sign()).await, 401, &invalid_or_expired());
}

#[tokio::test]
async fn regenerated_consumer_key_kills_the_old_key_and_every_token_under_it() {
    let h = Harness::start().await;
    let old = Client1::new(&h.base, &h.app);
    let alice = old.connect(&h.alice).await;
    let bob = old.connect(&h.bob).await;
    let other_app = Client1::new(&h.base, &h.public_app);
    let other_token = other_app.connect(&h.alice).await;
    let oauth2 = h.connect(&h.app, &h.alice, ALL_SCOPES).await;

    let path = format!("/apps/{}/consumer-key", h.app.client_id);
    let answer = control(&h, Method::POST, &path, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let (key, secret) = (
        answer.body["consumer_key"].as_str().unwrap().to_owned(),
        answer.body["consumer_secret"].as_str().unwrap().to_owned(),
    );
    assert_ne!(key, h.app.consumer_key);
    assert_eq!(key.len(), 25);
    assert_eq!(secret.len(), 50);

    // The old key no longer authenticates.
    assert_v1_error(&old.verify_credentials(alice.sign()).await, 401, &could_not_authenticate());
    assert_v1_error(&old.request_token(CALLBACK).await, 401, &could_not_authenticate());
    // The old tokens with the new key: dead.
    let new = Client1::with_keys(&h.base, &key, &secret);
    for user in [&alice, &bob] {
        assert_v1_error(&new.verify_credentials(user.sign()).await, 401, &invalid_or_expired());
        let v2 = new.users_me(user.sign()).await;
        assert_eq!((v2.status, v2.body), (401, problem("Unauthorized", 401)));
    }
    assert!(h.emulator.oauth1_tokens(&h.app.client_id).iter().all(|t| !t.live));
    // Other apps and OAuth 2.0 are unaffected.
    assert_eq!(other_app.verify_credentials(other_token.sign()).await.status, 200);
    assert_eq!(h.users_me(&oauth2.access).await.status, 200);
    // A fresh connect with the new key works, and gives a new token.
    let fresh = new.connect(&h.alice).await;
    assert_ne!(fresh, alice);
    assert_eq!(new.verify_credentials(fresh.sign()).await.status, 200);
    assert_eq!(h.emulator.apps().iter().find(|a| a.client_id == h.app.client_id).unwrap().consumer_key, key);
}

#[tokio::test]
async fn consumer_key_can_be_set_and_setting_the_old_one_back_revives_nothing() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let alice = x.connect(&h.alice).await;
    let path = format!("/apps/{}/consumer-key", h.app.client_id);
    let set =
        control(&h, Method::POST, &path, Some(json!({"consumer_key": "new-key", "consumer_secret": "new-secret"})))
            .await;
    assert_eq!((set.status, set.body), (200, json!({"consumer_key": "new-key", "consumer_secret": "new-secret"})));
    let back = control(
        &h,
        Method::POST,
        &path,
        Some(json!({"consumer_key": h.app.consumer_key, "consumer_secret": h.app.consumer_secret})),
    )
    .await;
    assert_eq!(back.status, 200);
    assert_v1_error(&x.verify_credentials(alice.sign()).await, 401, &invalid_or_expired());
    // Refused: another app's key, an unknown app, a bad body.
    let taken = control(&h, Method::POST, &path, Some(json!({"consumer_key": h.public_app.consumer_key}))).await;
    assert_eq!(taken.status, 400, "{}", taken.text);
    let unknown = control(&h, Method::POST, "/apps/nope/consumer-key", None).await;
    assert_eq!(unknown.status, 404);
    let bad = control(&h, Method::POST, &path, Some(json!({"consumer_key": 1}))).await;
    assert_eq!(bad.status, 400);
    let (key, secret) = h.emulator.regenerate_consumer_key(&h.app.client_id).expect("known app");
    assert_ne!(key, h.app.consumer_key);
    assert_eq!(Client1::with_keys(&h.base, &key, &secret).request_token(CALLBACK).await.status, 200);
}

// ---- v2 with 1.0a -------------------------------------------------------------

#[tokio::test]
async fn v2_users_me_and_tweets_accept_oauth1() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let bob = x.connect(&h.bob).await;
    let me = x.users_me(bob.sign()).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.text, r#"{"data":{"id":"42","name":"Bob B","username":"bob"}}"#);
    assert_eq!(me.header("x-rate-limit-limit"), Some("75"));
    assert_eq!(me.header("x-rate-limit-remaining"), Some("74"));
    let post = x.tweet(bob.sign(), r#"{"text":"Hello Ladies + Gentlemen, a signed OAuth request!"}"#).await;
    assert_eq!(post.status, 201, "{}", post.text);
    let id = post.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        post.body,
        json!({"data": {"id": id, "text": "Hello Ladies + Gentlemen, a signed OAuth request!", "edit_history_tweet_ids": [id]}})
    );
    let tweets = h.emulator.tweets();
    assert_eq!((tweets[0].author_id.as_str(), tweets[0].client_id.as_str()), ("42", h.app.client_id.as_str()));
    // The rate window is the user's of the app, whichever way they sign.
    let oauth2 = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    assert_eq!(h.users_me(&oauth2.access).await.header("x-rate-limit-remaining"), Some("73"));
}

#[tokio::test]
async fn v2_answers_a_bad_oauth1_request_with_the_generic_401() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let alice = x.connect(&h.alice).await;
    let unauthorized = problem("Unauthorized", 401);
    let cases = [
        (Sign { token: Some((&alice.token, "wrong")), ..Sign::default() }, "bad signature"),
        (Sign { timestamp: Some(unix_now() + 3600), ..alice.sign() }, "timestamp"),
        (Sign { token: Some(("1-unknown", "x")), ..Sign::default() }, "unknown token"),
        (Sign::default(), "no user token"),
    ];
    for (sign, case) in cases {
        let me = x.users_me(sign).await;
        assert_eq!((me.status, &me.body), (401, &unauthorized), "{case}");
        assert_eq!(me.header("content-type"), Some("application/problem+json"), "{case}");
        let post = x.tweet(sign, r#"{"text":"refused"}"#).await;
        assert_eq!((post.status, &post.body), (401, &unauthorized), "{case}");
    }
    let garbled =
        reply(h.http.get(h.url("/2/users/me")).header("authorization", "OAuth nonsense").send().await.unwrap()).await;
    assert_eq!((garbled.status, garbled.body), (401, unauthorized));
    h.emulator.revoke_grant(&h.app.client_id, &h.alice.id);
    assert_eq!(x.users_me(alice.sign()).await.status, 401, "a dead token");
    assert!(h.emulator.tweets().is_empty());
}

#[tokio::test]
async fn xs_failures_hit_oauth1_calls_too() {
    let h = Harness::with_settings(EmulatorSettings { users_me_limit: 2, ..Default::default() }).await;
    let x = Client1::new(&h.base, &h.app);
    let alice = x.connect(&h.alice).await;

    h.emulator.inject_fault(Fault::new(Endpoint::V2, FaultKind::AuthOutage).times(1));
    let outage = x.users_me(alice.sign()).await;
    assert_eq!((outage.status, outage.body), (401, problem("Unauthorized", 401)));

    h.emulator.inject_fault(Fault::new(Endpoint::V2, FaultKind::CreditsDepleted).client(&h.app.client_id).times(1));
    let depleted = x.tweet(alice.sign(), r#"{"text":"x"}"#).await;
    assert_eq!(depleted.status, 402);
    assert_eq!(depleted.body["title"], "Payment Required");

    assert_eq!(x.tweet(alice.sign(), r#"{"text":"once"}"#).await.status, 201);
    let duplicate = x.tweet(alice.sign(), r#"{"text":"once"}"#).await;
    assert_eq!(duplicate.status, 403);
    assert_eq!(duplicate.body["detail"], "You are not allowed to create a Tweet with duplicate content.");

    assert_eq!(x.users_me(alice.sign()).await.status, 200);
    assert_eq!(x.users_me(alice.sign()).await.status, 200);
    let limited = x.users_me(alice.sign()).await;
    assert_eq!((limited.status, limited.header("x-rate-limit-remaining")), (429, Some("0")));

    h.emulator.inject_fault(Fault::new(Endpoint::RequestToken, FaultKind::Status(503)).times(1));
    assert_v1_error(&x.request_token(CALLBACK).await, 503, &v1_error(130, "Over capacity"));
    assert_eq!(x.request_token(CALLBACK).await.status, 200);
    h.emulator.inject_fault(Fault::new(Endpoint::VerifyCredentials, FaultKind::RateLimited).times(1));
    assert_v1_error(&x.verify_credentials(alice.sign()).await, 429, &v1_error(88, "Rate limit exceeded"));
    h.emulator.inject_fault(Fault::new(Endpoint::AccessToken, FaultKind::DropConnection).times(1));
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    let url = x.url("/oauth/access_token");
    let sign = Sign { token: Some((&token, &secret)), verifier: Some(&query["oauth_verifier"]), ..Sign::default() };
    let header = x.authorization("POST", &url, &[], sign);
    let dropped = match x.http.post(&url).header("authorization", header).send().await {
        Err(e) => Err(e),
        Ok(response) => response.bytes().await.map(|_| ()),
    };
    assert!(dropped.is_err(), "the answer was lost");
    assert_eq!(x.access_token(&token, &secret, &query["oauth_verifier"]).await.status, 200, "nothing was spent");
}

// ---- nested, counts, secrets ---------------------------------------------------

#[tokio::test]
async fn works_nested_under_a_prefix_signed_with_the_prefix() {
    let h = Harness::start().await;
    let base = serve_router(axum::Router::new().nest("/x-emulator", h.emulator.router())).await;
    let x = Client1::new(&format!("{base}/x-emulator"), &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let page = x.page("/oauth/authorize", &token).await;
    assert!(page.text.contains(r#"action="authorize""#));
    let redirect = x.submit("/oauth/authorize", &page.text, &h.alice.id, "authorize").await;
    assert_eq!(redirect.status, 303, "{}", redirect.text);
    let location = url::Url::parse(redirect.header("location").unwrap()).unwrap();
    let verifier = location.query_pairs().find(|(k, _)| k == "oauth_verifier").unwrap().1.into_owned();
    let answer = x.access_token(&token, &secret, &verifier).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let form = form_of(&answer.text);
    let user = UserToken { token: form["oauth_token"].clone(), secret: form["oauth_token_secret"].clone() };
    assert_eq!(x.verify_credentials(user.sign()).await.status, 200);
    assert_eq!(x.users_me(user.sign()).await.status, 200);
    // Signed for the path without the prefix: not what the client called.
    let header = x.authorization("GET", &format!("{base}/2/users/me"), &[], user.sign());
    let unprefixed = reply(
        x.http.get(format!("{base}/x-emulator/2/users/me")).header("authorization", header).send().await.unwrap(),
    )
    .await;
    assert_eq!(unprefixed.status, 401);
}

#[tokio::test]
async fn counts_tell_oauth1_calls_apart() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let alice = x.connect(&h.alice).await;
    x.verify_credentials(alice.sign()).await;
    x.users_me(alice.sign()).await;
    x.tweet(alice.sign(), r#"{"text":"counted"}"#).await;
    Client1::with_keys(&h.base, "unknown", "x").request_token(CALLBACK).await;
    let oauth2 = h.connect(&h.app, &h.bob, ALL_SCOPES).await;
    h.users_me(&oauth2.access).await;

    let counts = control(&h, Method::GET, "/counts", None).await.body;
    let app = &counts["by_client"][&h.app.client_id];
    for (field, expected) in [
        ("request_token", 1),
        ("oauth1_authorize", 1),
        ("oauth1_consent", 1),
        ("access_token", 1),
        ("verify_credentials", 1),
        ("users_me", 2),
        ("users_me_oauth1", 1),
        ("tweets", 1),
        ("tweets_oauth1", 1),
        ("authorize", 1),
        ("token", 1),
    ] {
        assert_eq!(app[field], expected, "{field}: {app}");
    }
    assert_eq!(counts["total"]["request_token"], 2, "the unknown consumer key counts in the total only");
    let typed = h.emulator.counts().client(&h.app.client_id);
    assert_eq!((typed.verify_credentials, typed.users_me_oauth1), (1, 1));
}

#[tokio::test]
async fn issued_secrets_include_oauth1_tokens_secrets_and_verifiers() {
    let h = Harness::start().await;
    let x = Client1::new(&h.base, &h.app);
    let (token, secret) = x.request_token_ok(CALLBACK).await;
    let query = x.authorize(&token, &h.alice).await;
    let answer = x.access_token(&token, &secret, &query["oauth_verifier"]).await;
    let form = form_of(&answer.text);
    let issued = h.emulator.issued_secrets();
    for value in [&secret, &query["oauth_verifier"], &form["oauth_token"], &form["oauth_token_secret"]] {
        assert!(issued.contains(value), "{value} is not listed");
    }
    let listed = serde_json::to_string(&h.emulator.oauth1_tokens(&h.app.client_id)).unwrap();
    assert!(!listed.contains(&form["oauth_token_secret"]), "oauth1_tokens never shows a secret");
}

#[tokio::test]
async fn apps_get_consumer_credentials_and_the_sample_app_fixed_ones() {
    let h = Harness::start().await;
    assert_eq!((h.app.consumer_key.len(), h.app.consumer_secret.len()), (25, 50));
    assert_ne!(h.app.consumer_key, h.public_app.consumer_key);
    let listed = control(&h, Method::GET, "/apps", None).await;
    assert!(listed.body.as_array().unwrap().iter().any(|a| a["consumer_key"] == h.app.consumer_key.as_str()));
    let created = control(
        &h,
        Method::POST,
        "/apps",
        Some(json!({"name": "Given", "callbacks": [CALLBACK], "consumer_key": "ck", "consumer_secret": "cs"})),
    )
    .await;
    assert_eq!(
        (created.status, &created.body["consumer_key"], &created.body["consumer_secret"]),
        (201, &json!("ck"), &json!("cs"))
    );
    let duplicate =
        control(&h, Method::POST, "/apps", Some(json!({"name": "Dup", "callbacks": [CALLBACK], "consumer_key": "ck"})))
            .await;
    assert_eq!(duplicate.status, 400, "{}", duplicate.text);

    let sample = Emulator::with_sample_data();
    let app = sample.apps().into_iter().next().unwrap();
    assert_eq!(app.consumer_key, authwatch_emulator::SAMPLE_CONSUMER_KEY);
    assert_eq!(app.consumer_secret, authwatch_emulator::SAMPLE_CONSUMER_SECRET);
    let base = serve_router(sample.router()).await;
    let answer = Client1::new(&base, &app).request_token(authwatch_emulator::SAMPLE_CALLBACK).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}
