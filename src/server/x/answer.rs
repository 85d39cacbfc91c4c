//! What authwatch keeps of an answer from X, and how it reads a token answer
//! that does not follow OAuth 2.0 to the letter. Pure functions over the
//! status and body: no I/O, unit-tested on X's answers and hostile ones.
//!
//! What is kept of an answer goes to the event log, the account's incident,
//! its page, the connect message in the session and the pipeline API. X's
//! success bodies carry tokens, and an error body may echo one, so:
//! - a success (2xx) body is never kept;
//! - of a JSON error, only `error`, `error_description` and the v2 problem
//!   fields (`title`, `type`, `status`, `detail`, `reason`, `errors[]`) are
//!   kept, re-serialised;
//! - any other body (a proxy's HTML page) is kept as a short excerpt;
//! - whatever is kept has every token-shaped word replaced (see [`redact`]).

use crate::server::secret::Secret;
use serde_json::Value;
use std::time::Duration;

/// What replaces a token-shaped word.
pub const REDACTED: &str = "[redacted]";
/// What is kept in place of a success body.
pub const SUCCESS_NOT_KEPT: &str = "(X's success answer is not kept: it carries tokens)";
/// What is kept of a JSON body without any error field.
pub const NO_ERROR_FIELDS: &str = "(X's answer had no error fields)";

/// Longest excerpt kept of an error body that is not JSON, in characters.
const EXCERPT_CHARS: usize = 200;
/// Longest string kept of one JSON error field, in characters.
const FIELD_CHARS: usize = 500;
/// Most entries kept of a problem's `errors` list.
const MAX_ERRORS: usize = 10;

/// A word at least this long is token-shaped if it has a digit or an
/// upper-case letter in it.
const TOKEN_MIN_CHARS: usize = 20;
/// A word at least this long is token-shaped whatever it is made of.
const TOKEN_ALWAYS_CHARS: usize = 40;

/// The top-level fields kept of a JSON error, in the order they are written
/// back (X's own order for its generic problem body).
const KEPT_FIELDS: &[&str] = &["error", "error_description", "title", "type", "status", "detail", "reason"];
/// The fields kept of each entry of a problem's `errors` list (v2 problems
/// and OAuth 1.0a's `{"errors":[{"code":89,"message":…}]}`).
const KEPT_ERROR_ENTRY_FIELDS: &[&str] = &["message", "code", "title", "type", "detail"];

/// What authwatch keeps of X's answer `status` with `body`: never a success
/// body; of an error, its error fields or a short excerpt, token-shaped
/// words redacted.
pub fn kept(status: u16, body: &str) -> String {
    if (200..300).contains(&status) {
        return SUCCESS_NOT_KEPT.to_owned();
    }
    let body = body.trim_start_matches('\u{feff}').trim();
    if body.is_empty() {
        return String::new();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(fields)) => error_fields(&fields).unwrap_or_else(|| NO_ERROR_FIELDS.to_owned()),
        _ => excerpt(body),
    }
}

/// `fields`' error fields as one JSON object, or `None` if it has none.
fn error_fields(fields: &serde_json::Map<String, Value>) -> Option<String> {
    let mut out: Vec<String> =
        KEPT_FIELDS.iter().filter_map(|name| Some(pair(name, &scalar(fields.get(*name)?)?))).collect();
    if let Some(Value::Array(entries)) = fields.get("errors") {
        let entries: Vec<String> = entries
            .iter()
            .filter_map(|entry| {
                let Value::Object(entry) = entry else { return None };
                let kept: Vec<String> = KEPT_ERROR_ENTRY_FIELDS
                    .iter()
                    .filter_map(|name| Some(pair(name, &scalar(entry.get(*name)?)?)))
                    .collect();
                (!kept.is_empty()).then(|| format!("{{{}}}", kept.join(",")))
            })
            .take(MAX_ERRORS)
            .collect();
        if !entries.is_empty() {
            out.push(format!("\"errors\":[{}]", entries.join(",")));
        }
    }
    (!out.is_empty()).then(|| format!("{{{}}}", out.join(",")))
}

