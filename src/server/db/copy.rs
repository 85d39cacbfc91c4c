//! `authwatch db copy`: moves an installation from one database to another
//! (SQLite to PostgreSQL, typically; any direction between the two). Every
//! app table is copied row for row, in one transaction on the target, and
//! verified before it commits. The tokens stay sealed: their ciphertexts are
//! copied as text and never opened, so no key is needed to copy them.

use super::{Backend, FlagOrNull, Pool, WriteScope};
use sqlx::{AnyConnection, Row as _};

/// The app's tables, in foreign-key order (a table after every table it
/// references), each with its primary key, which orders the pages read.
/// Sessions are left out: the people sign in again on the new database.
pub const TABLES: &[(&str, &str)] = &[
    ("x_apps", "client_id"),
    ("users", "id"),
    ("accounts", "id"),
    ("token_sets", "account_id"),
    ("events", "id"),
    ("refresh_state", "account_id"),
    ("prompts", "id"),
    ("notifications", "id"),
    ("reconnect_links", "id"),
    ("api_keys", "id"),
    ("api_key_accounts", "key_id, account_id"),
    ("posts", "id"),
    ("auth_failure_reports", "account_id, generation"),
    ("user_reads", "day, account_id"),
    ("sign_in_failures", "id"),
    ("daily_check_runs", "day"),
];

/// Rows read from the source per SELECT.
const PAGE: i64 = 10_000;
/// Values bound per INSERT, at most: well under SQLite's limit (32,766).
const VALUES_PER_INSERT: usize = 4_000;

/// Which of the two databases something is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Source => "the source database (--from)",
            Side::Target => "the target database (--to)",
        })
    }
}

/// Why a copy did not happen. Whatever it says, nothing was written to the
/// target (its transaction was rolled back, or never begun).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("--from and --to name the same database: give the new, empty database as --to")]
    SameDatabase,
    #[error("{0}: {1} is neither a sqlite: nor a postgres:// URL")]
    NotAUrl(Side, String),
    #[error("there is no database file at {0} (--from): give the path of the existing authwatch.db")]
    NoSourceFile(String),
    #[error("{0} holds no authwatch schema (no _sqlx_migrations table): is it the right database?")]
    NotAuthwatch(Side),
    #[error(
        "{side} is at migration version {version}, newer than this authwatch knows (version {known}): \
         run the copy with the authwatch version that wrote it"
    )]
    Newer { side: Side, version: i64, known: i64 },
    #[error(
        "the target database is not empty: it holds {}. Copy only into a new, empty database; nothing was written",
        describe(.0)
    )]
    NotEmpty(Vec<(String, u64)>),
    #[error(
        "the source database has a table {0} that this authwatch does not know how to copy: \
         nothing was written (copy with the authwatch version that wrote it)"
    )]
    UnknownTable(String),
    #[error(
        "table {table} has other columns on the two databases (source: {source_columns}; target: {target_columns}): \
         nothing was written"
    )]
    Columns { table: String, source_columns: String, target_columns: String },
    #[error("column {table}.{column} has type {declared}, which the copy does not know: nothing was written")]
    ColumnType { table: String, column: String, declared: String },
    #[error(
        "after copying, table {table} held {on_target} row(s) on the target against {on_source} on the source: \
         the copy was rolled back and nothing was written. Is something writing to either database? Stop it and copy again"
    )]
    CountMismatch { table: String, on_source: u64, on_target: u64 },
    #[error(
        "after copying, the sealed tokens on the target differ from the source's: \
         the copy was rolled back and nothing was written"
    )]
    TokensDiffer,
    #[error("{0}: {1}")]
    Database(Side, sqlx::Error),
}

fn describe(counts: &[(String, u64)]) -> String {
    counts.iter().map(|(table, n)| format!("{n} row(s) in {table}")).collect::<Vec<_>>().join(", ")
}

