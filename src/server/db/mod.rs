//! The database: connecting, migrating, and one repository module per table.
//! SQL lives only here; callers pass a pool or a transaction.

use crate::domain::health::Cause;
use crate::domain::spelling::UnknownSpelling;
use crate::domain::timeline::{EventKind, Outcome};
use sqlx::any::{AnyPoolOptions, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Executor as _, Transaction};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The database: SQLite or PostgreSQL, behind one pool type. Repository
/// functions are written once against it; where the two engines differ, the
/// SQL asks [`Backend::of`] and says why.
pub type Pool = AnyPool;

/// An executor for [`Pool`]'s database: the pool, a connection, or a
/// transaction.
pub use sqlx::any::AnyExecutor as Executor;

/// A transaction on [`Pool`]'s database.
pub type Tx<'c> = Transaction<'c, Any>;

/// Which engine a URL or pool speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine of an sqlx URL: `sqlite:` or `postgres:`/`postgresql:`.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The engine `pool` is connected to.
    pub fn of(pool: &Pool) -> Backend {
        match pool.connect_options().database_url.scheme() {
            "sqlite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }

    /// The engine of a connection or transaction's connection.
    pub fn of_connection(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Mode of the data directory: the database and the key in it are for the
/// server's own user alone.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the database file and its `-wal` and `-shm` companions: they hold
/// session ids and sealed tokens.
pub const FILE_MODE: u32 = 0o600;

/// Creates the data directory (and missing parents) with mode 0700, and
/// tightens an existing one to 0700.
pub fn prepare_data_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)?;
    restrict(path, DIR_MODE)
}

/// Sets `path`'s permission bits to `mode` if it allows more, saying so.
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let was = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if was & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            tracing::warn!(path = %path.display(), was = format!("{was:o}"), now = format!("{mode:o}"), "tightened permissions");
        }
    }
    Ok(())
}

/// Makes the database file private before SQLite opens it: SQLite gives the
/// `-wal` and `-shm` files it creates the mode of the database file, so a
/// database created 0600 keeps all three 0600. Existing files with looser
/// modes (created by an older version) are tightened rather than refused:
/// nothing about them needs a person to decide.
fn private_database_files(options: &SqliteConnectOptions, url: &str) -> std::io::Result<()> {
    let file = options.get_filename();
    if url.contains(":memory:") || url.contains("mode=memory") || file.as_os_str().is_empty() {
        return Ok(());
    }
    let mut create = std::fs::OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, FILE_MODE);
    match create.open(file) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", file.display()));
        match restrict(&path, FILE_MODE) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// The migrations of each engine. Both directories hold the same versions,
/// each file the other's counterpart, so a version number means one schema.
pub fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// How many connections each process keeps to the database, at most.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// Opens the database at `url` — SQLite (created if missing, mode 0600) or
/// PostgreSQL — and applies every pending migration. The migrator holds the
/// database's lock while it works (an advisory lock on PostgreSQL, the
/// write lock on SQLite), so replicas starting together migrate once.
pub async fn open(url: &str) -> Result<Pool, sqlx::Error> {
    open_with(url, DEFAULT_POOL_SIZE).await
}

/// [`open`], with at most `max_connections` connections.
pub async fn open_with(url: &str, max_connections: u32) -> Result<Pool, sqlx::Error> {
    let pool = connect(url, max_connections).await?;
    migrator(Backend::of(&pool)).run(&pool).await?;
    Ok(pool)
}

/// Connects without migrating: for commands that must not change a
/// database they only read, and for checking what is applied.
pub async fn connect(url: &str, max_connections: u32) -> Result<Pool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).ok_or_else(|| {
        sqlx::Error::Configuration(format!("{url:?} is neither a sqlite: nor a postgres:// URL").into())
    })?;
    let url = match backend {
        Backend::Sqlite => sqlite_url(url)?,
        Backend::Postgres => url.to_owned(),
    };
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // SQLite's settings are per connection. WAL lets the
                    // dashboard read while the engine writes; the busy
                    // timeout makes two processes on one file (several
                    // engines) wait for each other's short write
                    // transactions instead of failing at once.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
}

/// The SQLite URL the pool connects with: the file made private first (see
/// [`private_database_files`]), and `mode=rwc` so that SQLite creates it.
fn sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?;
    private_database_files(&options, url).map_err(|e| {
        sqlx::Error::Configuration(
            format!("cannot create the database file {} privately: {e}", options.get_filename().display()).into(),
        )
    })?;
    if url.contains("mode=") {
        Ok(url.to_owned())
    } else {
        Ok(format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' }))
    }
}

/// What a write transaction must not run beside. On SQLite every write
/// transaction takes the one write lock at its start (`BEGIN IMMEDIATE`), so
/// a transaction that reads, then writes, never reads what another is about
/// to replace. PostgreSQL lets writers run side by side; there, the same
/// guarantee is an advisory lock held until the transaction ends — one per
/// account, so that different accounts' writes do not wait for each other,
/// under a shared lock that [`WriteScope::All`] takes exclusively.
#[derive(Clone, Copy, Debug)]
pub enum WriteScope<'a> {
    /// Reads and writes one account's rows (its summary, tokens, posts).
    Account(&'a str),
    /// Counts sign-in attempts.
    SignIn,
    /// Reads or writes across accounts (users, keys, resealing, connecting
    /// an account not yet known): waits for every other writer.
    All,
}

