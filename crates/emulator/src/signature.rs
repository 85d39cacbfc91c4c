//! OAuth 1.0a signatures, the server's side (RFC 5849 §3.4.1, HMAC-SHA1):
//! reading the `Authorization: OAuth …` header, rebuilding the signature
//! base string from the request as the client addressed it, and checking the
//! signature in constant time.
//!
//! Written here rather than taken from a client crate, so that the emulator
//! checks authwatch's signer instead of sharing its mistakes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// RFC 3986's unreserved characters stay as they are; everything else is
/// percent-encoded (RFC 5849 §3.6).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// RFC 5849 §3.6 percent-encoding.
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The protocol parameters of an `Authorization: OAuth …` header, decoded.
/// `realm` is dropped (§3.4.1.3.1); a parameter given twice makes the
/// header garbled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OauthHeader {
    params: Vec<(String, String)>,
}

impl OauthHeader {
    /// `None` for anything that is not a well-formed OAuth header.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("oauth") {
            return None;
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for part in rest.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, quoted) = part.split_once('=')?;
            let quoted = quoted.trim();
            let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
            if inner.contains('"') {
                return None;
            }
            let name = decode(name.trim())?;
            if name == "realm" {
                continue;
            }
            if params.iter().any(|(n, _)| *n == name) {
                return None;
            }
            params.push((name, decode(inner)?));
        }
        Some(Self { params })
    }

    /// The value of a protocol parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every parameter but `oauth_signature`: what the base string signs.
    fn signed_params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().filter(|(n, _)| n != "oauth_signature").map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

fn decode(s: &str) -> Option<String> {
    percent_decode_str(s).decode_utf8().ok().map(|s| s.into_owned())
}

/// A request as its signature covers it: the method, the base string URI
/// (`scheme://host[:port]/path`, as the client addressed it), the query and
/// form-body parameters, and the OAuth header.
#[derive(Debug, Clone)]
pub(crate) struct SignedRequest {
    pub method: String,
    pub base_uri: String,
    /// Query and form-body parameters, decoded.
    pub params: Vec<(String, String)>,
    pub header: OauthHeader,
}

impl SignedRequest {
    /// The signature base string (§3.4.1.1).
    pub fn base_string(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(self.header.signed_params())
            .map(|(n, v)| (encode(n), encode(v)))
            .collect();
        pairs.sort();
        let normalized = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");
        format!("{}&{}&{}", self.method.to_ascii_uppercase(), encode(&self.base_uri), encode(&normalized))
    }

    /// Whether `oauth_signature` is the HMAC-SHA1 of the base string under
    /// the consumer secret and the token secret (empty without a token).
    /// Compared in constant time.
    pub fn signature_matches(&self, consumer_secret: &str, token_secret: &str) -> bool {
        let Some(given) = self.header.get("oauth_signature").and_then(|s| STANDARD.decode(s).ok()) else {
            return false;
        };
        mac(consumer_secret, token_secret, &self.base_string()).verify_slice(&given).is_ok()
    }
}

fn mac(consumer_secret: &str, token_secret: &str, base_string: &str) -> Hmac<Sha1> {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(base_string.as_bytes());
    mac
}

/// `scheme://host[:port]/path` per §3.4.1.2: scheme and host in lower case,
/// the port left out when it is the scheme's default.
pub(crate) fn base_uri(scheme: &str, host: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(":80"),
        "https" => Some(":443"),
        _ => None,
    };
    let host = match default_port {
        Some(port) => host.strip_suffix(port).unwrap_or(&host).to_owned(),
        None => host,
    };
    let path = if path.is_empty() { "/" } else { path };
    format!("{scheme}://{host}{path}")
}

/// Decoded `application/x-www-form-urlencoded` pairs, all of them, in order
/// (§3.4.1.3.1: every occurrence is signed).
pub(crate) fn form_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base64 HMAC-SHA1 signature of `base_string` (§3.4.2).
    fn sign(consumer_secret: &str, token_secret: &str, base_string: &str) -> String {
        STANDARD.encode(mac(consumer_secret, token_secret, base_string).finalize().into_bytes())
    }

    /// X's docs, "Creating a signature": the request, the keys, and the
    /// signature X says they give.
    fn xs_example() -> SignedRequest {
        let header = r#"OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0""#;
        SignedRequest {
            method: "POST".into(),
            base_uri: base_uri("https", "api.twitter.com", "/1.1/statuses/update.json"),
            params: [
                form_pairs(b"include_entities=true"),
                form_pairs(b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21"),
            ]
            .concat(),
            header: OauthHeader::parse(header).expect("X's header parses"),
        }
    }

    const CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
    const TOKEN_SECRET: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";

    #[test]
    fn xs_documented_example_verifies() {
        let request = xs_example();
        assert_eq!(request.params[1].1, "Hello Ladies + Gentlemen, a signed OAuth request!");
        assert_eq!(
            request.base_string(),
            "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26\
             oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26\
             oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26\
             oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26\
             status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
        );
        assert_eq!(sign(CONSUMER_SECRET, TOKEN_SECRET, &request.base_string()), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
        assert!(request.signature_matches(CONSUMER_SECRET, TOKEN_SECRET));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let request = xs_example();
        assert!(!request.signature_matches(CONSUMER_SECRET, "other"));
        assert!(!request.signature_matches("other", TOKEN_SECRET));
        let mut other_path = request.clone();
        other_path.base_uri = base_uri("https", "api.twitter.com", "/prefix/1.1/statuses/update.json");
        assert!(!other_path.signature_matches(CONSUMER_SECRET, TOKEN_SECRET));
        let mut other_param = request.clone();
        other_param.params[0].1 = "false".into();
        assert!(!other_param.signature_matches(CONSUMER_SECRET, TOKEN_SECRET));
        let mut other_method = request;
        other_method.method = "GET".into();
        assert!(!other_method.signature_matches(CONSUMER_SECRET, TOKEN_SECRET));
    }

    #[test]
    fn header_parsing() {
        let parsed = OauthHeader::parse(r#"OAuth realm="x",oauth_consumer_key="a%20b",  oauth_nonce="n""#).unwrap();
        assert_eq!(parsed.get("oauth_consumer_key"), Some("a b"));
        assert_eq!(parsed.get("realm"), None);
        assert_eq!(parsed.get("oauth_nonce"), Some("n"));
        for garbled in [
            "Bearer abc",
            r#"OAuth oauth_nonce=n"#,
            r#"OAuth oauth_nonce="n", oauth_nonce="m""#,
            r#"OAuth oauth_nonce"#,
            r#"OAuth oauth_nonce="%FF""#,
        ] {
            assert_eq!(OauthHeader::parse(garbled), None, "{garbled}");
        }
    }

    #[test]
    fn base_uri_drops_default_ports_and_lowercases() {
        assert_eq!(base_uri("HTTP", "Example.COM:80", "/r%20v/X"), "http://example.com/r%20v/X");
        assert_eq!(base_uri("https", "example.net:8080", "/"), "https://example.net:8080/");
        assert_eq!(base_uri("https", "example.net:443", ""), "https://example.net/");
    }
}
