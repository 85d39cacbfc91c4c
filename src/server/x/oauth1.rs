//! authwatch's client for X's OAuth 1.0a user context: the 3-legged flow
//! (request token, authorize, access token) and the signed calls a 1.0a
//! account makes (`GET /2/users/me`, `POST /2/tweets`, and
//! `GET /1.1/account/verify_credentials.json`, whose refusals carry X's
//! codes). Every request is signed with HMAC-SHA1 (RFC 5849) by the
//! `oauth1-request` crate; the consumer secret and the token secret sign
//! and are never sent. What is kept of X's answers is [`super::answer`]'s
//! to decide, as for OAuth 2.0.

use super::{answer, date_of, offset, rate_limit_reset, unreachable_error, Me, Posted, Seen, XClient, XError, XUser};
use crate::domain::classify::{classify_oauth1, oauth1_code};
use crate::domain::health::Cause;
use crate::domain::scopes::Scopes;
use crate::server::config::Oauth1Config;
use crate::server::secret::Secret;
use serde::Deserialize;
use url::Url;

/// An OAuth 1.0a user's credentials: the token and its secret.
#[derive(Clone, Copy)]
pub struct UserToken<'a> {
    pub token: &'a Secret,
    pub secret: &'a Secret,
}

/// A request token, the first leg: its secret signs the access token
/// request and never leaves the server.
#[derive(Debug)]
pub struct RequestToken {
    pub token: String,
    pub secret: Secret,
}

/// What the access token exchange granted.
#[derive(Debug)]
pub struct Oauth1Granted {
    pub token: Secret,
    pub secret: Secret,
    /// X's user id and handle, as the exchange names them: checked against
    /// a signed `users/me` before anything is saved.
    pub user_id: String,
    pub screen_name: String,
    /// What the app's access level lets the token do, in OAuth 2.0 scopes.
    pub scopes: Scopes,
    pub received_at: i64,
    pub clock_offset_ms: Option<i64>,
}

/// Why a 1.0a flow could not start or finish, beyond X's own answers.
pub const NOT_CONFIGURED: &str =
    "OAuth 1.0a is not configured: set AUTHWATCH_X_CONSUMER_KEY and AUTHWATCH_X_CONSUMER_SECRET";

impl XClient {
    /// The app's OAuth 1.0a side, when configured.
    pub fn oauth1(&self) -> Option<&Oauth1Config> {
        self.app.oauth1.as_ref()
    }

    fn oauth1_config(&self) -> Result<&Oauth1Config, XError> {
        self.oauth1().ok_or_else(|| XError::Malformed(NOT_CONFIGURED.into()))
    }

    /// `POST /oauth/request_token` with our callback, signed with the
    /// consumer key alone.
    pub async fn request_token(&self) -> Result<RequestToken, XError> {
        let c = self.oauth1_config()?;
        let mut builder = oauth1_request::Builder::<_, _, &str>::new(client(c), oauth1_request::HmacSha1::new());
        let callback = c.callback_url.as_str();
        builder.callback(callback);
        let authorization = builder.post(c.request_token_url.as_str(), &());
        let seen =
            send(self.http.post(c.request_token_url.clone()).header("authorization", authorization), "request_token")
                .await?;
        let form: Vec<(String, String)> = form_urlencoded::parse(seen.body.as_bytes()).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if field("oauth_callback_confirmed").as_deref() != Some("true") {
            return Err(XError::Malformed("request_token: X did not confirm the callback".into()));
        }
        match (field("oauth_token"), field("oauth_token_secret")) {
            (Some(token), Some(secret)) if !token.is_empty() && !secret.is_empty() => {
                Ok(RequestToken { token, secret: Secret::new(secret) })
            }
            _ => Err(XError::Malformed("request_token: X's answer had no request token".into())),
        }
    }

    /// Where to send the person to approve `request_token`.
    pub fn oauth1_authorize_url(&self, request_token: &str) -> Result<Url, XError> {
        let mut url = self.oauth1_config()?.authorize_url.clone();
        url.query_pairs_mut().append_pair("oauth_token", request_token);
        Ok(url)
    }

