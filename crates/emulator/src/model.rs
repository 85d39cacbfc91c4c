//! The public data types of the emulator: users, apps, and their errors.

use serde::{Deserialize, Serialize};

/// A user to create. Missing fields are generated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewUser {
    /// Numeric string, as X user ids are; generated when `None`. An existing
    /// id replaces that user's handle and name.
    pub id: Option<String>,
    /// The handle, without `@`.
    pub username: String,
    /// The display name.
    pub name: String,
}

/// An X account known to the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatedUser {
    /// Numeric string id.
    pub id: String,
    /// The handle, without `@`.
    pub username: String,
    /// The display name.
    pub name: String,
}

/// X's two kinds of OAuth 2.0 clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// "Web App" / "Automated App": authenticates with HTTP Basic.
    #[default]
    Confidential,
    /// "Native App" / "Single page App": sends `client_id` in the body.
    Public,
}

/// An app to register. Missing credentials are generated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NewApp {
    /// Shown on the consent page.
    pub name: String,
    /// Generated when `None`.
    pub client_id: Option<String>,
    /// Generated when `None` (public clients get one too, unused by X).
    pub client_secret: Option<String>,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Registered callback URLs: absolute, without query string, at most 10.
    pub callbacks: Vec<String>,
    /// Whether the app is attached to a Project. When not, every v2 call
    /// answers X's 403 `client-not-enrolled` problem.
    pub in_project: bool,
    /// The OAuth 1.0a consumer key (X's "API key"); generated when `None`.
    /// Unique across apps.
    pub consumer_key: Option<String>,
    /// The OAuth 1.0a consumer secret (X's "API key secret"); generated
    /// when `None`.
    pub consumer_secret: Option<String>,
}

impl Default for NewApp {
    fn default() -> Self {
        Self {
            name: "Emulated App".to_owned(),
            client_id: None,
            client_secret: None,
            client_type: ClientType::Confidential,
            callbacks: Vec::new(),
            in_project: true,
            consumer_key: None,
            consumer_secret: None,
        }
    }
}

/// A registered app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatedApp {
    /// Shown on the consent page.
    pub name: String,
    /// The OAuth 2.0 client id.
    pub client_id: String,
    /// The OAuth 2.0 client secret (only checked for confidential clients).
    pub client_secret: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Registered callback URLs, for OAuth 2.0 and 1.0a alike.
    pub callbacks: Vec<String>,
    /// Whether the app is attached to a Project.
    pub in_project: bool,
    /// The OAuth 1.0a consumer key (X's "API key").
    pub consumer_key: String,
    /// The OAuth 1.0a consumer secret (X's "API key secret").
    pub consumer_secret: String,
}

/// An OAuth 1.0a access token of an app, for tests to inspect; its secret
/// is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Oauth1Token {
    /// The `oauth_token` (`<user id>-…`, like X's).
    pub token: String,
    /// Whose it is.
    pub user_id: String,
    /// Whether X still accepts it: not revoked, and issued under the app's
    /// current consumer key.
    pub live: bool,
}

/// A post made through `POST /2/tweets`, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedTweet {
    /// The post's id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// The author's user id.
    pub author_id: String,
    /// The app that posted it.
    pub client_id: String,
}

/// Why the emulator refused a control operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    /// X allows at most 10 callback URLs per app.
    #[error("an app can register at most 10 callback URLs, got {0}")]
    TooManyCallbacks(usize),
    /// Callbacks must be absolute URLs without a query string.
    #[error("invalid callback URL {url:?}: {reason}")]
    InvalidCallback {
        /// The rejected URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Client ids are unique.
    #[error("an app with client id {0:?} already exists")]
    DuplicateClientId(String),
    /// Consumer keys are unique: a signed request names its app by it.
    #[error("an app with consumer key {0:?} already exists")]
    DuplicateConsumerKey(String),
    /// The operation names an app that does not exist.
    #[error("no app with client id {0:?}")]
    UnknownApp(String),
    /// The operation names a user that does not exist.
    #[error("no user with id {0:?}")]
    UnknownUser(String),
    /// User ids are numeric strings.
    #[error("user id {0:?} is not a numeric string")]
    InvalidUserId(String),
    /// A scope X does not know.
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
}
