//! Tokens at rest: AES-256-GCM (the `aes-gcm` crate, RustCrypto's audited
//! implementation) with a random 96-bit nonce per seal.
//!
//! Each ciphertext is stored with the id of the key that sealed it, so a key
//! can rotate: the new key seals, the previous ones (configured as previous
//! keys) still open what they sealed. Each seal is bound to where it is stored
//! (account and field) as associated data, so a ciphertext copied into another
//! row or field fails to open instead of handing out the wrong token.

use crate::server::secret::{fingerprint, Secret};
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fs;
use std::io::Write;
use std::path::Path;

const NONCE_LEN: usize = 12;
/// File the generated key is kept in, inside the data directory.
pub const KEY_FILE: &str = "encryption.key";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{var}: not base64 of a 32-byte key")]
    BadKey { var: &'static str },
    #[error("encryption key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    /// The key file can be read by other users of the machine.
    #[error(
        "encryption key file {path} can be read by other users (mode {mode:o}); make it private with `chmod 600 {path}` and start again. \
         Anyone who could read it could open the stored tokens: consider rotating the key (see AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS and `authwatch keys reseal`)."
    )]
    KeyFileReadable { path: String, mode: u32 },
    #[error("no encryption key: {path} does not exist and AUTHWATCH_ENCRYPTION_KEY is not set. Point --data-dir (or AUTHWATCH_DATA_DIR) at the server's data directory, or set the key.")]
    NoKey { path: String },
    #[error("no configured key has id {0}: was a previous key dropped from AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS?")]
    UnknownKey(String),
    /// Tampered, truncated, or bound to another row or field.
    #[error("a stored token could not be decrypted (tampered, or stored under another account)")]
    Undecryptable,
}

struct KeyEntry {
    id: String,
    cipher: Aes256Gcm,
}

/// The current key and any previous ones.
pub struct Keyring {
    current: KeyEntry,
    previous: Vec<KeyEntry>,
}

/// A sealed value as stored: the key id and base64(nonce || ciphertext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: String,
}

impl Keyring {
    /// The configured key, or the one generated into `data_dir` on first run
    /// (written with mode 0600), plus the previous keys.
    pub fn load(configured: Option<&Secret>, previous: &[Secret], data_dir: &Path) -> Result<Self, CryptoError> {
        Self::load_with(configured, previous, data_dir, true)
    }

    /// Like [`Keyring::load`], but never generates a key: for commands that
    /// work on existing data, where a new key could open nothing.
    pub fn load_existing(
        configured: Option<&Secret>,
        previous: &[Secret],
        data_dir: &Path,
    ) -> Result<Self, CryptoError> {
        Self::load_with(configured, previous, data_dir, false)
    }

    fn load_with(
        configured: Option<&Secret>,
        previous: &[Secret],
        data_dir: &Path,
        generate: bool,
    ) -> Result<Self, CryptoError> {
        let current = match configured {
            Some(key) => entry(key.expose(), "AUTHWATCH_ENCRYPTION_KEY")?,
            None => entry(&load_or_generate(&data_dir.join(KEY_FILE), generate)?, "the generated key file")?,
        };
        let previous = previous
            .iter()
            .map(|k| entry(k.expose(), "AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS"))
            .collect::<Result<_, _>>()?;
        Ok(Self { current, previous })
    }

    /// A keyring with a fresh random key, for tests and benchmarks.
    pub fn ephemeral() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        Self { current: KeyEntry { id: fingerprint(&key), cipher: Aes256Gcm::new(&key) }, previous: Vec::new() }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// The ids of the previous keys, in the order configured.
    pub fn previous_key_ids(&self) -> impl Iterator<Item = &str> {
        self.previous.iter().map(|k| k.id.as_str())
    }

    /// Whether a value sealed with `key_id` can be opened.
    pub fn has_key(&self, key_id: &str) -> bool {
        self.current.id == key_id || self.previous.iter().any(|k| k.id == key_id)
    }

    /// Opens `sealed` and seals it again with the current key, under the same
    /// `context`: what a key rotation does to every stored value.
    pub fn reseal(&self, sealed: &Sealed, context: &str) -> Result<Sealed, CryptoError> {
        Ok(self.seal(&self.open(sealed, context)?, context))
    }

    /// Seals `plaintext` with the current key, bound to `context`
    /// (e.g. `"acc_123/access"`).
    pub fn seal(&self, plaintext: &Secret, context: &str) -> Sealed {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload { msg: plaintext.expose().as_bytes(), aad: context.as_bytes() };
        // Encryption with a valid key and a 12-byte nonce only fails for
        // inputs beyond 64 GiB, far past any token.
        let ct = self.current.cipher.encrypt(&nonce, payload).expect("AES-GCM seal of a token");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ct);
        Sealed { key_id: self.current.id.clone(), ciphertext: STANDARD.encode(bytes) }
    }

    /// Opens what [`Keyring::seal`] sealed under the same `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Secret, CryptoError> {
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = STANDARD.decode(&sealed.ciphertext).map_err(|_| CryptoError::Undecryptable)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| CryptoError::Undecryptable)
    }
}