    /// `POST /oauth/access_token`: trades the approved request token and
    /// the callback's verifier for the user's token and secret.
    pub async fn access_token(
        &self,
        request_token: &str,
        request_secret: &Secret,
        verifier: &str,
    ) -> Result<Oauth1Granted, XError> {
        let c = self.oauth1_config()?;
        let mut builder = oauth1_request::Builder::new(client(c), oauth1_request::HmacSha1::new());
        builder.token(oauth1_request::Credentials::new(request_token, request_secret.expose())).verifier(verifier);
        let authorization = builder.post(c.access_token_url.as_str(), &());
        let seen =
            send(self.http.post(c.access_token_url.clone()).header("authorization", authorization), "access_token")
                .await?;
        let form: Vec<(String, String)> = form_urlencoded::parse(seen.body.as_bytes()).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let (Some(token), Some(secret), Some(user_id), Some(screen_name)) =
            (field("oauth_token"), field("oauth_token_secret"), field("user_id"), field("screen_name"))
        else {
            // The answer may hold a token: nothing of it is kept.
            return Err(XError::Malformed("access_token: X's answer lacked the token, its secret or the user".into()));
        };
        Ok(Oauth1Granted {
            token: Secret::new(token),
            secret: Secret::new(secret),
            user_id,
            screen_name,
            scopes: Scopes::of_oauth1_access_level(seen.access_level.as_deref().unwrap_or("read-write")),
            received_at: super::now_ms(),
            clock_offset_ms: offset(seen.seen.date),
        })
    }

    /// `GET /2/users/me`, signed: whose token this is. X's v2 API refuses a
    /// bad 1.0a call with its generic 401, which does not say why.
    pub async fn users_me_oauth1(&self, user: UserToken<'_>) -> Result<Me, XError> {
        let url = crate::server::config::join(&self.app.endpoints.api_base, "2/users/me");
        let authorization = self.sign_get(&url, user)?;
        let seen = send(self.http.get(url).header("authorization", authorization), "users/me").await?;
        #[derive(Deserialize)]
        struct Data {
            data: XUser,
        }
        let data: Data = serde_json::from_str(&seen.body)
            .map_err(|e| XError::Malformed(format!("users/me: {}", answer::redact(&e.to_string()))))?;
        Ok(Me { user: data.data, clock_offset_ms: offset(seen.seen.date) })
    }

    /// `GET /1.1/account/verify_credentials.json`, signed: the second call
    /// that says why a 1.0a token was refused (X's codes 89, 32 or 135).
    pub async fn verify_credentials(&self, user: UserToken<'_>) -> Result<Me, XError> {
        let url = self.oauth1_config()?.verify_credentials_url.clone();
        let authorization = self.sign_get(&url, user)?;
        let seen = send(self.http.get(url).header("authorization", authorization), "verify_credentials").await?;
        #[derive(Deserialize)]
        struct V11User {
            id_str: String,
            screen_name: String,
            name: String,
        }
        let u: V11User = serde_json::from_str(&seen.body)
            .map_err(|e| XError::Malformed(format!("verify_credentials: {}", answer::redact(&e.to_string()))))?;
        Ok(Me {
            user: XUser { id: u.id_str, username: u.screen_name, name: u.name },
            clock_offset_ms: offset(seen.seen.date),
        })
    }

    /// `POST /2/tweets`, signed. The JSON body is not part of an OAuth 1.0a
    /// signature (RFC 5849 signs form bodies only).
    pub async fn post_tweet_oauth1(&self, user: UserToken<'_>, text: &str) -> Result<Posted, XError> {
        let url = crate::server::config::join(&self.app.endpoints.api_base, "2/tweets");
        let c = self.oauth1_config()?;
        let builder = user_builder(c, user);
        let authorization = builder.post(url.as_str(), &());
        let request =
            self.http.post(url).header("authorization", authorization).json(&serde_json::json!({ "text": text }));
        let seen = send(request, "tweets").await?;
        Ok(super::posted(&seen))
    }

    fn sign_get(&self, url: &Url, user: UserToken<'_>) -> Result<String, XError> {
        // The URL's own query (none, for these calls) is signed from the URL.
        Ok(user_builder(self.oauth1_config()?, user).get(url.as_str(), &()))
    }
}

