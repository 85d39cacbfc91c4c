//! OAuth scopes as X names them, and the comparison of granted vs required.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Every scope X's OAuth 2.0 documents. A configured scope outside this list
/// is almost always a typo, so configuration rejects it.
pub const KNOWN_SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "tweet.moderate.write",
    "users.email",
    "users.read",
    "follows.read",
    "follows.write",
    "offline.access",
    "space.read",
    "mute.read",
    "mute.write",
    "like.read",
    "like.write",
    "list.read",
    "list.write",
    "block.read",
    "block.write",
    "bookmark.read",
    "bookmark.write",
    "dm.read",
    "dm.write",
    "media.write",
];

/// What publishing a post needs, per X's docs.
pub const PUBLISHING: &[&str] = &["tweet.read", "tweet.write", "users.read"];

/// What `GET /2/users/me` needs, per X's docs (`users.read` alone gets a 403).
pub const USERS_ME: &[&str] = &["tweet.read", "users.read"];

/// The scopes authwatch asks for unless configured otherwise: publishing,
/// plus `offline.access` so X hands out a refresh token at all.
pub const DEFAULT_REQUIRED: &[&str] = &["tweet.read", "tweet.write", "users.read", "offline.access"];

/// A set of scopes, kept sorted so it prints and compares the same way
/// whatever order X or the configuration listed them in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses X's space-separated form (`"tweet.read users.read"`).
    pub fn parse(space_separated: &str) -> Self {
        Self(space_separated.split_whitespace().map(str::to_owned).collect())
    }

    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self(names.into_iter().map(str::to_owned).collect())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every one of `names` is in this set.
    pub fn covers(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.contains(n))
    }

    /// The scopes of `required` that this set lacks, in order.
    /// The OAuth 2.0 scopes an OAuth 1.0a token has, from X's access level
    /// (its `x-access-level` header: `read`, `read-write`,
    /// `read-write-directmessages`). 1.0a has no scopes: the app's
    /// permission level applies to every token, and nothing is refreshed,
    /// so `offline.access` has no meaning for it.
    pub fn of_oauth1_access_level(level: &str) -> Self {
        if level.starts_with("read-write") {
            Scopes::from_names(PUBLISHING.iter().copied())
        } else {
            Scopes::from_names(USERS_ME.iter().copied())
        }
    }

    /// What an OAuth 1.0a token must have of `required`: all but
    /// `offline.access`, which only OAuth 2.0's refresh tokens need.
    pub fn for_oauth1(&self) -> Scopes {
        Scopes::from_names(self.iter().filter(|s| *s != "offline.access"))
    }

    pub fn missing_from(&self, required: &Scopes) -> Vec<String> {
        required.0.difference(&self.0).cloned().collect()
    }

    /// Names in this set that X does not document.
    pub fn unknown(&self) -> Vec<String> {
        self.0.iter().filter(|s| !KNOWN_SCOPES.contains(&s.as_str())).cloned().collect()
    }
}

impl fmt::Display for Scopes {
    /// X's own form: space separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_are_what_required_has_and_granted_lacks() {
        let granted = Scopes::parse("users.read  tweet.read offline.access");
        let required = Scopes::from_names(DEFAULT_REQUIRED.iter().copied());
        assert_eq!(granted.missing_from(&required), vec!["tweet.write".to_string()]);
        assert!(required.missing_from(&required).is_empty());
    }

    #[test]
    fn prints_sorted_and_space_separated() {
        assert_eq!(Scopes::parse("users.read tweet.read").to_string(), "tweet.read users.read");
    }

    #[test]
    fn flags_undocumented_names() {
        assert_eq!(Scopes::parse("tweet.read tweets.write").unknown(), vec!["tweets.write"]);
    }
}