/// Advisory lock keys (64-bit; PostgreSQL's lock space is the database's).
/// Chosen once; changing one would let old and new replicas write at once.
const LOCK_ALL: i64 = 0x6177_0000_0000_0001;
const LOCK_SIGN_IN: i64 = 0x6177_0000_0000_0002;

/// Begins a write transaction on `pool` that runs alone within `scope` (see
/// [`WriteScope`]), on either engine.
pub async fn begin_write<'c>(pool: &'c Pool, scope: WriteScope<'_>) -> Result<Tx<'c>, sqlx::Error> {
    match Backend::of(pool) {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            match scope {
                WriteScope::All => {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(LOCK_ALL).execute(&mut *tx).await?;
                }
                WriteScope::SignIn | WriteScope::Account(_) => {
                    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)").bind(LOCK_ALL).execute(&mut *tx).await?;
                    let key = match scope {
                        WriteScope::Account(id) => account_lock_key(id),
                        _ => LOCK_SIGN_IN,
                    };
                    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await?;
                }
            }
            Ok(tx)
        }
    }
}

/// An account's advisory lock key: the first 8 bytes of its id's SHA-256,
/// stable across processes and versions (a std hasher is neither). Two
/// accounts sharing a key only wait for each other.
fn account_lock_key(account_id: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(account_id.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A boolean column or expression. PostgreSQL answers `BOOLEAN`; SQLite has
/// no such type and answers an integer (its `BOOLEAN` columns are declared
/// `INTEGER` since migration 0008, because the `Any` driver refuses SQLite's
/// `BOOLEAN` declaration). Read with `#[sqlx(try_from = "Flag")]`.
pub struct Flag(bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl sqlx::Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <bool as sqlx::Type<Any>>::compatible(ty) || <i64 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if sqlx::ValueRef::type_info(&value).kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as sqlx::Decode<'r, Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as sqlx::Decode<'r, Any>>::decode(value)? != 0))
        }
    }
}

/// [`Flag`], or NULL.
pub struct FlagOrNull(Option<bool>);

impl From<FlagOrNull> for Option<bool> {
    fn from(flag: FlagOrNull) -> Self {
        flag.0
    }
}

impl sqlx::Type<Any> for FlagOrNull {
    fn type_info() -> AnyTypeInfo {
        <Flag as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <Flag as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for FlagOrNull {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(FlagOrNull(<Option<Flag> as sqlx::Decode<'r, Any>>::decode(value)?.map(bool::from)))
    }
}

/// A text column holding one of an enum's stored spellings, read with
/// `#[sqlx(try_from = "Spelled<T>")]` (`SpelledOrNull<T>` for a nullable
/// column). The enums spell themselves in the domain (`as_str` and
/// `TryFrom<String>`); these only carry that spelling through sqlx, so that
/// an unknown value is an error naming the column and the value — never a
/// silent default. (The decoding fails, not the conversion after it: sqlx
/// names the column of a decode error, and prints it.)
pub struct Spelled<T>(T);

/// [`Spelled`], or NULL.
pub struct SpelledOrNull<T>(Option<T>);

impl<T> sqlx::Type<Any> for Spelled<T> {
    fn type_info() -> AnyTypeInfo {
        <String as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<T> sqlx::Type<Any> for SpelledOrNull<T> {
    fn type_info() -> AnyTypeInfo {
        <String as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r, T: TryFrom<String, Error = UnknownSpelling>> sqlx::Decode<'r, Any> for Spelled<T> {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Spelled(T::try_from(<String as sqlx::Decode<'r, Any>>::decode(value)?)?))
    }
}

impl<'r, T: TryFrom<String, Error = UnknownSpelling>> sqlx::Decode<'r, Any> for SpelledOrNull<T> {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <Option<String> as sqlx::Decode<'r, Any>>::decode(value)?;
        Ok(SpelledOrNull(text.map(T::try_from).transpose()?))
    }
}

/// The enums stored by spelling. (One impl each: the enums live in the
/// domain, so no blanket impl over `T` is allowed here.)
macro_rules! stored_by_spelling {
    ($($enum:ty),*) => {$(
        impl From<Spelled<$enum>> for $enum {
            fn from(spelled: Spelled<$enum>) -> Self {
                spelled.0
            }
        }

        impl From<SpelledOrNull<$enum>> for Option<$enum> {
            fn from(spelled: SpelledOrNull<$enum>) -> Self {
                spelled.0
            }
        }
    )*};
}

stored_by_spelling!(Cause, EventKind, Outcome, crate::domain::flow::Flow);

pub mod accounts;
pub mod api_keys;
pub mod apps;
pub mod copy;
pub mod events;
pub mod links;
pub mod posts;
pub mod prompts;
pub mod reads;
pub mod refresh_state;
pub mod sessions;
pub mod sign_in;
pub mod users;
