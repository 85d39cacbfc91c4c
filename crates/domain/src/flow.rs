//! Which OAuth flow an account's grant came from. X accepts both on
//! `POST /2/tweets` and `GET /2/users/me`, and they die of different things:
//! OAuth 2.0 tokens expire and are refreshed; OAuth 1.0a tokens never expire
//! and die only when the account revokes the app or the app's consumer key
//! is regenerated.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Flow {
    /// Authorization code with PKCE; a 2-hour access token and a rotating refresh token.
    #[default]
    OAuth2,
    /// The 3-legged OAuth 1.0a flow; a token and token secret that never expire,
    /// every request signed with HMAC-SHA1 (RFC 5849).
    OAuth1,
}

impl Flow {
    pub const ALL: [Flow; 2] = [Flow::OAuth2, Flow::OAuth1];

    /// The stored spelling, also used in URLs and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::OAuth2 => "oauth2",
            Flow::OAuth1 => "oauth1",
        }
    }

    pub fn parse(s: &str) -> Option<Flow> {
        Flow::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Flow::OAuth2 => "OAuth 2.0",
            Flow::OAuth1 => "OAuth 1.0a",
        }
    }

    /// What choosing it means, in a sentence, for the connect page.
    pub fn explain(self) -> &'static str {
        match self {
            Flow::OAuth2 => {
                "X's current flow: the access token lives 2 hours and authwatch refreshes it before it expires; the grant lasts until revoked."
            }
            Flow::OAuth1 => {
                "The older flow: never expires; dies only when revoked or the app's keys change (which ends every OAuth 1.0a account at once)."
            }
        }
    }

    /// Whether its tokens expire and are refreshed.
    pub fn expires(self) -> bool {
        self == Flow::OAuth2
    }
}

impl TryFrom<String> for Flow {
    type Error = crate::spelling::UnknownSpelling;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Flow::parse(&value).ok_or(crate::spelling::UnknownSpelling { what: "OAuth flow", value })
    }
}

/// The advice shown on a 1.0a account: how to move it to OAuth 2.0.
pub const MOVE_TO_OAUTH2: &str = "This account uses OAuth 1.0a. To move it to OAuth 2.0 (scoped, revocable per token), \
     reconnect it and choose OAuth 2.0: the same X account keeps its history here, and the 1.0a token is no longer used.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_has_one_spelling_that_reads_back() {
        for f in Flow::ALL {
            assert_eq!(Flow::parse(f.as_str()), Some(f));
            assert_eq!(Flow::try_from(f.as_str().to_owned()), Ok(f));
        }
        assert!(Flow::try_from("oauth3".to_owned()).is_err());
        assert!(Flow::OAuth2.expires() && !Flow::OAuth1.expires());
        assert!(Flow::OAuth1.explain().contains("never expires"));
    }
}
