//! What the pipeline API receives and answers. These types are the API: the
//! OpenAPI document is generated from them.

use crate::domain::health::{Action, Health, Who};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An account's health, as the API spells it (the dashboard's slugs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HealthSlug {
    Healthy,
    RefreshDue,
    ExpiredRefreshable,
    Reconnect,
    FixApp,
    FixClock,
    XUnavailable,
    NeverChecked,
}

impl From<Health> for HealthSlug {
    fn from(health: Health) -> Self {
        match health {
            Health::Healthy => HealthSlug::Healthy,
            Health::RefreshDue => HealthSlug::RefreshDue,
            Health::ExpiredRefreshable => HealthSlug::ExpiredRefreshable,
            Health::ActionNeeded(Action::Reconnect) => HealthSlug::Reconnect,
            Health::ActionNeeded(Action::FixApp) => HealthSlug::FixApp,
            Health::ActionNeeded(Action::FixClock) => HealthSlug::FixClock,
            Health::XUnavailable => HealthSlug::XUnavailable,
            Health::NeverChecked => HealthSlug::NeverChecked,
        }
    }
}

/// How an account is connected, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlowSlug {
    /// OAuth 2.0: `GET …/token` hands out its access token.
    Oauth2,
    /// OAuth 1.0a: its credentials never leave authwatch; publish through `POST …/posts`.
    Oauth1,
}

impl From<crate::domain::flow::Flow> for FlowSlug {
    fn from(f: crate::domain::flow::Flow) -> Self {
        match f {
            crate::domain::flow::Flow::OAuth2 => FlowSlug::Oauth2,
            crate::domain::flow::Flow::OAuth1 => FlowSlug::Oauth1,
        }
    }
}

/// Who must act, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhoSlug {
    /// authwatch itself (a refresh).
    System,
    /// The person who can sign in to the X account: a reconnect.
    Owner,
    /// An admin: the X app's configuration or billing.
    Admin,
    /// Operations: the server.
    Operations,
    /// Nobody: wait.
    Nobody,
}

impl From<Who> for WhoSlug {
    fn from(who: Who) -> Self {
        match who {
            Who::System => WhoSlug::System,
            Who::Owner => WhoSlug::Owner,
            Who::Admin => WhoSlug::Admin,
            Who::Operations => WhoSlug::Operations,
            Who::Nobody => WhoSlug::Nobody,
        }
    }
}

/// What a person must do, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionSlug {
    Reconnect,
    FixApp,
    FixClock,
    /// The X app's pay-per-use credits ran out (posts only).
    TopUpCredits,
}

impl From<Action> for ActionSlug {
    fn from(action: Action) -> Self {
        match action {
            Action::Reconnect => ActionSlug::Reconnect,
            Action::FixApp => ActionSlug::FixApp,
            Action::FixClock => ActionSlug::FixClock,
        }
    }
}

/// What the pipeline must do after a 401/403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Retry the request once with the fresh token.
    RetryOnce,
    /// Do not retry: a person must act first, or the request itself was refused.
    Stop,
}

/// What became of a post that was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostState {
    Published,
    /// Kept until a person has acted, then published in order.
    Held,
}

/// An account and its auth health, so the pipeline can skip broken ones.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    /// The X handle, without `@`.
    pub handle: String,
    pub name: String,
    pub health: HealthSlug,
    /// Whether publishing can go ahead (no person needs to act first).
    pub publishable: bool,
    /// The classified cause of trouble, when there is some.
    pub cause: Option<String>,
    /// Who must act.
    pub who: WhoSlug,
    /// What a person must do: `reconnect`, `fix_app` or `fix_clock`.
    pub action: Option<ActionSlug>,
    /// The health in words.
    pub summary: String,
    /// The current token generation.
    pub generation: i64,
    /// When the current access token expires (RFC 3339); `null` for an
    /// OAuth 1.0a token, which never expires.
    pub token_expires_at: Option<String>,
    /// How the account is connected: an `oauth1` account's token is never
    /// handed out, and posts go through `POST /api/v1/accounts/{id}/posts`.
    pub auth: FlowSlug,
    pub scopes: Vec<String>,
    /// Required scopes the grant lacks.
    pub missing_scopes: Vec<String>,
}

/// A valid access token for one account. Not `Debug`: it holds the token
/// itself, which must never reach a log line.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub account_id: String,
    /// Send to X as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// When the token expires (RFC 3339).
    pub expires_at: String,
    /// Seconds until it expires (at least the broker's minimum lifetime, 60 s by default).
    pub expires_in: i64,
    /// The token generation: send it back with a 401/403 report.
    pub generation: i64,
    pub scopes: Vec<String>,
}

/// A 401 or 403 that X answered the pipeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthFailureReport {
    /// X's HTTP status: 401 or 403.
    #[schema(schema_with = reported_status)]
    #[serde(deserialize_with = "integral")]
    pub status: i64,
    /// X's answer body, exactly as received: X's JSON, or the text as a string.
    #[schema(value_type = Value)]
    pub body: serde_json::Value,
    /// The generation of the token that was refused (from the token answer);
    /// the current generation when omitted.
    #[serde(default, deserialize_with = "optional_integral")]
    #[schema(minimum = 1)]
    pub generation: Option<i64>,
}