/// What a copy did: each table's rows, in the order copied, and how many
/// token sets each key sealed.
#[derive(Debug)]
pub struct Copied {
    pub tables: Vec<(String, u64)>,
    pub keys: super::accounts::KeyCounts,
}

impl Copied {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Connects to `url` without migrating, after checking that it can be a
/// source (an existing file, for SQLite) or a target.
pub async fn connect(url: &str, side: Side) -> Result<Pool, CopyError> {
    let backend = Backend::of_url(url).ok_or_else(|| CopyError::NotAUrl(side, without_password(url)))?;
    if side == Side::Source && backend == Backend::Sqlite {
        // Connecting creates a missing file: a mistyped path would copy an
        // empty database and leave a new file behind.
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|e| CopyError::Database(side, e))?;
        let file = options.get_filename();
        if !file.is_file() {
            return Err(CopyError::NoSourceFile(file.display().to_string()));
        }
    }
    if backend == Backend::Postgres {
        // One connection first: a pool retries a refused connection until
        // its acquire timeout, half a minute of silence for a wrong host.
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let conn = AnyConnection::connect(url).await.map_err(|e| CopyError::Database(side, e))?;
        conn.close().await.map_err(|e| CopyError::Database(side, e))?;
    }
    super::connect(url, 2).await.map_err(|e| CopyError::Database(side, e))
}

/// Refuses a database at a migration version newer than this binary's (it
/// would hold a schema this copy does not know); a source must be one.
pub async fn check_version(pool: &Pool, side: Side) -> Result<(), CopyError> {
    let db_err = |e| CopyError::Database(side, e);
    let mut conn = pool.acquire().await.map_err(db_err)?;
    let backend = Backend::of_connection(&conn);
    let tables = tables(&mut conn, backend).await.map_err(db_err)?;
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return match side {
            Side::Source => Err(CopyError::NotAuthwatch(side)),
            // A new target: the migrations create everything.
            Side::Target => Ok(()),
        };
    }
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(&mut *conn).await.map_err(db_err)?;
    let known = super::migrator(backend).iter().map(|m| m.version).max().unwrap_or(0);
    match applied {
        Some(version) if version > known => Err(CopyError::Newer { side, version, known }),
        None if side == Side::Source => Err(CopyError::NotAuthwatch(side)),
        _ => Ok(()),
    }
}

/// Copies every app table from `from` to `to` (both migrated to this
/// binary's version), refusing a target that holds any row. Reads the source
/// in one snapshot; writes the target in one transaction, which commits only
/// once every table's count and the sealed tokens match the source's.
pub async fn copy(from: &Pool, to: &Pool) -> Result<Copied, CopyError> {
    let src_err = |e| CopyError::Database(Side::Source, e);
    let dst_err = |e| CopyError::Database(Side::Target, e);
    let mut source = from.begin().await.map_err(src_err)?;
    let source_backend = Backend::of_connection(&source);
    if source_backend == Backend::Postgres {
        // One snapshot for every page of every table, and the counts after.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *source)
            .await
            .map_err(src_err)?;
    }
    // Alone on the target: no replica writes while it fills.
    let mut target = super::begin_write(to, WriteScope::All).await.map_err(dst_err)?;
    let target_backend = Backend::of_connection(&target);

    let known: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    for table in tables(&mut source, source_backend).await.map_err(src_err)? {
        if table != "_sqlx_migrations" && !known.contains(&table.as_str()) {
            return Err(CopyError::UnknownTable(table));
        }
    }
    let mut held = Vec::new();
    for table in &known {
        let n = count(&mut target, table).await.map_err(dst_err)?;
        if n > 0 {
            held.push(((*table).to_owned(), n));
        }
    }
    if !held.is_empty() {
        return Err(CopyError::NotEmpty(held));
    }

    let mut copied = Vec::new();
    for (table, key) in TABLES {
        let source_columns = columns(&mut source, source_backend, table).await.map_err(src_err)?;
        let target_columns = columns(&mut target, target_backend, table).await.map_err(dst_err)?;
        let plan = plan(table, &source_columns, &target_columns)?;
        let n = copy_table(&mut source, &mut target, target_backend, table, key, &plan).await?;
        copied.push(((*table).to_owned(), n));
    }
    if target_backend == Backend::Postgres {
        advance_identities(&mut target).await.map_err(dst_err)?;
    }

    for (table, copied_rows) in &copied {
        let source_rows = count(&mut source, table).await.map_err(src_err)?;
        let target_rows = count(&mut target, table).await.map_err(dst_err)?;
        if source_rows != target_rows || target_rows != *copied_rows {
            return Err(CopyError::CountMismatch {
                table: table.clone(),
                on_source: source_rows,
                on_target: target_rows,
            });
        }
    }
    if token_digest(&mut source).await.map_err(src_err)? != token_digest(&mut target).await.map_err(dst_err)? {
        return Err(CopyError::TokensDiffer);
    }
    target.commit().await.map_err(dst_err)?;
    source.rollback().await.map_err(src_err)?;
    let keys = super::accounts::key_counts(to).await.map_err(dst_err)?;
    Ok(Copied { tables: copied, keys })
}

