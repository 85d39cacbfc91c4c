//! Serving on one kept-alive connection, as a browser loads a page and then
//! its assets: the sign-in page (streamed in several writes) as is and
//! compressed, the stylesheet and the wasm as brotli, and `/healthz`, each
//! asked for again and again on the same connection, from the real
//! `authwatch` binary in its own process (demo mode).
//!
//! The site is `target/site` when it is built in the build's layout (hashed
//! names, `hash.txt`); otherwise a small one in that layout, built for the
//! run (the first line says which).
//!
//! Without `TCP_NODELAY` on the server's sockets, an answer written in more
//! than one piece waits for the client's delayed ACK, about 40 ms, on every
//! request for some of them. The run fails when an answer's 90th percentile
//! reaches 20 ms. Measured on a debug build without `TCP_NODELAY`: p50
//! 2–7 ms, but p90 44–48 ms; with it, p90 1.2–5.5 ms. Which encoding and
//! caching each answer gets is the serving tests' business (`tests/it/serving.rs`).
//!
//! `cargo bench --features ssr --bench serving` (release binary, 500 requests
//! per path); `cargo test --features ssr --bench serving` is the smoke run
//! (debug binary, 50). Knob: `BENCH_REQUESTS`.

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use authwatch::server::assets::Bundle;
use leptos::config::LeptosOptions;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::bench::{cpu_model, env_usize, percentile_ms, smoke};
use support::process::{self, ServerProcess};
use support::site::Site;

const WARM_UP: usize = 5;
/// Below a delayed ACK's 40 ms with room for a busy machine; a debug build
/// answers these in a few milliseconds.
const GOAL_P90_MS: f64 = 20.0;

fn main() -> ExitCode {
    tokio::runtime::Runtime::new().expect("runtime").block_on(run())
}

async fn run() -> ExitCode {
    let requests = env_usize("BENCH_REQUESTS", if smoke() { 50 } else { 500 });
    let data = tempfile::tempdir().expect("temp dir");
    let mut vars = vec![
        ("AUTHWATCH_DEMO".to_owned(), "1".to_owned()),
        ("AUTHWATCH_DATA_DIR".to_owned(), data.path().display().to_string()),
        ("AUTHWATCH_LOG".to_owned(), "warn".to_owned()),
    ];
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site");
    let (bundle, _fixture, origin) = if built.join("hash.txt").is_file() {
        let hash_file = built.join("hash.txt").display().to_string();
        let mut options = LeptosOptions::builder().output_name("authwatch").build();
        options.site_root = built.display().to_string().into();
        options.hash_files = true;
        options.hash_file = hash_file.clone().into();
        vars.extend([
            ("LEPTOS_SITE_ROOT".to_owned(), built.display().to_string()),
            ("LEPTOS_HASH_FILES".to_owned(), "true".to_owned()),
            ("LEPTOS_HASH_FILE".to_owned(), hash_file.clone()),
            ("LEPTOS_HASH_FILE_NAME".to_owned(), hash_file),
        ]);
        (Bundle::for_options(&options).expect("target/site/hash.txt"), None, "target/site")
    } else {
        let site = Site::hashed();
        vars.extend(site.vars());
        (site.bundle(), Some(site), "a small site built for the run (target/site has no hash.txt)")
    };
    let server = ServerProcess::start(&process::binary(), &vars, data.path().join("server.log"));
    // One connection at most, kept alive between the requests.
    let client = reqwest::Client::builder().http1_only().pool_max_idle_per_host(1).build().expect("client");
    server.wait_healthy(&client).await;

    println!("authwatch serving benchmark: one kept-alive connection; {requests} requests per path; {}", cpu_model());
    println!("site: {origin}");
    println!("path                                  encoding  status    bytes   p50 ms   p90 ms   p99 ms   max ms");
    let mut failed = false;
    let (css, wasm) = (format!("/pkg/{}", bundle.css), format!("/pkg/{}", bundle.wasm));
    let paths =
        [("/sign-in", None), ("/sign-in", Some("br")), (&*css, Some("br")), (&*wasm, Some("br")), ("/healthz", None)];
    for (path, accept) in paths {
        let url = format!("{}{path}", server.base());
        let mut samples: Vec<Duration> = Vec::with_capacity(requests);
        let (mut status, mut bytes, mut encoding) = (0, 0, String::new());
        for i in 0..WARM_UP + requests {
            let started = Instant::now();
            let mut request = client.get(&url);
            if let Some(accept) = accept {
                request = request.header(reqwest::header::ACCEPT_ENCODING, accept);
            }
            let answer = request.send().await.expect("an answer");
            status = answer.status().as_u16();
            encoding = answer
                .headers()
                .get(reqwest::header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            bytes = answer.bytes().await.expect("a body").len();
            if i >= WARM_UP {
                samples.push(started.elapsed());
            }
        }
        let p50 = percentile_ms(&samples, 0.50);
        let p90 = percentile_ms(&samples, 0.90);
        println!(
            "{path:<37} {encoding:>9} {status:>7} {bytes:>8} {p50:>8.2} {p90:>8.2} {:>8.2} {:>8.2}",
            percentile_ms(&samples, 0.99),
            percentile_ms(&samples, 1.0)
        );
        if status != 200 {
            println!("  {path}: answered {status}");
            failed = true;
        }
        if path != "/healthz" && p90 >= GOAL_P90_MS {
            println!("  {path}: p90 {p90:.1} ms on a kept-alive connection (goal < {GOAL_P90_MS} ms): answers wait for the client's ACK");
            failed = true;
        }
    }
    if failed {
        println!("{}", server.log_text());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
