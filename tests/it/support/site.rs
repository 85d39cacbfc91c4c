//! Built sites for servers to serve, in the layout the build writes:
//! `pkg/` with the script, wasm and stylesheet (hashed names, each with its
//! `.br` and `.gz` beside it), `hash.txt`, and the favicon.

use authwatch::server::assets::Bundle;
use leptos::config::LeptosOptions;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A site in a temporary directory, removed when dropped.
pub struct Site {
    dir: TempDir,
    hashed: bool,
}

/// Contents with repetition in them, as real bundles have, so that their
/// compressed variants are clearly smaller; the stylesheet is the real one.
fn contents(kind: &str) -> Vec<u8> {
    match kind {
        "js" => "export function hydrate() { return document.querySelector('.app'); }\n".repeat(64).into_bytes(),
        "css" => include_bytes!("../../../style/main.css").to_vec(),
        _ => [b"\0asm\x01\0\0\0".as_slice(), &[0u8; 4096]].concat(),
    }
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes).expect("brotli");
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut writer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    writer.write_all(bytes).expect("gzip");
    writer.finish().expect("gzip")
}

impl Site {
    /// The release layout: content-hashed names and the hash file.
    pub fn hashed() -> Self {
        let site = Self { dir: tempfile::tempdir().expect("temp dir"), hashed: true };
        let mut hashes = String::new();
        for kind in ["js", "wasm", "css"] {
            let bytes = contents(kind);
            let hash = &hex::encode(Sha256::digest(&bytes))[..16];
            hashes.push_str(&format!("{kind}: {hash}\n"));
            site.write_with_variants(&format!("authwatch.{hash}.{kind}"), &bytes);
        }
        std::fs::write(site.hash_file(), hashes).expect("hash file");
        site.write("favicon.ico", b"\0\0\x01\0icon");
        site
    }

    /// Without hashed names, as this build's server asks for them then.
    pub fn plain() -> Self {
        let site = Self { dir: tempfile::tempdir().expect("temp dir"), hashed: false };
        let bundle = Bundle::for_options(&site.options()).expect("unhashed names");
        for (name, kind) in [(&bundle.js, "js"), (&bundle.wasm, "wasm"), (&bundle.css, "css")] {
            site.write_with_variants(name, &contents(kind));
        }
        site.write("favicon.ico", b"\0\0\x01\0icon");
        site
    }

    /// The site root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The hash file, which servers are pointed at by its absolute path.
    pub fn hash_file(&self) -> PathBuf {
        self.root().join("hash.txt")
    }

    /// The names the pages ask for.
    pub fn bundle(&self) -> Bundle {
        Bundle::for_options(&self.options()).expect("the site's names")
    }

    /// Writes `bytes` at `path` under the site root.
    pub fn write(&self, path: &str, bytes: &[u8]) {
        let file = self.root().join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("directory");
        std::fs::write(file, bytes).expect("write");
    }

    /// The bytes of the file at `path` under the site root.
    pub fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn write_with_variants(&self, name: &str, bytes: &[u8]) {
        self.write(&format!("pkg/{name}"), bytes);
        self.write(&format!("pkg/{name}.br"), &brotli(bytes));
        self.write(&format!("pkg/{name}.gz"), &gzip(bytes));
    }

    /// `options` pointed at this site (and its hash file).
    pub fn apply(&self, options: &mut LeptosOptions) {
        options.site_root = self.root().display().to_string().into();
        options.site_pkg_dir = "pkg".into();
        options.hash_files = self.hashed;
        options.hash_file = self.hash_file().display().to_string().into();
    }

    fn options(&self) -> LeptosOptions {
        let mut options = LeptosOptions::builder().output_name("authwatch").build();
        self.apply(&mut options);
        options
    }

    /// The same, as the variables of a server process.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("LEPTOS_SITE_ROOT".into(), self.root().display().to_string()),
            ("LEPTOS_SITE_PKG_DIR".into(), "pkg".into()),
            ("LEPTOS_HASH_FILES".into(), self.hashed.to_string()),
            // The hash file's setting is read from LEPTOS_HASH_FILE beside a
            // Leptos.toml, from LEPTOS_HASH_FILE_NAME without one.
            ("LEPTOS_HASH_FILE".into(), self.hash_file().display().to_string()),
            ("LEPTOS_HASH_FILE_NAME".into(), self.hash_file().display().to_string()),
        ]
    }
}
