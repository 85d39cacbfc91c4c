//! The site's files and how they travel: the browser bundle the pages ask
//! for (checked at start-up, [`check_site`]), `/pkg` served from files
//! compressed at build time with a year's caching for hashed names
//! ([`pkg_service`]), the site root's other files (the favicon) with a short
//! one ([`site_file_headers`]), and everything else compressed as it is
//! answered ([`compression`]).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::middleware::Next;
use leptos::config::LeptosOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

/// The command that builds the site; named by every refusal.
const BUILD_COMMAND: &str = "scripts/build.sh";

/// A hashed file's name changes with its content: it can be kept forever.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// A `/pkg` file without a content hash (a build without hashed names, as in
/// development): asked again every time, answered 304 while it is unchanged.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
/// The site root's other files (the favicon): rarely changed, named the same
/// across builds, so kept an hour and then revalidated.
const SHORT: HeaderValue = HeaderValue::from_static("public, max-age=3600");

/// Answers of fewer bytes than this go out as they are: compressing them
/// saves no packet (one TCP segment holds about 1,400 bytes) and costs CPU.
/// tower-http only knows a size when the body's length is; a streamed page
/// has none and is always compressed.
pub const COMPRESS_ABOVE: u16 = 1024;

/// Why the site cannot be served as the pages will ask for it. Each says
/// which file is missing and how to build it.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(
        "hashed file names are on (LEPTOS_HASH_FILES), but there is no hash file at {}, where the pages \
         look up the bundle's names (next to the server binary, unless `hash-file` is an absolute path): \
         build the site and the server with `{BUILD_COMMAND}`",
        path.display()
    )]
    NoHashFile { path: PathBuf },
    #[error("hash file {}: {source}", path.display())]
    HashFile { path: PathBuf, source: std::io::Error },
    #[error(
        "the pages ask for {url}, but {} is not there{found}: build the site with `{BUILD_COMMAND}` \
         (or point LEPTOS_SITE_ROOT at a built site, and the server at the hash file built with it)",
        file.display()
    )]
    Missing { url: String, file: PathBuf, found: String },
    #[error(
        "the data directory {} is inside the site root {}, whose files are served: the database and the \
         encryption key would be downloadable. Move the data directory (AUTHWATCH_DATA_DIR) out of it.",
        data.display(),
        site.display()
    )]
    DataInSite { data: PathBuf, site: PathBuf },
}

/// The bundle's files, named as the pages will ask for them: leptos's
/// `HydrationScripts` (script and wasm) and leptos_meta's `HashedStylesheet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The file names in the site's pkg directory.
    pub js: String,
    pub wasm: String,
    pub css: String,
    /// Whether the names carry content hashes, from the hash file.
    pub hashed: bool,
}

impl Bundle {
    /// The names leptos composes from these options. With hashed names on,
    /// it reads the hash file (lines `js: <hash>`, `wasm: <hash>`,
    /// `css: <hash>`) next to the running binary — where a missing one makes
    /// it fall back to names no hashed build writes, hence the error here.
    /// Without them, the wasm is `<name>_bg.wasm` unless `LEPTOS_OUTPUT_NAME`
    /// was set when leptos was compiled (as cargo-leptos and the build
    /// script do), which this crate, compiled in the same build, sees alike.
    pub fn for_options(options: &LeptosOptions) -> Result<Self, SiteError> {
        let name = &*options.output_name;
        if !options.hash_files {
            let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() { name.to_owned() } else { format!("{name}_bg") };
            return Ok(Self {
                js: format!("{name}.js"),
                wasm: format!("{wasm}.wasm"),
                css: format!("{name}.css"),
                hashed: false,
            });
        }
        let path = hash_file(options);
        if !path.exists() {
            return Err(SiteError::NoHashFile { path });
        }
        let hashes = std::fs::read_to_string(&path).map_err(|source| SiteError::HashFile { path, source })?;
        // As leptos does: every `<kind>: <hash>` line adds `.<hash>` to the name.
        let named = |kind: &str| {
            let hashed: String = hashes
                .lines()
                .filter_map(|line| line.trim().split_once(':'))
                .filter(|(file, _)| *file == kind)
                .map(|(_, hash)| format!(".{}", hash.trim()))
                .collect();
            format!("{name}{hashed}.{kind}")
        };
        Ok(Self { js: named("js"), wasm: named("wasm"), css: named("css"), hashed: true })
    }

    fn files(&self) -> [&str; 3] {
        [&self.js, &self.wasm, &self.css]
    }
}

/// Where leptos reads the hash file: the running binary's directory joined
/// with `hash_file` (which an absolute path replaces).
fn hash_file(options: &LeptosOptions) -> PathBuf {
    std::env::current_exe()
        .map(|path| path.parent().map(Path::to_path_buf).unwrap_or_default())
        .unwrap_or_default()
        .join(&*options.hash_file)
}

fn pkg_dir(options: &LeptosOptions) -> PathBuf {
    Path::new(&*options.site_root).join(&*options.site_pkg_dir)
}

