//! The database: connecting, migrating, and one repository module per table.
//! SQL lives only here; callers pass a pool or a transaction.

use crate::domain::health::Cause;
use crate::domain::spelling::UnknownSpelling;
use crate::domain::timeline::{EventKind, Outcome};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub type Pool = SqlitePool;

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

/// Opens (creating if missing, mode 0600) the database at `url` and applies
/// every pending migration from `migrations/`.
pub async fn open(url: &str) -> Result<Pool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?;
    private_database_files(&options, url).map_err(|e| {
        sqlx::Error::Configuration(
            format!("cannot create the database file {} privately: {e}", options.get_filename().display()).into(),
        )
    })?;
    let options = options
        .create_if_missing(true)
        // WAL lets the dashboard read while the engine writes.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Two processes on one file (several engines) wait for each other's
        // short write transactions instead of failing at once.
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
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

impl<T> sqlx::Type<sqlx::Sqlite> for Spelled<T> {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as sqlx::Type<sqlx::Sqlite>>::type_info()
    }

    fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Sqlite>>::compatible(ty)
    }
}

impl<T> sqlx::Type<sqlx::Sqlite> for SpelledOrNull<T> {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as sqlx::Type<sqlx::Sqlite>>::type_info()
    }

    fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Sqlite>>::compatible(ty)
    }
}

impl<'r, T: TryFrom<String, Error = UnknownSpelling>> sqlx::Decode<'r, sqlx::Sqlite> for Spelled<T> {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Spelled(T::try_from(<String as sqlx::Decode<'r, sqlx::Sqlite>>::decode(value)?)?))
    }
}

impl<'r, T: TryFrom<String, Error = UnknownSpelling>> sqlx::Decode<'r, sqlx::Sqlite> for SpelledOrNull<T> {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <Option<String> as sqlx::Decode<'r, sqlx::Sqlite>>::decode(value)?;
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

stored_by_spelling!(Cause, EventKind, Outcome);

pub mod accounts;
pub mod api_keys;
pub mod apps;
pub mod events;
pub mod links;
pub mod posts;
pub mod prompts;
pub mod reads;
pub mod refresh_state;
pub mod sessions;
pub mod sign_in;
pub mod users;