/// JSON Schema's integers include `401.0`: accept any integral number (huge
/// ones saturate, and are then refused as out of range with a clear answer).
fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    to_integer::<D::Error>(serde_json::Number::deserialize(d)?)
}

fn optional_integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?.map(to_integer::<D::Error>).transpose()
}

fn to_integer<E: serde::de::Error>(n: serde_json::Number) -> Result<i64, E> {
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| E::custom(format!("expected an integer, not {n}")))
}

/// Only authentication failures are reported: the schema says so, so that
/// clients generated from it cannot send anything else.
fn reported_status() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .enum_values(Some([401, 403]))
        .description(Some("X's HTTP status: 401 or 403."))
        .build()
}

/// What the pipeline must do after a 401/403. Not `Debug`: it may hold a token.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuthFailureVerdict {
    /// `retry_once`: retry the request once with `token`. `stop`: do not
    /// retry; `cause`, `who` and `action` say what must happen first.
    pub verdict: Verdict,
    /// The cause: X's verdict when authwatch asked X, else what the
    /// reported body says (which is no verdict on the account).
    pub cause: String,
    /// Who must act: `owner`, `admin` or `operations` when X itself says so;
    /// `system` for a retry with a fresh token; `nobody` when X accepts the
    /// account's token (the account is fine: X refused that request) or
    /// could not be asked. A report alone never makes the account wait for
    /// a person.
    pub who: WhoSlug,
    /// What that person must do: `reconnect`, `fix_app` or `fix_clock`.
    pub action: Option<ActionSlug>,
    /// In words.
    pub detail: String,
    /// The fresh token to retry with (only with `retry_once`).
    pub token: Option<TokenView>,
}

/// A post to publish.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewPostRequest {
    /// The post's text: 1 to 280 characters.
    #[schema(min_length = 1, max_length = 280)]
    pub text: String,
}

/// What became of a post.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PostView {
    /// authwatch's id of the post.
    pub id: i64,
    pub account_id: String,
    pub status: PostState,
    pub text: String,
    /// X's id of the post, once published.
    pub x_post_id: Option<String>,
    /// Why it is held.
    pub cause: Option<String>,
    pub who: Option<WhoSlug>,
    /// What that person must do: `reconnect`, `fix_app`, `fix_clock`, or
    /// `top_up_credits` when the X app's pay-per-use credits ran out.
    pub action: Option<ActionSlug>,
    /// In words.
    pub detail: String,
    /// Calls to X's `POST /2/tweets` made for this post so far.
    pub x_calls: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API spells health as the dashboard's URLs and metrics do.
    #[test]
    fn the_api_spells_health_as_its_slug() {
        for h in Health::ALL {
            assert_eq!(serde_json::to_value(HealthSlug::from(h)).unwrap(), h.slug(), "{h:?}");
        }
    }

    #[test]
    fn the_openapi_document_lists_the_allowed_values() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(super::super::ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let values = |name: &str| -> Vec<String> {
            let listed =
                schemas[name]["enum"].as_array().unwrap_or_else(|| panic!("{name} lists no values: {}", schemas[name]));
            let mut values: Vec<String> = listed.iter().map(|v| v.as_str().unwrap().to_owned()).collect();
            values.sort();
            values
        };
        let mut slugs: Vec<String> = Health::ALL.iter().map(|h| h.slug().to_owned()).collect();
        slugs.sort();
        assert_eq!(values("HealthSlug"), slugs);
        assert_eq!(values("WhoSlug"), ["admin", "nobody", "operations", "owner", "system"]);
        assert_eq!(values("ActionSlug"), ["fix_app", "fix_clock", "reconnect", "top_up_credits"]);
        assert_eq!(values("Verdict"), ["retry_once", "stop"]);
        assert_eq!(values("PostState"), ["held", "published"]);
        // The DTOs refer to them.
        for (dto, field, schema) in [
            ("AccountView", "health", "HealthSlug"),
            ("AccountView", "who", "WhoSlug"),
            ("AuthFailureVerdict", "verdict", "Verdict"),
            ("AuthFailureVerdict", "who", "WhoSlug"),
            ("PostView", "status", "PostState"),
        ] {
            let property = schemas[dto]["properties"][field].to_string();
            assert!(property.contains(&format!("#/components/schemas/{schema}")), "{dto}.{field}: {property}");
        }
    }

    fn spelled<T: Serialize>(value: T) -> String {
        serde_json::to_value(value).unwrap().as_str().unwrap().to_owned()
    }

    #[test]
    fn the_spellings_on_the_wire_stay_as_they_were() {
        let who = [
            (Who::System, "system"),
            (Who::Owner, "owner"),
            (Who::Admin, "admin"),
            (Who::Operations, "operations"),
            (Who::Nobody, "nobody"),
        ];
        for (w, words) in who {
            assert_eq!(spelled(WhoSlug::from(w)), words);
        }
        let actions = [(Action::Reconnect, "reconnect"), (Action::FixApp, "fix_app"), (Action::FixClock, "fix_clock")];
        for (a, words) in actions {
            assert_eq!(spelled(ActionSlug::from(a)), words);
        }
        assert_eq!(spelled(ActionSlug::TopUpCredits), "top_up_credits");
        assert_eq!((spelled(Verdict::RetryOnce), spelled(Verdict::Stop)), ("retry_once".into(), "stop".into()));
        assert_eq!((spelled(PostState::Published), spelled(PostState::Held)), ("published".into(), "held".into()));
    }
}
