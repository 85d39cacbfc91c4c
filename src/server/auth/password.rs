//! Password hashing: argon2id with the crate's defaults (19 MiB, 2 passes,
//! one lane — OWASP's recommended minimum), stored as PHC strings.
//!
//! Every hash and verification goes through one [`Passwords`] per process
//! (in the app state), which bounds how many run at once: each takes tens of
//! milliseconds of a core and 19 MiB for as long as it runs, so a burst of
//! sign-ins left unbounded would take the server's memory with it. Each
//! slot keeps its 19 MiB and argon2 works in it, because allocating them
//! anew every time lets the allocator keep freed ones around (several per
//! thread, measured: 390 MB after 120 sign-ins with two at a time). They run
//! on the blocking pool, never on the async workers that serve pages.

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shortest password accepted (NIST SP 800-63B asks for at least 8; the
/// dashboard can reconnect every account, so more).
pub const MIN_LENGTH: usize = 12;

/// How long a hash or verification waits for a free slot before the answer
/// is "busy": long enough for a few people signing in at the same moment to
/// queue behind each other, short enough that a burst of guesses is turned
/// away instead of piling up.
pub const BUSY_AFTER: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must be at most 1024 characters")]
    TooLong,
    #[error("{0}")]
    Busy(#[from] Busy),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Every argon2 slot stayed taken for [`BUSY_AFTER`]: nothing was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked at this moment")]
pub struct Busy;

/// Checks the length rules.
pub fn validate(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < MIN_LENGTH => Err(PasswordError::TooShort),
        n if n > 1024 => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

/// The process's argon2: a bounded number of slots, and the hash that
/// unknown emails are verified against.
pub struct Passwords {
    slots: Arc<Semaphore>,
    /// The slots' working memory: one buffer per slot, made on first use.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    capacity: usize,
    /// A hash of a random secret nobody knows, made once here, so that a
    /// verification for an email without a user costs exactly what one for
    /// a user does — on every thread, the first time too.
    dummy: Arc<str>,
    verifications: AtomicU64,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("capacity", &self.capacity)
            .field("verifications", &self.verifications())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// One slot per core: argon2 is CPU-bound, so more at once would only
    /// make each slower and hold more memory.
    pub async fn for_this_machine() -> Result<Self, PasswordError> {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from)).await
    }

    /// At most `capacity` (at least 1) hashes and verifications at once.
    /// Makes the dummy hash now.
    pub async fn new(capacity: usize) -> Result<Self, PasswordError> {
        let capacity = capacity.max(1);
        let mut passwords = Self {
            slots: Arc::new(Semaphore::new(capacity)),
            memory: Arc::new(Mutex::new(Vec::with_capacity(capacity))),
            capacity,
            dummy: "".into(),
            verifications: AtomicU64::new(0),
        };
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        passwords.dummy = passwords.hash_bytes(secret.to_vec()).await?.into();
        Ok(passwords)
    }

    /// Hashes a password that passed [`validate`].
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        validate(&password)?;
        self.hash_bytes(password.into_bytes()).await
    }

    async fn hash_bytes(&self, secret: Vec<u8>) -> Result<String, PasswordError> {
        let mut slot = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            hash_in(&mut slot.memory, &secret).map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    /// Whether `password` matches `phc`. With `None` (no such user) it
    /// verifies against the dummy hash, so timing does not tell which emails
    /// have accounts. `Busy` when no slot freed up in time.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, Busy> {
        let mut slot = self.slot().await?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("authwatch_password_verifications_total").increment(1);
        let dummy = self.dummy.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let phc = phc.as_deref().unwrap_or(&dummy);
            verify_in(&mut slot.memory, password.as_bytes(), phc).unwrap_or_else(|e| {
                tracing::error!(error = %e, "a stored password hash cannot be checked");
                false
            })
        })
        .await;
        Ok(matched.unwrap_or(false))
    }

    /// Verifications run so far (also exported as
    /// `authwatch_password_verifications_total`).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// How many hashes and verifications may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The slots themselves, for a test or a benchmark that occupies them.
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.slots
    }

    /// A slot with its memory, moved into the blocking task so that it is
    /// given back when argon2 is done — not when the request is dropped (a
    /// client that hangs up must not free a slot whose hash still runs).
    async fn slot(&self) -> Result<Slot, Busy> {
        let permit = match tokio::time::timeout(BUSY_AFTER, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(Busy),
        };
        let memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner).pop().unwrap_or_default();
        Ok(Slot { memory, pool: self.memory.clone(), _permit: permit })
    }
}

/// A taken slot. Dropped, it puts its memory back before freeing the permit
/// (fields drop after `drop`), so a free permit always finds a buffer.
struct Slot {
    memory: Vec<Block>,
    pool: Arc<Mutex<Vec<Vec<Block>>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        self.pool.lock().unwrap_or_else(PoisonError::into_inner).push(memory);
    }
}

/// The first `blocks` of `memory`, grown if it is shorter.
fn blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    &mut memory[..blocks]
}