fn client(c: &Oauth1Config) -> oauth1_request::Credentials<&str> {
    oauth1_request::Credentials::new(c.consumer_key.as_str(), c.consumer_secret.expose())
}

fn user_builder<'a>(
    c: &'a Oauth1Config,
    user: UserToken<'a>,
) -> oauth1_request::Builder<'a, oauth1_request::HmacSha1, &'a str> {
    let mut builder = oauth1_request::Builder::new(client(c), oauth1_request::HmacSha1::new());
    builder.token(oauth1_request::Credentials::new(user.token.expose(), user.secret.expose()));
    builder
}

/// An answer to a 1.0a call, with X's `x-access-level` header.
struct Seen1 {
    seen: Seen,
    access_level: Option<String>,
}

impl std::ops::Deref for Seen1 {
    type Target = Seen;
    fn deref(&self) -> &Seen {
        &self.seen
    }
}

/// Sends one signed request and keeps what X answered; a non-2xx answer is
/// returned as the classified refusal.
async fn send(request: reqwest::RequestBuilder, call: &'static str) -> Result<Seen1, XError> {
    let response = request.send().await.map_err(|e| unreachable_error(&e))?;
    let status = response.status().as_u16();
    let date = date_of(response.headers());
    let reset = rate_limit_reset(response.headers());
    let access_level = response.headers().get("x-access-level").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await.map_err(|e| unreachable_error(&e))?;
    let seen = Seen { status: Some(status), date, body, rate_limit_reset: reset, content_type };
    if !(200..300).contains(&status) {
        return Err(rejected(call, &seen));
    }
    Ok(Seen1 { seen, access_level })
}

/// X's refusal of a 1.0a call, classified by its v1.1 code when it has one
/// (JSON `{"errors":[{"code":…}]}`, or the XML X sends `request_token`).
fn rejected(call: &'static str, seen: &Seen) -> XError {
    let status = seen.status.unwrap_or(0);
    let code = error_code(&seen.body);
    #[derive(Deserialize, Default)]
    struct Problem {
        #[serde(rename = "type")]
        problem_type: Option<String>,
    }
    let problem = serde_json::from_str::<Problem>(&seen.body).unwrap_or_default().problem_type;
    let cause = match code {
        // An unregistered callback is the app's configuration at X.
        Some(oauth1_code::CALLBACK_NOT_APPROVED) => Cause::ConsumerKeyRejected,
        _ => classify_oauth1(seen.status, code, problem.as_deref()).unwrap_or(Cause::XUnavailable),
    };
    XError::Rejected {
        call,
        status,
        code: code.map(|c| c.to_string()).or(problem),
        body: answer::kept(status, &seen.body),
        cause,
        retry_at: seen.rate_limit_reset.map(|s| s * 1000 - offset(seen.date).unwrap_or(0)),
        clock_offset_ms: offset(seen.date),
    }
}

/// X's v1.1 error code: `{"errors":[{"code":89,…}]}`, or
/// `<errors><error code="415">…</error></errors>`.
pub fn error_code(body: &str) -> Option<u32> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        code: Option<u32>,
    }
    if let Ok(e) = serde_json::from_str::<Errors>(body) {
        return e.errors.into_iter().find_map(|e| e.code);
    }
    let at = body.find("<error code=\"")? + "<error code=\"".len();
    body[at..].split('"').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_codes_are_read_from_json_and_from_its_xml() {
        assert_eq!(error_code(r#"{"errors":[{"code":89,"message":"Invalid or expired token."}]}"#), Some(89));
        assert_eq!(error_code(r#"{"errors":[{"message":"no code"},{"code":32,"message":"x"}]}"#), Some(32));
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><errors><error code="415">Callback URL not approved for this client application. Approved callback URLs can be adjusted in your application settings</error></errors>"#;
        assert_eq!(error_code(xml), Some(415));
        assert_eq!(
            error_code(r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#),
            None
        );
        assert_eq!(error_code("<error code=\"oops\">"), None);
        assert_eq!(error_code(""), None);
    }
}
