//! Token strings, PKCE, and client credentials — the small pure pieces of
//! X's OAuth 2.0.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The kinds of strings X hands out, as tagged inside the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    AccessToken,
    RefreshToken,
    AuthorizationCode,
}

/// A new token in X's format: base64url without padding of
/// `<43 random chars>:<ms epoch>:1:<0|1>:<at|rt|ac>:1`. In X's documented
/// examples the fourth field is 1 for codes and 0 for tokens.
pub(crate) fn new_token(kind: TokenKind, now_ms: u64) -> String {
    let (flag, tag) = match kind {
        TokenKind::AccessToken => (0, "at"),
        TokenKind::RefreshToken => (0, "rt"),
        TokenKind::AuthorizationCode => (1, "ac"),
    };
    let raw = format!("{}:{now_ms}:1:{flag}:{tag}:1", random_alphanumeric(43));
    URL_SAFE_NO_PAD.encode(raw)
}

/// `len` random ASCII letters and digits from the thread-local CSPRNG.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// A random lower-case hex string of `bytes` bytes.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(buf.as_mut_slice());
    hex::encode(buf)
}

/// The PKCE transformations X accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeMethod {
    Plain,
    S256,
}

impl ChallengeMethod {
    /// X's docs say `S256` or `plain`; two popular SDKs send `s256`, which X
    /// accepts.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "S256" | "s256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }

    /// Whether `verifier` answers `challenge`.
    pub fn verify(self, challenge: &str, verifier: &str) -> bool {
        match self {
            Self::Plain => challenge == verifier,
            Self::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
        }
    }
}

/// What the `Authorization` header of a token or revoke call says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BasicCredentials {
    /// No `Authorization` header.
    Absent,
    /// A header that is not well-formed HTTP Basic.
    Malformed,
    /// `Basic base64(client_id:client_secret)`.
    Present { client_id: String, client_secret: String },
}

impl BasicCredentials {
    pub fn from_header(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Self::Absent;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return Self::Malformed;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Self::Malformed;
        }
        let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded.as_deref().and_then(|s| s.split_once(':')) {
            Some((id, secret)) if !id.is_empty() => {
                Self::Present { client_id: id.to_owned(), client_secret: secret.to_owned() }
            }
            _ => Self::Malformed,
        }
    }

    /// The client id named by the header, if any.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Present { client_id, .. } => Some(client_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_has_xs_shape() {
        let token = new_token(TokenKind::RefreshToken, 1_700_000_000_123);
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&token).expect("base64url")).expect("utf8");
        let parts: Vec<&str> = decoded.split(':').collect();
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[0].len(), 43);
        assert_eq!(&parts[1..], ["1700000000123", "1", "0", "rt", "1"]);
        assert!(!token.contains('='));
    }

    #[test]
    fn pkce_rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(ChallengeMethod::S256.verify(challenge, verifier));
        assert!(!ChallengeMethod::S256.verify(challenge, "other"));
        assert!(ChallengeMethod::Plain.verify("abc", "abc"));
        assert_eq!(ChallengeMethod::parse("s256"), Some(ChallengeMethod::S256));
        assert_eq!(ChallengeMethod::parse("S384"), None);
    }

    #[test]
    fn basic_header() {
        let header = format!("Basic {}", STANDARD.encode("id:se:cret"));
        assert_eq!(
            BasicCredentials::from_header(Some(&header)),
            BasicCredentials::Present { client_id: "id".into(), client_secret: "se:cret".into() }
        );
        assert_eq!(BasicCredentials::from_header(Some("Bearer x")), BasicCredentials::Malformed);
        assert_eq!(BasicCredentials::from_header(None), BasicCredentials::Absent);
    }
}