/// A PHC string for `secret` with a fresh salt and the default parameters,
/// computed in `memory` — what `Argon2::default().hash_password` makes.
fn hash_in(memory: &mut Vec<Block>, secret: &[u8]) -> password_hash::Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt_string = SaltString::encode_b64(&salt)?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon2.hash_password_into_with_memory(secret, &salt, out, blocks(memory, params.block_count()))?)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt_string.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (with whatever argon2
/// variant and parameters it names), computed in `memory` — what
/// `PasswordVerifier::verify_password` does, the output compared in
/// constant time.
fn verify_in(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> password_hash::Result<bool> {
    let hash = PasswordHash::new(phc)?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = hash.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&hash)?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt, out, blocks(memory, params.block_count()))?)
    })?;
    Ok(computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};
    use std::time::Instant;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new(1).await.unwrap();
        let phc = passwords.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert_eq!(passwords.verify("correct horse battery".into(), Some(phc.clone())).await, Ok(true));
        assert_eq!(passwords.verify("correct horse battery!".into(), Some(phc)).await, Ok(false));
        assert_eq!(passwords.verify("anything".into(), None).await, Ok(false));
        assert_eq!(passwords.verifications(), 3);
    }

    #[test]
    fn hashes_read_the_same_as_the_argon2_crates_own() {
        let mut memory = Vec::new();
        let ours = hash_in(&mut memory, b"correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct horse batter", &parsed).is_err());
        let salt = SaltString::encode_b64(&[3u8; 16]).unwrap();
        let theirs = Argon2::default().hash_password(b"correct horse battery", &salt).unwrap().to_string();
        assert_eq!(
            ours.split('$').take(4).collect::<Vec<_>>(),
            theirs.split('$').take(4).collect::<Vec<_>>(),
            "same variant, version, parameters"
        );
        assert_eq!(verify_in(&mut memory, b"correct horse battery", &theirs), Ok(true));
        assert_eq!(verify_in(&mut memory, b"correct horse battery!", &theirs), Ok(false));
        assert_eq!(memory.len(), Params::default().block_count(), "one buffer, reused");
        // Other parameters (a stronger hash from later): the buffer grows.
        let params = Params::new(32 * 1024, 1, 1, None).unwrap();
        let stronger =
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(b"pw", &salt).unwrap().to_string();
        assert_eq!(verify_in(&mut memory, b"pw", &stronger), Ok(true));
        assert_eq!(memory.len(), 32 * 1024);
        assert!(verify_in(&mut memory, b"pw", "$argon2id$v=19$m=19456,t=2,p=1$bm9oYXNo").is_err(), "no hash in it");
        assert!(verify_in(&mut memory, b"pw", "not a hash").is_err());
    }

    #[tokio::test]
    async fn short_passwords_are_refused_before_hashing() {
        let passwords = Passwords::new(1).await.unwrap();
        assert!(matches!(passwords.hash("short".into()).await, Err(PasswordError::TooShort)));
    }

    #[tokio::test]
    async fn with_every_slot_taken_nothing_is_computed() {
        let passwords = Passwords::new(2).await.unwrap();
        let held = passwords.permits().clone().acquire_many_owned(2).await.unwrap();
        let started = Instant::now();
        assert_eq!(passwords.verify("anything".into(), None).await, Err(Busy));
        assert!(started.elapsed() >= BUSY_AFTER, "it waited for a slot first");
        assert!(matches!(passwords.hash("correct horse battery".into()).await, Err(PasswordError::Busy(Busy))));
        assert_eq!(passwords.verifications(), 0);
        drop(held);
        assert_eq!(passwords.verify("anything".into(), None).await, Ok(false));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slot_is_held_until_argon2_is_done_even_when_the_caller_gives_up() {
        let passwords = Arc::new(Passwords::new(1).await.unwrap());
        // A hash ten times as costly as ours, so that it surely still runs
        // when the request is dropped.
        let slow = tokio::task::spawn_blocking(|| {
            let params = argon2::Params::new(19 * 1024, 20, 1, None).unwrap();
            let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
            Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password(b"secret", &salt)
                .unwrap()
                .to_string()
        })
        .await
        .unwrap();
        let p = passwords.clone();
        let dropped = tokio::spawn(async move { p.verify("anything".into(), Some(slow)).await });
        while passwords.permits().available_permits() == 1 {
            tokio::task::yield_now().await;
        }
        dropped.abort();
        assert!(dropped.await.unwrap_err().is_cancelled(), "the request was dropped mid-hash");
        assert_eq!(passwords.permits().available_permits(), 0, "the hash still runs, so its slot is still taken");
        let started = Instant::now();
        while passwords.permits().available_permits() == 0 {
            assert!(started.elapsed() < Duration::from_secs(30), "the slot comes back when the hash is done");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A verification for an unknown email costs one verification, also on
    /// a thread that never verified before: the dummy hash is not made then.
    /// Each fresh runtime brings a fresh blocking pool, so fresh threads.
    #[test]
    fn an_unknown_email_costs_what_a_known_one_does_on_a_fresh_thread() {
        let (passwords, known) = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let passwords = Passwords::new(1).await.unwrap();
            let known = passwords.hash("correct horse battery".into()).await.unwrap();
            (passwords, known)
        });
        let (mut unknown_t, mut known_t) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let t = Instant::now();
            assert_eq!(runtime.block_on(passwords.verify("a guess".into(), None)), Ok(false));
            unknown_t.push(t.elapsed());
            let t = Instant::now();
            assert_eq!(runtime.block_on(passwords.verify("a guess".into(), Some(known.clone()))), Ok(false));
            known_t.push(t.elapsed());
        }
        let (unknown, known) = (unknown_t.iter().min().unwrap(), known_t.iter().min().unwrap());
        assert!(unknown.as_secs_f64() < 1.5 * known.as_secs_f64(), "unknown email {unknown:?}, known {known:?}");
    }
}
