#![cfg(feature = "ssr")]
//! Serving as a web server should: the bundle under `/pkg` as compressed at
//! build time when the browser takes it, kept a year when its name carries
//! its hash; pages and API answers compressed as they go out, tiny ones
//! not; hostile `Accept-Encoding` and path tricks answered sanely; and a
//! server that refuses to start on a site whose files its pages would not
//! find. Each server serves a site built here, in the build's layout
//! (`support::site`).

use crate::support::site::Site;
use crate::support::TestApp;
use reqwest::header::{
    HeaderMap, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY,
};
use reqwest::{Method, StatusCode};
use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// What the demo's sign-in page streams after its form.
const SIGN_IN_LATE: &str = "Demo mode: sign in as one of";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("a readable header"))
    }

    fn encoding(&self) -> Option<&str> {
        self.header(CONTENT_ENCODING)
    }

    fn varies_on_encoding(&self) -> bool {
        self.headers.get_all(VARY).iter().any(|v| {
            v.to_str().unwrap_or_default().split(',').any(|n| n.trim().eq_ignore_ascii_case("accept-encoding"))
        })
    }

    /// The body as sent before `Content-Encoding`.
    fn decoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.encoding() {
            None => out.extend_from_slice(&self.body),
            Some("br") => {
                brotli::Decompressor::new(self.body.as_slice(), 4096).read_to_end(&mut out).expect("valid brotli");
            }
            Some("gzip") => {
                flate2::read::GzDecoder::new(self.body.as_slice()).read_to_end(&mut out).expect("valid gzip");
            }
            Some(other) => panic!("unexpected Content-Encoding {other}"),
        }
        out
    }
}