fn entry(base64_key: &str, var: &'static str) -> Result<KeyEntry, CryptoError> {
    let bytes = STANDARD.decode(base64_key.trim()).map_err(|_| CryptoError::BadKey { var })?;
    if bytes.len() != 32 {
        return Err(CryptoError::BadKey { var });
    }
    let key = Key::<Aes256Gcm>::from_slice(&bytes);
    Ok(KeyEntry { id: fingerprint(key), cipher: Aes256Gcm::new(key) })
}

/// Reads the key file, creating it (0600, never world-readable even for a
/// moment) with a random key when it does not exist and `generate` allows.
/// An existing file that group or others can read is refused rather than
/// used: it is the one secret that opens every stored token.
fn load_or_generate(path: &Path, generate: bool) -> Result<String, CryptoError> {
    let io = |source| CryptoError::KeyFile { path: path.display().to_string(), source };
    match fs::File::open(path) {
        Ok(mut file) => {
            // The mode of the file as opened, not of whatever the path names a moment later.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(CryptoError::KeyFileReadable { path: path.display().to_string(), mode });
                }
            }
            let mut existing = String::new();
            std::io::Read::read_to_string(&mut file, &mut existing).map_err(io)?;
            return Ok(existing);
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) if !generate => return Err(CryptoError::NoKey { path: path.display().to_string() }),
        Err(_) => {}
    }
    let key = STANDARD.encode(Aes256Gcm::generate_key(OsRng));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(key.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    tracing::info!(path = %path.display(), "generated a new encryption key for tokens at rest");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let ring = Keyring::ephemeral();
        let token = Secret::new("secret-access-token-value");
        let sealed = ring.seal(&token, "acc_1/access");
        assert!(!sealed.ciphertext.contains("secret-access"));
        assert_eq!(ring.open(&sealed, "acc_1/access").unwrap(), token);
        // Random nonces: the same token never seals to the same text twice.
        assert_ne!(ring.seal(&token, "acc_1/access").ciphertext, sealed.ciphertext);
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_or_field_does_not_open() {
        let ring = Keyring::ephemeral();
        let sealed = ring.seal(&Secret::new("t"), "acc_1/access");
        assert!(matches!(ring.open(&sealed, "acc_2/access"), Err(CryptoError::Undecryptable)));
        assert!(matches!(ring.open(&sealed, "acc_1/refresh"), Err(CryptoError::Undecryptable)));
    }

    #[test]
    fn previous_keys_still_open_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let old = STANDARD.encode([7u8; 32]);
        let new = STANDARD.encode([9u8; 32]);
        let before = Keyring::load(Some(&Secret::new(old.clone())), &[], dir.path()).unwrap();
        let sealed = before.seal(&Secret::new("tok"), "a/access");
        let after = Keyring::load(Some(&Secret::new(new)), &[Secret::new(old)], dir.path()).unwrap();
        assert_ne!(after.current_key_id(), sealed.key_id);
        assert_eq!(after.open(&sealed, "a/access").unwrap().expose(), "tok");
        let without_old = Keyring::load(None, &[], dir.path()).unwrap();
        assert!(matches!(without_old.open(&sealed, "a/access"), Err(CryptoError::UnknownKey(_))));
    }

    #[test]
    fn the_generated_key_file_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = Keyring::load(None, &[], dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keyring::load(None, &[], dir.path()).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
    }

    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::load(None, &[], dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        for mode in [0o644, 0o640, 0o604] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = Keyring::load(None, &[], dir.path()).err().expect("refused").to_string();
            assert!(err.contains(&format!("chmod 600 {}", path.display())), "{err}");
            assert!(err.contains(&format!("mode {mode:o}")), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(
            Keyring::load(None, &[], dir.path()).unwrap().current_key_id(),
            first.current_key_id(),
            "owner-only is fine"
        );
    }

    #[test]
    fn load_existing_never_generates_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = Keyring::load_existing(None, &[], dir.path()).err().expect("no key").to_string();
        assert!(err.contains("AUTHWATCH_ENCRYPTION_KEY"), "{err}");
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn reseal_moves_a_value_to_the_current_key_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let old = STANDARD.encode([7u8; 32]);
        let new = STANDARD.encode([9u8; 32]);
        let before = Keyring::load(Some(&Secret::new(old.clone())), &[], dir.path()).unwrap();
        let sealed = before.seal(&Secret::new("tok"), "a/access");
        let rotated = Keyring::load(Some(&Secret::new(new.clone())), &[Secret::new(old)], dir.path()).unwrap();
        assert!(rotated.has_key(&sealed.key_id) && !rotated.has_key("nope"));
        let resealed = rotated.reseal(&sealed, "a/access").unwrap();
        assert_eq!(resealed.key_id, rotated.current_key_id());
        let only_new = Keyring::load(Some(&Secret::new(new)), &[], dir.path()).unwrap();
        assert_eq!(only_new.open(&resealed, "a/access").unwrap().expose(), "tok");
        assert!(
            matches!(rotated.reseal(&sealed, "b/access"), Err(CryptoError::Undecryptable)),
            "still bound to its place"
        );
    }

    #[test]
    fn a_malformed_key_names_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let err = Keyring::load(Some(&Secret::new("too-short")), &[], dir.path()).err().unwrap();
        assert!(err.to_string().starts_with("AUTHWATCH_ENCRYPTION_KEY"));
    }
}