/// Start-up's check that every page will find its script, wasm and
/// stylesheet: a server whose names disagree with the bundle's serves pages
/// that never come alive, and says nothing. Also refuses a data directory
/// inside the site root, whose files anyone signed in may fetch.
pub fn check_site(options: &LeptosOptions, data_dir: &Path) -> Result<Bundle, SiteError> {
    let bundle = Bundle::for_options(options)?;
    let pkg = pkg_dir(options);
    for name in bundle.files() {
        let file = pkg.join(name);
        if !file.is_file() {
            let url = format!("/{}/{name}", options.site_pkg_dir);
            return Err(SiteError::Missing { url, found: found_instead(&pkg, name), file });
        }
        for compressed in ["br", "gz"] {
            let variant = pkg.join(format!("{name}.{compressed}"));
            if !variant.is_file() {
                tracing::warn!(file = %variant.display(), "no precompressed file: served uncompressed to browsers that would take it");
            }
        }
    }
    let (site, data) = (Path::new(&*options.site_root), data_dir);
    if let (Ok(site), Ok(data)) = (site.canonicalize(), data.canonicalize()) {
        if data.starts_with(&site) {
            return Err(SiteError::DataInSite { data, site });
        }
    }
    Ok(bundle)
}

/// What the pkg directory holds of the same kind as `name`, for the refusal
/// to show which build the site came from.
fn found_instead(pkg: &Path, name: &str) -> String {
    let kind = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or_default();
    let mut found: Vec<String> = std::fs::read_dir(pkg)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|file| Path::new(file).extension().and_then(|e| e.to_str()) == Some(kind))
        .collect();
    found.sort();
    match found.as_slice() {
        [] => String::new(),
        files => format!(" ({} holds {} instead)", pkg.display(), files.join(", ")),
    }
}

/// `/pkg`: the file compressed at build time (`.br`, `.gz`) when the browser
/// takes it, else the file itself; hashed names cached for a year, others
/// revalidated. A missing file is a bare 404, never cached. Outside the
/// compression layer (nothing here is compressed twice) and the session
/// layer (an asset needs no session).
pub fn pkg_service(options: &LeptosOptions) -> axum::Router {
    let hashed: Arc<[String]> = match Bundle::for_options(options) {
        Ok(bundle) if bundle.hashed => bundle.files().map(str::to_owned).into(),
        _ => Arc::new([]),
    };
    let files = ServeDir::new(pkg_dir(options)).precompressed_br().precompressed_gzip();
    axum::Router::new().fallback_service(files).layer(axum::middleware::from_fn_with_state(hashed, pkg_headers))
}

async fn pkg_headers(State(hashed): State<Arc<[String]>>, request: Request, next: Next) -> axum::response::Response {
    let immutable = request.uri().path().strip_prefix('/').is_some_and(|name| hashed.iter().any(|h| h == name));
    let mut response = next.run(request).await;
    file_headers(&mut response, if immutable { IMMUTABLE } else { REVALIDATE });
    response
}

/// On the site root's files (the favicon): a short cache. The same fallback
/// renders the not-found page, whose answers are not files and keep none.
pub async fn site_file_headers(request: Request, next: Next) -> axum::response::Response {
    let mut response = next.run(request).await;
    file_headers(&mut response, SHORT);
    response
}

/// A file's caching, and `Vary: Accept-Encoding`: the same URL answers a
/// precompressed variant to some browsers and the file to others, which a
/// shared cache must keep apart.
fn file_headers<B>(response: &mut Response<B>, cache: HeaderValue) {
    let status = response.status();
    if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
        return;
    }
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, cache);
    let varies = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| v.split(',').any(|name| name.trim().eq_ignore_ascii_case("accept-encoding")))
    });
    if !varies {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// Pages, server functions and API answers compressed as they are
/// answered, brotli or gzip as the browser prefers. Level 4: brotli's
/// default (11) is made for files compressed once, and costs tens of
/// milliseconds on a page; 4 keeps most of the gain at a fraction of it.
/// Never tiny answers ([`COMPRESS_ABOVE`]), images, gRPC or server-sent
/// events (each event must leave when it is written). A streamed page still
/// streams: the encoder flushes whenever the page waits for its data.
pub fn compression() -> CompressionLayer<impl Predicate> {
    let when = SizeAbove::new(COMPRESS_ABOVE)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    CompressionLayer::new().br(true).gzip(true).quality(CompressionLevel::Precise(4)).compress_when(when)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(site: &Path, hash_files: bool, hash_file: &Path) -> LeptosOptions {
        let mut options = LeptosOptions::builder().output_name("authwatch").build();
        options.site_root = site.display().to_string().into();
        options.hash_files = hash_files;
        options.hash_file = hash_file.display().to_string().into();
        options
    }

    #[test]
    fn hashed_names_come_from_the_hash_file_as_leptos_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let hashes = dir.path().join("hash.txt");
        std::fs::write(&hashes, "js: 1a2b\nwasm: 3c4d\n  css:5e6f  \n\n").unwrap();
        let bundle = Bundle::for_options(&options(dir.path(), true, &hashes)).unwrap();
        assert_eq!(
            bundle,
            Bundle {
                js: "authwatch.1a2b.js".into(),
                wasm: "authwatch.3c4d.wasm".into(),
                css: "authwatch.5e6f.css".into(),
                hashed: true
            }
        );
        let missing = dir.path().join("nowhere.txt");
        let err = Bundle::for_options(&options(dir.path(), true, &missing)).unwrap_err().to_string();
        assert!(err.contains(&missing.display().to_string()) && err.contains(BUILD_COMMAND), "{err}");
    }

    #[test]
    fn unhashed_names_follow_the_output_name_this_build_was_compiled_with() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = Bundle::for_options(&options(dir.path(), false, Path::new("hash.txt"))).unwrap();
        let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() { "authwatch.wasm" } else { "authwatch_bg.wasm" };
        assert_eq!(
            (bundle.js.as_str(), bundle.wasm.as_str(), bundle.css.as_str()),
            ("authwatch.js", wasm, "authwatch.css")
        );
        assert!(!bundle.hashed);
    }
}
