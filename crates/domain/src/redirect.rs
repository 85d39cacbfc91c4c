//! Where a person may be sent after signing in. The sign-in page's `next`
//! comes from a link anyone can craft, so only a plain path on this site is
//! kept; the server also resolves it against the public URL
//! (`server::auth::routes`), and the page does not carry anything else into
//! its form.

/// `next` if it is a plain path on this site, read the same way by every
/// browser and everything in between; `None` otherwise.
///
/// Kept: a path starting with exactly one `/` (spaces and letters beyond
/// ASCII in it are fine: browsers percent-encode them). Refused:
/// - a scheme or no leading slash (`https://…`, `javascript:…`, `evil.example`,
///   ` /x`);
/// - `//host` and `/\host`, which browsers read as another host, and any
///   backslash (browsers read it as `/`);
/// - control characters (C0, DEL, C1) and whitespace other than the space:
///   browsers drop TAB, CR and LF inside a URL, so `/<TAB>/evil.example`
///   would be read as `//evil.example`;
/// - the same once percent-decoded, however many times (`/%09/evil.example`,
///   `/%2F/evil.example`, `/%5Cevil`, `/%2509/…`). A browser keeps those
///   encoded and stays here, but a proxy or framework on the way may decode
///   them; no page of ours needs them in its address, so they are refused
///   rather than trusted to stay encoded.
pub fn local_path(next: &str) -> Option<&str> {
    let refused = |c: char| c.is_control() || c == '\\' || (c.is_whitespace() && c != ' ');
    let plain = |path: &[u8]| starts_as_a_path(path) && !String::from_utf8_lossy(path).chars().any(refused);
    let mut decoded = next.as_bytes().to_vec();
    if !plain(&decoded) {
        return None;
    }
    while decoded.contains(&b'%') {
        let once = percent_decode(&decoded);
        if once == decoded {
            break;
        }
        if !plain(&once) {
            return None;
        }
        decoded = once;
    }
    Some(next)
}

/// One `/`, not followed by another slash or a backslash.
fn starts_as_a_path(path: &[u8]) -> bool {
    path.first() == Some(&b'/') && !matches!(path.get(1), Some(b'/' | b'\\'))
}

/// Decodes every `%XX`; a `%` not followed by two hex digits stays as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], s.get(i + 1).copied().and_then(hex), s.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn paths_on_this_site_are_kept() {
        for next in [
            "/",
            "/accounts/acc_1",
            "/?health=reconnect&search=acme%20news",
            "/?search=acme news",
            "/?search=caf\u{e9}",
            "/users#add",
            "/r/abc-DEF_123",
            "/100%",
        ] {
            assert_eq!(local_path(next), Some(next), "{next:?}");
        }
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        let hostile = [
            "",
            "/\t/evil.example",
            "/\tevil",
            "/\r\n/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\u{0b}/evil.example",
            "/\0",
            "/\u{7f}",
            "/\u{85}/evil.example",
            "/\u{2028}/evil.example",
            " /accounts",
            "\u{a0}/accounts",
            "/%09/evil.example",
            "/%0d%0a/evil.example",
            "/%0A/evil.example",
            "/%00",
            "/%7f",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/x%5Cy",
            "%2F%2Fevil.example",
            "/%25%30%39/evil.example",
            "/%252F/evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "/x\\y",
            "\\\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "http:evil.example",
            "HTTPS://evil.example",
            "javascript:alert(1)",
            "data:text/html,hi",
            "evil.example",
            "./accounts",
            "?next=//evil.example",
            "#x",
        ];
        for next in hostile {
            assert_eq!(local_path(next), None, "{next:?}");
        }
    }
}