/// A kept field's value: a string (redacted, shortened) or a number; other
/// JSON values are dropped.
fn scalar(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) => Some(Value::String(shorten(&redact(s), FIELD_CHARS))),
        Value::Number(n) => Some(Value::Number(n.clone())),
        _ => None,
    }
}

fn pair(name: &str, value: &Value) -> String {
    format!("{}:{}", Value::String(name.to_owned()), value)
}

/// A short, redacted excerpt of a body that is not JSON: tags removed,
/// whitespace collapsed.
fn excerpt(body: &str) -> String {
    let mut text = String::with_capacity(body.len().min(4096));
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c => text.push(c),
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Redacting before shortening: a token cut in half by the excerpt's end
    // would be too short to look like one.
    shorten(&redact(&text), EXCERPT_CHARS)
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// Replaces every token-shaped word of `text` with [`REDACTED`].
///
/// A word is a maximal run of the characters an OAuth bearer token (RFC 6750)
/// or its URL encoding is made of — ASCII letters, digits and `-._~+=%` —
/// except `/`, so that the segments of a URL path stay apart. A word is
/// token-shaped when it is at least 20 characters long and holds a digit or
/// an upper-case letter, or when it is at least 40 characters long whatever
/// it holds. X's tokens are 88 characters of base64url; its codes and
/// client ids are as long and as mixed. What stays: words of prose, X's
/// error codes (`unauthorized_client` is 19 characters, and lower-case),
/// host names and `type` URIs (`https://api.x.com/2/problems/client-forbidden`),
/// user and post ids (19 digits).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = None;
    for (i, c) in text.char_indices() {
        let in_word = c.is_ascii_alphanumeric() || "-._~+=%".contains(c);
        match (in_word, word_start) {
            (true, None) => word_start = Some(i),
            (false, Some(start)) => {
                push_word(&mut out, &text[start..i]);
                word_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(start) = word_start {
        push_word(&mut out, &text[start..]);
    }
    out
}

fn push_word(out: &mut String, word: &str) {
    // A full stop after a token ends the sentence, not the token.
    let stem = word.trim_end_matches('.');
    let long = stem.len() >= TOKEN_ALWAYS_CHARS;
    let mixed = stem.len() >= TOKEN_MIN_CHARS && stem.bytes().any(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    if long || mixed {
        out.push_str(REDACTED);
        out.push_str(&word[stem.len()..]);
    } else {
        out.push_str(word);
    }
}

/// The tokens of a success answer, read leniently.
#[derive(Debug)]
pub struct TokenAnswer {
    pub access: Secret,
    /// `None`: X sent none (no `offline.access`).
    pub refresh: Option<Secret>,
    /// `None`: X did not say.
    pub scopes: Option<Vec<String>>,
    /// `None`: X did not say, or not in a way that can be read.
    pub expires_in: Option<Duration>,
}

/// Reads a token endpoint's success body that `oauth2` refused: X's JSON
/// under another content type (`text/plain`), `expires_in` as a string, a
/// byte-order mark, `scope` as a list. `None` when there is no usable access
/// token in it, or a `refresh_token` that is there but not a usable string
/// (saving the access token alone would keep a refresh token X may have
/// just rotated away).
pub fn read_tokens(body: &str) -> Option<TokenAnswer> {
    let body = body.trim_start_matches('\u{feff}').trim();
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return None;
    };
    let text = |name: &str| match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(()),
    };
    let access = text("access_token").ok()??;
    let refresh = text("refresh_token").ok()?;
    let expires_in = match fields.get("expires_in") {
        Some(Value::Number(n)) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
        }
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let scopes = match fields.get("scope") {
        Some(Value::String(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(names)) => Some(names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect()),
        _ => None,
    };
    Some(TokenAnswer {
        access: Secret::new(access),
        refresh: refresh.map(Secret::new),
        scopes,
        expires_in: expires_in.map(Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token in X's format (base64url of `<43 chars>:<ms>:1:0:rt:1`).
    const TOKEN: &str = "bWJxZ3ZKeTVOS3lDbUhQNzRsWlJqcU1fcTFnT0ZaVDN6OWxJQ0RqQ2hSTjoxNzAwMDAwMDAwMTIzOjE6MDpydDox";

    #[test]
    fn token_shaped_words_are_redacted_and_prose_stays() {
        assert_eq!(redact(TOKEN), REDACTED);
        assert_eq!(redact(&format!("token {TOKEN} was invalid.")), "token [redacted] was invalid.");
        // URL-encoded, quoted, or in a form: the whole word goes.
        assert_eq!(redact(&format!("refresh_token={TOKEN}&x=1")), "[redacted]&x=1");
        assert_eq!(redact(&format!("\"{TOKEN}\"")), "\"[redacted]\"");
        // A JWT (dots are token characters).
        assert_eq!(redact("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"), REDACTED);
        // 20 characters with a digit; 40 lower-case letters.
        assert_eq!(redact("abcdefghij0123456789"), REDACTED);
        assert_eq!(redact(&"a".repeat(40)), REDACTED);
        for kept in [
            "Value passed for the token was invalid.",
            "unauthorized_client",
            "https://api.x.com/2/problems/client-forbidden",
            "https://api.twitter.com/2/problems/usage-capped",
            "Missing required parameter [code_verifier].",
            "user 1600000000000000001, post 1912345678901234567",
            "x-rate-limit-remaining",
            "upstream-connect-timeout",
            "abcdefghij012345678",
            "",
        ] {
            assert_eq!(redact(kept), kept);
        }
        // Not ASCII: never part of a word, never mangled.
        assert_eq!(redact("Ça ne marche pas — réessayez"), "Ça ne marche pas — réessayez");
    }

    #[test]
    fn a_success_body_is_never_kept() {
        let body = format!(r#"{{"token_type":"bearer","access_token":"{TOKEN}","refresh_token":"{TOKEN}"}}"#);
        for status in [200, 201, 204, 299] {
            assert_eq!(kept(status, &body), SUCCESS_NOT_KEPT);
        }
    }

    #[test]
    fn xs_token_and_problem_errors_are_kept_as_x_wrote_them() {
        for body in [
            r#"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#,
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
            r#"{"errors":[{"message":"Invalid or expired token.","code":89}]}"#,
        ] {
            assert_eq!(kept(400, body), body);
        }
        let not_enrolled = r#"{"client_id":"Q2xpZW50SWQ6MTIzNDU2Nzg5MA","title":"Client Forbidden","reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","required_enrollment":"Appropriate Level of API Access","registration_url":"https://developer.x.com/"}"#;
        assert_eq!(
            kept(403, not_enrolled),
            r#"{"title":"Client Forbidden","type":"https://api.x.com/2/problems/client-forbidden","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","reason":"client-not-enrolled"}"#
        );
    }

    #[test]
    fn only_error_fields_survive_and_tokens_in_them_are_redacted() {
        let body = format!(
            r#"{{"error":"invalid_request","error_description":"token {TOKEN} is spent","access_token":"{TOKEN}","refresh_token":"{TOKEN}","errors":[{{"message":"bad {TOKEN}","parameters":{{"token":["{TOKEN}"]}}}},"{TOKEN}",{{"value":"{TOKEN}"}}]}}"#
        );
        let kept_body = kept(400, &body);
        assert_eq!(
            kept_body,
            r#"{"error":"invalid_request","error_description":"token [redacted] is spent","errors":[{"message":"bad [redacted]"}]}"#
        );
        assert!(!kept_body.contains(TOKEN));
        // Nested or odd values of kept names are dropped, not printed.
        assert_eq!(kept_of(r#"{"error":{"access_token":"x"},"status":true}"#), NO_ERROR_FIELDS);
        assert_eq!(kept_of(&format!(r#"{{"access_token":"{TOKEN}"}}"#)), NO_ERROR_FIELDS);
    }

    fn kept_of(body: &str) -> String {
        kept(500, body)
    }

    #[test]
    fn a_proxy_page_is_kept_as_a_short_redacted_excerpt() {
        let page = format!(
            "<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502   Bad Gateway</h1><p>request {TOKEN}</p>{}</body></html>",
            "padding ".repeat(100)
        );
        let excerpt = kept(502, &page);
        assert!(excerpt.starts_with("502 Bad Gateway 502 Bad Gateway request [redacted] padding"), "{excerpt}");
        assert!(excerpt.ends_with('…'));
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        // A token cut by the excerpt's end is gone, not half kept.
        let cut = format!("{}{TOKEN}", "x ".repeat(95));
        assert!(!kept_of(&cut).contains(&TOKEN[..10]), "{}", kept_of(&cut));
        assert_eq!(kept(503, "  "), "");
        assert_eq!(kept(400, r#"{"error":"invalid_request""#), r#"{"error":"invalid_request""#);
    }

    #[test]
    fn token_answers_are_read_leniently() {
        let xs = format!(
            r#"{{"token_type":"bearer","expires_in":7200,"access_token":"{TOKEN}a","scope":"tweet.read users.read offline.access","refresh_token":"{TOKEN}r"}}"#
        );
        let read = read_tokens(&xs).expect("X's JSON");
        assert_eq!(read.access.expose(), format!("{TOKEN}a"));
        assert_eq!(read.refresh.as_ref().map(|r| r.expose().to_owned()), Some(format!("{TOKEN}r")));
        assert_eq!(read.expires_in, Some(Duration::from_secs(7200)));
        assert_eq!(
            read.scopes.as_deref(),
            Some(&["tweet.read".to_owned(), "users.read".to_owned(), "offline.access".to_owned()][..])
        );
        assert!(!format!("{read:?}").contains(TOKEN));

        let stringly = xs.replace("7200", "\"5400\"");
        assert_eq!(read_tokens(&stringly).unwrap().expires_in, Some(Duration::from_secs(5400)));
        assert_eq!(read_tokens(&format!("\u{feff}\n{xs}\n")).unwrap().expires_in, Some(Duration::from_secs(7200)));
        let listed = xs.replace(r#""tweet.read users.read offline.access""#, r#"["tweet.read","users.read"]"#);
        assert_eq!(read_tokens(&listed).unwrap().scopes.map(|s| s.len()), Some(2));
        let odd_expiry = xs.replace("7200", "\"soon\"");
        assert_eq!(read_tokens(&odd_expiry).unwrap().expires_in, None);
        let without_refresh = format!(r#"{{"access_token":"{TOKEN}"}}"#);
        let read = read_tokens(&without_refresh).unwrap();
        assert!(read.refresh.is_none() && read.scopes.is_none() && read.expires_in.is_none());
    }

    #[test]
    fn an_unusable_token_answer_is_not_read() {
        let xs = format!(
            r#"{{"token_type":"bearer","expires_in":7200,"access_token":"{TOKEN}","refresh_token":"{TOKEN}"}}"#
        );
        for body in [
            xs[..xs.len() - 1].to_owned(),
            xs[..xs.len() / 2].to_owned(),
            xs.replace(&format!(r#""access_token":"{TOKEN}""#), r#""access_token":"  ""#),
            xs.replace(&format!(r#""access_token":"{TOKEN}""#), r#""access_token":42"#),
            xs.replace(&format!(r#""refresh_token":"{TOKEN}""#), r#""refresh_token":"""#),
            xs.replace(&format!(r#""refresh_token":"{TOKEN}""#), r#""refresh_token":{"v":1}"#),
            format!("access_token={TOKEN}&token_type=bearer"),
            r#"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#.to_owned(),
            "[]".to_owned(),
            String::new(),
        ] {
            assert!(read_tokens(&body).is_none(), "{body}");
        }
    }
}