async fn send(client: &reqwest::Client, method: Method, url: &str, accept: Option<&str>) -> Answer {
    let mut request = client.request(method, url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    let answer = request.send().await.expect("an answer");
    let (status, headers) = (answer.status(), answer.headers().clone());
    Answer { status, headers, body: answer.bytes().await.expect("a body").to_vec() }
}

async fn get(client: &reqwest::Client, url: &str, accept: Option<&str>) -> Answer {
    send(client, Method::GET, url, accept).await
}

#[tokio::test]
async fn the_bundle_comes_compressed_as_the_browser_accepts_it_and_is_kept_a_year() {
    let site = Site::hashed();
    let app = TestApp::builder().site(&site).start().await;
    let bundle = site.bundle();
    let client = reqwest::Client::new();
    for (name, mime) in [(&bundle.js, "javascript"), (&bundle.wasm, "application/wasm"), (&bundle.css, "text/css")] {
        let url = app.url(&format!("/pkg/{name}"));
        // What the browser accepts; the encoding and file it must get.
        let cases: [(Option<&str>, Option<&str>, &str); 7] = [
            (Some("br"), Some("br"), ".br"),
            (Some("gzip"), Some("gzip"), ".gz"),
            // What browsers send: brotli wins.
            (Some("gzip, deflate, br, zstd"), Some("br"), ".br"),
            (Some("br;q=0.5, gzip"), Some("gzip"), ".gz"),
            (None, None, ""),
            (Some("deflate"), None, ""),
            (Some("identity"), None, ""),
        ];
        for (accept, encoding, suffix) in cases {
            let answer = get(&client, &url, accept).await;
            let case = format!("{name} with Accept-Encoding {accept:?}");
            assert_eq!(answer.status, 200, "{case}");
            assert_eq!(answer.encoding(), encoding, "{case}");
            assert!(answer.body == site.read(&format!("pkg/{name}{suffix}")), "{case}: not the {suffix:?} file");
            assert_eq!(answer.decoded(), site.read(&format!("pkg/{name}")), "{case}");
            assert!(answer.header(CONTENT_TYPE).is_some_and(|t| t.contains(mime)), "{case}: {:?}", answer.headers);
            assert_eq!(answer.header(CACHE_CONTROL), Some(IMMUTABLE), "{case}");
            assert!(answer.varies_on_encoding(), "{case}: a shared cache must keep the variants apart");
        }
    }
}

#[tokio::test]
async fn only_names_that_change_with_their_content_are_kept_forever() {
    let site = Site::hashed();
    let app = TestApp::builder().site(&site).start().await;
    let client = reqwest::Client::new();
    let css = site.bundle().css;

    // Revalidated (the browser sends back Last-Modified): the answer keeps its caching.
    let first = get(&client, &app.url(&format!("/pkg/{css}")), Some("br")).await;
    let modified = first.header(reqwest::header::LAST_MODIFIED).expect("Last-Modified").to_owned();
    let again = client
        .get(app.url(&format!("/pkg/{css}")))
        .header(ACCEPT_ENCODING, "br")
        .header(reqwest::header::IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers().get(CACHE_CONTROL).unwrap(), IMMUTABLE);

    // A name the build never wrote: a bare 404 no cache may keep.
    let missing = get(&client, &app.url("/pkg/authwatch.0000000000000000.js"), Some("br")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header(CACHE_CONTROL), None);

    // The favicon keeps its name across builds: an hour, then revalidated.
    let icon = get(&client, &app.url("/favicon.ico"), None).await;
    assert_eq!((icon.status, icon.body.as_slice()), (StatusCode::OK, site.read("favicon.ico").as_slice()));
    assert_eq!(icon.header(CACHE_CONTROL), Some("public, max-age=3600"));

    // Pages are never cached as files are.
    let page = get(&client, &app.url("/sign-in"), None).await;
    assert_eq!(page.status, 200);
    assert_ne!(page.header(CACHE_CONTROL), Some(IMMUTABLE));

    // A build without hashed names: the same name after every build, so
    // asked again each time (and still compressed).
    let plain = Site::plain();
    let app = TestApp::builder().site(&plain).start().await;
    let css = get(&client, &app.url(&format!("/pkg/{}", plain.bundle().css)), Some("br")).await;
    assert_eq!((css.status, css.encoding()), (StatusCode::OK, Some("br")));
    assert_eq!(css.header(CACHE_CONTROL), Some("no-cache"));
}

/// Whether a page came out whole: to its end, with `late`, which a
/// streamed page sends last (a resource resolved after the first bytes).
fn whole(page: &str, late: &str) -> bool {
    page.starts_with("<!DOCTYPE html>") && page.contains("</html>") && page.contains(late)
}

/// Every `/pkg/...` address in a page.
fn pkg_references(html: &str) -> Vec<String> {
    let mut found: Vec<String> = html
        .match_indices("/pkg/")
        .map(|(at, _)| html[at..].split(['"', '\'', ' ', '>']).next().unwrap_or_default().to_owned())
        .collect();
    found.sort();
    found.dedup();
    found
}

#[tokio::test]
async fn every_file_a_page_asks_for_is_served() {
    let site = Site::hashed();
    let app = TestApp::builder().site(&site).start().await;
    let bundle = site.bundle();
    let client = reqwest::Client::new();
    let page = get(&client, &app.url("/sign-in"), None).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    let mut wanted = [&bundle.css, &bundle.js, &bundle.wasm].map(|n| format!("/pkg/{n}")).to_vec();
    wanted.sort();
    assert_eq!(pkg_references(&html), wanted, "{html}");
    for url in wanted {
        assert_eq!(get(&client, &app.url(&url), Some("br")).await.status, 200, "{url}");
    }
}

#[tokio::test]
async fn pages_and_api_answers_are_compressed_and_tiny_answers_are_not() {
    let site = Site::hashed();
    let app = TestApp::builder().demo().site(&site).start().await;
    let admin = app.admin().await;

    let plain = get(&admin, &app.url("/"), None).await;
    assert_eq!((plain.status, plain.encoding()), (StatusCode::OK, None));
    let dashboard = String::from_utf8(plain.body.clone()).unwrap();
    assert!(dashboard.contains("acme_news") && dashboard.contains("</html>"), "{dashboard}");
    let mut sizes = vec![("identity", plain.body.len())];
    for encoding in ["br", "gzip"] {
        let answer = get(&admin, &app.url("/"), Some(encoding)).await;
        assert_eq!((answer.status, answer.encoding()), (StatusCode::OK, Some(encoding)));
        assert!(answer.varies_on_encoding());
        let decoded = String::from_utf8(answer.decoded()).unwrap();
        // The same page, every account on it, in a fraction of the bytes.
        for account in authwatch::server::demo::ACCOUNTS {
            assert!(whole(&decoded, account.handle), "{encoding}: @{} missing from {decoded}", account.handle);
        }
        assert!(
            answer.body.len() * 3 < plain.body.len(),
            "{encoding}: {} of {} bytes",
            answer.body.len(),
            plain.body.len()
        );
        sizes.push((encoding, answer.body.len()));
    }
    eprintln!("dashboard page, demo accounts, signed in as the admin: {sizes:?} bytes");

    // A streamed page comes out whole through the encoder.
    let sign_in = get(&reqwest::Client::new(), &app.url("/sign-in"), Some("gzip")).await;
    assert_eq!((sign_in.status, sign_in.encoding()), (StatusCode::OK, Some("gzip")));
    let page = String::from_utf8(sign_in.decoded()).unwrap();
    assert!(whole(&page, SIGN_IN_LATE), "{page}");

    // The pipeline API's answers too.
    let api = get(&reqwest::Client::new(), &app.url("/api/v1/openapi.json"), Some("br")).await;
    assert_eq!((api.status, api.encoding()), (StatusCode::OK, Some("br")));
    let document: serde_json::Value = serde_json::from_slice(&api.decoded()).expect("JSON");
    assert!(document["paths"].is_object());

    // A few bytes go out as they are: compressing them would only add some.
    let health = get(&reqwest::Client::new(), &app.url("/healthz"), Some("br")).await;
    assert_eq!((health.status, health.encoding(), health.body.as_slice()), (StatusCode::OK, None, b"ok".as_slice()));
}

#[tokio::test]
async fn head_answers_the_headers_of_get_without_a_body() {
    let site = Site::hashed();
    let app = TestApp::builder().site(&site).start().await;
    let client = reqwest::Client::new();
    let wasm = site.bundle().wasm;
    let head = send(&client, Method::HEAD, &app.url(&format!("/pkg/{wasm}")), Some("br")).await;
    assert_eq!((head.status, head.encoding()), (StatusCode::OK, Some("br")));
    assert!(head.body.is_empty());
    let br_len = site.read(&format!("pkg/{wasm}.br")).len().to_string();
    assert_eq!(head.header(CONTENT_LENGTH), Some(br_len.as_str()));
    assert_eq!(head.header(CACHE_CONTROL), Some(IMMUTABLE));
    assert!(head.varies_on_encoding());

    let page = send(&client, Method::HEAD, &app.url("/sign-in"), Some("gzip")).await;
    assert_eq!((page.status, page.encoding()), (StatusCode::OK, Some("gzip")));
    assert!(page.body.is_empty());
}

#[tokio::test]
async fn hostile_accept_encodings_get_sane_answers() {
    let site = Site::hashed();
    let app = TestApp::builder().site(&site).start().await;
    let client = reqwest::Client::new();
    let wasm = site.bundle().wasm;
    let huge = "gzip;q=0.001, x-unknown;q=0.9, ".repeat(1500);
    // Each header, and the encodings a sane server may answer it with.
    let cases: [(&[u8], &[Option<&str>]); 8] = [
        (b"br;q=0, gzip;q=0, identity;q=0, *;q=0", &[None]),
        (b"*;q=0", &[None]),
        (b";;;,,, q=, =br, gzip;q=abc, br;q=2.5, *;q=-1", &[None, Some("gzip"), Some("br")]),
        (b"\xff\xfe br \x80", &[None, Some("br")]),
        (b"br;q=0.000000000000000000001, gzip;q=99999999999999999999", &[None, Some("br"), Some("gzip")]),
        (b"*", &[None, Some("br"), Some("gzip")]),
        (huge.as_bytes(), &[None, Some("gzip")]),
        // Nonsense beside a real preference: the preference counts.
        (b"br;q=0, gzip;q=0.5, zz;q=zz, *;q=0", &[Some("gzip")]),
    ];
    for (accept, allowed) in cases {
        let shown = String::from_utf8_lossy(&accept[..accept.len().min(60)]).into_owned();
        for (path, whole) in
            [(format!("/pkg/{wasm}"), site.read(&format!("pkg/{wasm}"))), ("/sign-in".to_owned(), vec![])]
        {
            let started = Instant::now();
            let answer = client
                .get(app.url(&path))
                .header(ACCEPT_ENCODING, reqwest::header::HeaderValue::from_bytes(accept).unwrap())
                .send()
                .await
                .expect("an answer");
            let (status, headers) = (answer.status(), answer.headers().clone());
            let answer = Answer { status, headers, body: answer.bytes().await.unwrap().to_vec() };
            let case = format!("{path} with Accept-Encoding {shown:?}");
            assert_eq!(answer.status, 200, "{case}");
            assert!(allowed.contains(&answer.encoding()), "{case}: answered {:?}", answer.encoding());
            let decoded = answer.decoded();
            if path == "/sign-in" {
                let page = String::from_utf8(decoded).unwrap();
                assert!(self::whole(&page, SIGN_IN_LATE), "{case}: {page}");
            } else {
                assert!(decoded == whole, "{case}: not the file");
            }
            assert!(started.elapsed() < Duration::from_secs(2), "{case}: {:?}", started.elapsed());
        }
    }
    assert_eq!(get(&client, &app.url("/healthz"), None).await.status, 200, "still serving");
}

/// `target` sent as is (no client tidies it), and the answer's status and body.
fn raw_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(tcp, "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn paths_that_climb_out_of_pkg_are_refused() {
    let site = Site::hashed();
    // Behind sign-in at the site root; /pkg is open to everyone.
    site.write("secret.txt", b"TOP-SECRET");
    let app = TestApp::builder().site(&site).start().await;
    let addr = app.addr;
    let js = site.bundle().js;
    let attempts = tokio::task::spawn_blocking(move || {
        // The same client is served a real file: the refusals below are not its doing.
        let (status, answer) = raw_get(addr, &format!("/pkg/{js}"));
        assert!(status == 200 && answer.contains("export function hydrate"), "{answer}");
        [
            "/pkg/../secret.txt",
            "/pkg/%2e%2e/secret.txt",
            "/pkg/%2E%2E%2Fsecret.txt",
            "/pkg/..%2fsecret.txt",
            "/pkg/..%5csecret.txt",
            "/pkg/..\\secret.txt",
            "/pkg//../secret.txt",
            "/pkg/./../secret.txt",
            "/pkg/%252e%252e/secret.txt",
            "/pkg/%c0%ae%c0%ae/secret.txt",
            "/pkg/..;/secret.txt",
            "/pkg/%00/../secret.txt",
            "/pkg/../../../../../../../../../../etc/passwd",
            "/pkg/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/pkg/%2fetc%2fpasswd",
            "/pkg//etc/passwd",
        ]
        .map(|target| (target, raw_get(addr, target)))
    })
    .await
    .unwrap();
    for (target, (status, answer)) in attempts {
        assert!(!(200..300).contains(&status), "{target}: {status}\n{answer}");
        assert!(!answer.contains("TOP-SECRET") && !answer.contains("root:"), "{target}: {answer}");
    }
}

// ------------------------------------------------ the real binary at start-up

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `authwatch serve --demo` on `site_vars`, stopped once it answers
/// `/healthz` (`Ok`, with its sign-in page) or exited on its own (`Err`).
fn serve(site_vars: &[(String, String)], data_dir: &std::path::Path) -> Result<String, Output> {
    let port = free_port();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_authwatch"))
        .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AUTHWATCH_LOG", "warn")
        .envs(site_vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start authwatch");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return Err(child.wait_with_output().unwrap());
        }
        let addr = ([127, 0, 0, 1], port).into();
        if std::net::TcpStream::connect(addr).is_ok() && raw_get(addr, "/healthz").0 == 200 {
            let (_, page) = raw_get(addr, "/sign-in");
            child.kill().unwrap();
            child.wait().unwrap();
            return Ok(page);
        }
        assert!(Instant::now() < deadline, "authwatch neither served nor stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn set(vars: &mut Vec<(String, String)>, name: &str, value: &str) {
    vars.retain(|(k, _)| k != name);
    vars.push((name.to_owned(), value.to_owned()));
}

#[test]
fn the_server_refuses_a_site_its_pages_would_not_find_their_files_in() {
    let hashed = Site::hashed();
    let bundle = hashed.bundle();
    let plain = Site::plain();
    let wasm = plain.bundle().wasm;
    // The two names a wasm-bindgen output may have; this build asks for one.
    let other_wasm = if wasm == "authwatch.wasm" { "authwatch_bg.wasm" } else { "authwatch.wasm" };
    std::fs::rename(plain.root().join("pkg").join(&wasm), plain.root().join("pkg").join(other_wasm)).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();

    let mut unhashed_server = hashed.vars();
    set(&mut unhashed_server, "LEPTOS_HASH_FILES", "false");
    let mut no_hash_file = hashed.vars();
    let nowhere = hashed.root().join("nowhere").join("hash.txt");
    set(&mut no_hash_file, "LEPTOS_HASH_FILE", &nowhere.display().to_string());
    set(&mut no_hash_file, "LEPTOS_HASH_FILE_NAME", &nowhere.display().to_string());
    let stale = Site::hashed();
    std::fs::write(stale.hash_file(), "js: 0123456789abcdef\nwasm: 0123456789abcdef\ncss: 0123456789abcdef\n").unwrap();
    let mut nothing = vec![("LEPTOS_SITE_ROOT".to_owned(), empty.path().display().to_string())];
    set(&mut nothing, "LEPTOS_HASH_FILES", "false");

    let data_dir = |name: &str| data.path().join(name);
    let cases = [
        Refusal {
            what: "no site at all",
            vars: nothing,
            data_dir: data_dir("nothing"),
            named: vec!["/pkg/authwatch.js".into()],
        },
        Refusal {
            what: "a hashed site, a server without hashed names",
            vars: unhashed_server,
            data_dir: data_dir("unhashed"),
            named: vec!["/pkg/authwatch.js".into(), bundle.js.clone()],
        },
        Refusal {
            what: "the wasm under wasm-bindgen's other name",
            vars: plain.vars(),
            data_dir: data_dir("other-wasm"),
            named: vec![format!("/pkg/{wasm}"), other_wasm.into()],
        },
        Refusal {
            what: "hashed names without the hash file",
            vars: no_hash_file,
            data_dir: data_dir("no-hash-file"),
            named: vec![nowhere.display().to_string()],
        },
        Refusal {
            what: "a hash file from another build",
            vars: stale.vars(),
            data_dir: data_dir("stale"),
            named: vec!["/pkg/authwatch.0123456789abcdef.js".into(), stale.bundle().js.clone()],
        },
        Refusal {
            what: "the data directory inside the site root",
            vars: hashed.vars(),
            data_dir: hashed.root().join("data"),
            named: vec!["inside the site root".into(), "AUTHWATCH_DATA_DIR".into()],
        },
    ];
    for case in cases {
        let Err(out) = serve(&case.vars, &case.data_dir) else {
            panic!("{}: authwatch started", case.what);
        };
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", case.what);
        let fix = if case.what.contains("data directory") { "AUTHWATCH_DATA_DIR" } else { "scripts/build.sh" };
        for name in case.named.iter().map(String::as_str).chain([fix]) {
            assert!(err.contains(name), "{}: {name} not named in {err}", case.what);
        }
    }
}

/// A site `authwatch serve` must refuse, and what its refusal must name
/// (besides the way out).
struct Refusal {
    what: &'static str,
    vars: Vec<(String, String)>,
    data_dir: std::path::PathBuf,
    named: Vec<String>,
}

#[test]
fn the_server_starts_on_a_built_site_and_its_pages_name_its_files() {
    let site = Site::hashed();
    let data = tempfile::tempdir().unwrap();
    let page = serve(&site.vars(), data.path()).unwrap_or_else(|out| {
        panic!("refused: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let bundle = site.bundle();
    let mut wanted = [&bundle.css, &bundle.js, &bundle.wasm].map(|n| format!("/pkg/{n}")).to_vec();
    wanted.sort();
    assert_eq!(pkg_references(&page), wanted, "{page}");
}