/// `url` with its password, if any, replaced: for messages.
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("…"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "the URL given".to_owned(),
    }
}

/// Every table of the database's schema (the sessions' aside).
async fn tables(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<String>, sqlx::Error> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name <> 'tower_sessions'"
        }
        // The session store keeps its table in a schema of its own.
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    sqlx::query_scalar(sql).fetch_all(conn).await
}

/// How a column's values are read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    /// PostgreSQL's BOOLEAN, SQLite's INTEGER 0/1 (see [`super::Flag`]).
    Flag,
}

/// A table's columns as declared, in order: name and declared type.
async fn columns(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    sqlx::query_as(sql).bind(table).fetch_all(conn).await
}

fn kind_of(declared: &str) -> Option<Kind> {
    match declared.to_ascii_lowercase().as_str() {
        "text" | "character varying" => Some(Kind::Text),
        "integer" | "bigint" | "smallint" => Some(Kind::Integer),
        "boolean" => Some(Kind::Flag),
        _ => None,
    }
}

/// The columns to copy and how: the same names on both sides (same
/// migration version, same columns); a flag where either side declares a
/// boolean, since SQLite's flags are integers.
fn plan(
    table: &str,
    source: &[(String, String)],
    target: &[(String, String)],
) -> Result<Vec<(String, Kind)>, CopyError> {
    let names = |cols: &[(String, String)]| {
        let mut names: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    };
    if names(source) != names(target) {
        return Err(CopyError::Columns {
            table: table.to_owned(),
            source_columns: names(source).join(", "),
            target_columns: names(target).join(", "),
        });
    }
    let kind = |table: &str, (column, declared): &(String, String)| {
        kind_of(declared).ok_or_else(|| CopyError::ColumnType {
            table: table.to_owned(),
            column: column.clone(),
            declared: declared.clone(),
        })
    };
    target
        .iter()
        .map(|col| {
            let theirs = source.iter().find(|(n, _)| *n == col.0).expect("same names");
            let (a, b) = (kind(table, col)?, kind(table, theirs)?);
            let kind = if a == Kind::Flag || b == Kind::Flag { Kind::Flag } else { a };
            Ok((col.0.clone(), kind))
        })
        .collect()
}

/// One value on its way from the source to the target.
enum Cell {
    Integer(Option<i64>),
    Text(Option<String>),
    Flag(Option<bool>),
}

/// Copies one table's rows page by page; how many.
async fn copy_table(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    target_backend: Backend,
    table: &str,
    key: &str,
    plan: &[(String, Kind)],
) -> Result<u64, CopyError> {
    let list = plan.iter().map(|(c, _)| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let select = format!("SELECT {list} FROM \"{table}\" ORDER BY {key} LIMIT $1 OFFSET $2");
    let rows_per_insert = (VALUES_PER_INSERT / plan.len()).max(1);
    let mut copied = 0u64;
    loop {
        let offset = i64::try_from(copied).unwrap_or(i64::MAX);
        let rows = sqlx::query(&select)
            .bind(PAGE)
            .bind(offset)
            .fetch_all(&mut *source)
            .await
            .map_err(|e| CopyError::Database(Side::Source, e))?;
        let page: Vec<Vec<Cell>> = rows
            .iter()
            .map(|row| {
                plan.iter()
                    .enumerate()
                    .map(|(i, (_, kind))| {
                        Ok(match kind {
                            Kind::Integer => Cell::Integer(row.try_get(i)?),
                            Kind::Text => Cell::Text(row.try_get(i)?),
                            Kind::Flag => Cell::Flag(row.try_get::<FlagOrNull, _>(i)?.into()),
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
            .collect::<Result<_, _>>()
            .map_err(|e| CopyError::Database(Side::Source, e))?;
        for chunk in page.chunks(rows_per_insert) {
            insert(target, target_backend, table, &list, chunk)
                .await
                .map_err(|e| CopyError::Database(Side::Target, e))?;
        }
        copied += page.len() as u64;
        if page.len() < PAGE as usize {
            return Ok(copied);
        }
    }
}

async fn insert(
    target: &mut AnyConnection,
    backend: Backend,
    table: &str,
    list: &str,
    rows: &[Vec<Cell>],
) -> Result<(), sqlx::Error> {
    let width = rows.first().map_or(0, Vec::len);
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let marks: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let sql = format!("INSERT INTO \"{table}\" ({list}) VALUES {}", tuples.join(", "));
    let mut query = sqlx::query(&sql);
    for cell in rows.iter().flatten() {
        query = match cell {
            Cell::Integer(v) => query.bind(*v),
            Cell::Text(v) => query.bind(v.clone()),
            Cell::Flag(v) if backend == Backend::Postgres => query.bind(*v),
            Cell::Flag(v) => query.bind(v.map(i64::from)),
        };
    }
    query.execute(target).await?;
    Ok(())
}

/// PostgreSQL-specific: an identity column hands out numbers from its own
/// sequence, which rows inserted with their ids leave where it was (at 1).
/// Each sequence is set past its table's largest id, or the next event,
/// prompt or post would collide with a copied one. (SQLite takes the next
/// rowid from the table itself.)
async fn advance_identities(target: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *target)
    .await?;
    for (table, column) in identities {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        );
        sqlx::query(&sql).bind(&table).bind(&column).execute(&mut *target).await?;
    }
    Ok(())
}

async fn count(conn: &mut AnyConnection, table: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\"")).fetch_one(conn).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A digest of every sealed token set, as stored: the SHA-256 of each row's
/// account, generation, key and ciphertexts, sorted (the two engines order
/// text differently) and hashed again. Equal digests, equal ciphertexts.
async fn token_digest(conn: &mut AnyConnection) -> Result<(u64, [u8; 32]), sqlx::Error> {
    use sha2::{Digest, Sha256};
    let rows: Vec<(String, i64, String, String, Option<String>)> =
        sqlx::query_as("SELECT account_id, generation, key_id, access_token_ct, refresh_token_ct FROM token_sets")
            .fetch_all(conn)
            .await?;
    let mut digests: Vec<[u8; 32]> = rows
        .iter()
        .map(|(account, generation, key, access, refresh)| {
            let mut row = Sha256::new();
            for field in [account.as_str(), &generation.to_string(), key, access, refresh.as_deref().unwrap_or("")] {
                // A separator, so that fields cannot trade characters.
                row.update(field.as_bytes());
                row.update([0x1f]);
            }
            row.update([u8::from(refresh.is_some())]);
            row.finalize().into()
        })
        .collect();
    digests.sort_unstable();
    let mut all = Sha256::new();
    for d in &digests {
        all.update(d);
    }
    Ok((digests.len() as u64, all.finalize().into()))
}
