//! The command line: `authwatch [serve]`, `authwatch emulator`,
//! `authwatch api-key …`, `authwatch user …`, `authwatch keys …` and
//! `authwatch db copy`.

use crate::emulator::{self, Emulator};
use crate::server::config::{Config, Env, Overrides, Source as _};
use crate::server::web::{Server, StartError};

/// Why a command failed: printed as `authwatch: <this>`, saying what
/// happened and what to do. Never holds a token or a password.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `authwatch serve` could not start or stopped.
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("configuration: {0}")]
    Config(#[from] crate::server::config::ConfigError),
    #[error("Leptos.toml: {0}")]
    Leptos(String),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("encryption key: {0}")]
    Crypto(#[from] crate::server::crypto::CryptoError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("password hashing: {0}")]
    Passwords(#[from] crate::server::auth::password::PasswordError),
    /// An argument that cannot be used; the sentence names it.
    #[error("{0}")]
    Usage(&'static str),
    #[error("reading the password: {0}")]
    ReadPassword(std::io::Error),
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("no user {0}")]
    UnknownUser(String),
    #[error("{0} is the last admin: add another first with `authwatch user add --admin --email … --name …`")]
    LastAdmin(String),
    #[error("no account {0}")]
    UnknownAccount(String),
    #[error("no live key {0}")]
    UnknownKey(String),
    #[error("demo mode seals with a key that lives only as long as the server: there is nothing to reseal")]
    DemoReseal,
    #[error("no database at {0}: point --data-dir (or AUTHWATCH_DATA_DIR) at the server's data directory")]
    NoDatabase(String),
    #[error("{0}")]
    Reseal(#[from] crate::server::db::accounts::ResealError),
    #[error(
        "{0} token set(s) were written with another key while resealing: is a server running with an older AUTHWATCH_ENCRYPTION_KEY? Restart it with the current key and run this again."
    )]
    WrittenWithAnotherKey(u64),
    #[error("emulator: {0}")]
    Emulator(std::io::Error),
    #[error("{0}")]
    Copy(#[from] crate::server::db::copy::CopyError),
}
use clap::{Parser, Subcommand};
use leptos::config::get_configuration;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Keeps social accounts' X (Twitter) OAuth connections alive.
#[derive(Debug, Parser)]
#[command(name = "authwatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the dashboard, the OAuth callback and the API (the default).
    Serve(ServeArgs),
    /// Run the X emulator alone, with a sample app and users, for scripts and manual tests.
    Emulator {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4000")]
        addr: SocketAddr,
    },
    /// Create, list or revoke API keys for the publishing pipeline.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage dashboard users (the first admin, or when locked out).
    #[command(subcommand)]
    User(UserCommand),
    /// Finish an encryption key rotation.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Move the installation to another database.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Copy every account, token (still sealed), user, key, post and event
    /// into a new, empty database, e.g. from SQLite to PostgreSQL. Stop the
    /// servers first. Sessions are not copied: everyone signs in again.
    Copy {
        /// The database to copy, e.g. sqlite://data/authwatch.db.
        #[arg(long)]
        from: String,
        /// The new, empty database, e.g. postgres://authwatch@db.example/authwatch.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-encrypt every stored token with the current key
    /// (AUTHWATCH_ENCRYPTION_KEY), so that the keys in
    /// AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS can be dropped. Safe to run again.
    Reseal {
        /// Directory of the database and key file (overrides AUTHWATCH_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it once; only its hash is stored.
    Create {
        /// What the key is for (shown in lists and on the account timelines' "by" column as its id).
        #[arg(long)]
        name: String,
        /// Limit the key to this account id (repeatable); every account when absent.
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// Directory of the database (overrides AUTHWATCH_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Revoke a key by its id: calls with it are refused from then on, and
    /// the posts it queued that are still held are cancelled.
    Revoke {
        id: String,
        /// Directory of the database (overrides AUTHWATCH_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// List keys (ids, names, scope; never the keys).
    List {
        /// Directory of the database (overrides AUTHWATCH_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. Asks for the password, or reads it from standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// An admin (X app settings, users, every account); a manager otherwise.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
        /// Directory for the database (overrides AUTHWATCH_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Remove a user by email (never the last admin). Their sessions end at once.
    Remove {
        #[arg(long)]
        email: String,
        /// Directory of the database (overrides AUTHWATCH_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// Run the demo: the built-in X emulator, demo users and accounts, in a
    /// throwaway database (same as AUTHWATCH_DEMO=1). Loopback only.
    #[arg(long)]
    demo: bool,
    /// Address to listen on (overrides Leptos.toml and LEPTOS_SITE_ADDR).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Directory for the database and generated key (overrides AUTHWATCH_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Runs the command line; the exit code says whether it went well.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authwatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
            Command::Serve(args) => serve(args).await,
            Command::User(UserCommand::Add { email, name, admin, password_stdin, data_dir }) => {
                add_user(&email, &name, admin, password_stdin, data_dir).await
            }
            Command::User(UserCommand::Remove { email, data_dir }) => remove_user(&email, data_dir).await,
            Command::Emulator { addr } => {
                init_tracing("info");
                emulator::serve(addr, Emulator::with_sample_data()).await.map_err(CliError::Emulator)
            }
            Command::ApiKey(command) => api_key(command).await,
            Command::Keys(KeysCommand::Reseal { data_dir }) => reseal(data_dir).await,
            Command::Db(DbCommand::Copy { from, to }) => copy_database(&from, &to).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authwatch: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let leptos_options = leptos_options()?;
    let overrides = Overrides { data_dir: args.data_dir, site_addr: args.addr, demo: args.demo, database_url: None };
    let config = Config::load(&Env, leptos_options.site_addr, overrides)?;
    init_tracing(&config.log_filter);
    let mut leptos_options = leptos_options;
    leptos_options.site_addr = config.site_addr;
    Ok(Server::new(config, leptos_options).await?.serve().await?)
}

/// `authwatch api-key …`: works on the database the server uses, with the
/// same configuration; it does not start a server.
async fn api_key(command: ApiKeyCommand) -> Result<(), CliError> {
    use crate::server::db::{self, api_keys};
    use crate::server::pipeline::auth;
    let data_dir = match &command {
        ApiKeyCommand::Create { data_dir, .. }
        | ApiKeyCommand::Revoke { data_dir, .. }
        | ApiKeyCommand::List { data_dir } => data_dir.clone(),
    };
    let site_addr = leptos_options().map(|o| o.site_addr).unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 3000)));
    let config = Config::load(&Env, site_addr, Overrides { data_dir, ..Overrides::default() })?;
    init_tracing("warn");
    let pool = db::open(&config.database_url()).await?;
    match command {
        ApiKeyCommand::Create { name, accounts, .. } => {
            let scope = (!accounts.is_empty()).then_some(accounts.as_slice());
            match auth::create_key(&pool, &name, scope, "command line").await {
                Ok(created) => {
                    // Printed once, on stdout only, for the person who asked for it.
                    println!("id: {}", created.id);
                    println!("key: {}", created.key.expose());
                    eprintln!("Store the key now: authwatch keeps only its hash and cannot show it again.");
                    Ok(())
                }
                Err(api_keys::CreateError::UnknownAccount(id)) => Err(CliError::UnknownAccount(id)),
                Err(api_keys::CreateError::Database(e)) => Err(CliError::Database(e)),
            }
        }
        ApiKeyCommand::Revoke { id, .. } => match auth::revoke_key(&pool, &id, "command line").await? {
            Some(revoked) => {
                println!("revoked {id}; cancelled {} held post(s) it queued", revoked.cancelled.len());
                Ok(())
            }
            None => Err(CliError::UnknownKey(id)),
        },
        ApiKeyCommand::List { .. } => {
            for key in api_keys::list(&pool).await? {
                let scope = if key.all_accounts {
                    "all accounts".to_owned()
                } else {
                    api_keys::accounts_of(&pool, &key.id).await?.join(",")
                };
                let state = if key.revoked_at.is_some() { "revoked" } else { "live" };
                println!("{}\t{}\t{}…\t{state}\t{scope}", key.id, key.name, key.prefix);
            }
            Ok(())
        }
    }
}

/// `authwatch keys reseal`: works on the database and keys the server uses,
/// with the same configuration; it does not start a server.
async fn reseal(data_dir: Option<PathBuf>) -> Result<(), CliError> {
    use crate::server::crypto::Keyring;
    use crate::server::db::{self, accounts};
    let site_addr = leptos_options().map(|o| o.site_addr).unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 3000)));
    let config = Config::load(&Env, site_addr, Overrides { data_dir, ..Overrides::default() })?;
    init_tracing("warn");
    if config.is_demo() {
        return Err(CliError::DemoReseal);
    }
    let keyring =
        Keyring::load_existing(config.encryption_key.as_ref(), &config.previous_encryption_keys, &config.data_dir)?;
    let current = keyring.current_key_id().to_owned();
    let previous: Vec<String> = keyring.previous_key_ids().map(str::to_owned).collect();
    println!("current key: {current}");
    println!("previous keys: {}", if previous.is_empty() { "none".to_owned() } else { previous.join(", ") });
    // A wrong --data-dir must not leave a new, empty database behind.
    let file = config.default_database_file();
    if config.database_url.is_none() && !file.exists() {
        return Err(CliError::NoDatabase(file.display().to_string()));
    }
    let pool = db::open(&config.database_url()).await?;
    let done = accounts::reseal_all(&pool, &keyring).await?;
    let describe = |counts: &accounts::KeyCounts| {
        if counts.is_empty() {
            return "no token sets".to_owned();
        }
        let key = |id: &str| if id == current { format!("{id} (current)") } else { id.to_owned() };
        counts.iter().map(|(id, n)| format!("{n} with key {}", key(id))).collect::<Vec<_>>().join(", ")
    };
    println!("before: {}", describe(&done.before));
    println!("resealed: {} token set(s)", done.resealed);
    println!("after: {}", describe(&done.after));
    let left: u64 = done.after.iter().filter(|(id, _)| **id != current).map(|(_, n)| n).sum();
    if left > 0 {
        // Only a writer with another current key can have put them there.
        return Err(CliError::WrittenWithAnotherKey(left));
    }
    if !previous.is_empty() {
        println!("Every token is sealed with the current key: AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS can be emptied once every server runs with the current key.");
    }
    Ok(())
}

/// `authwatch db copy`: both databases migrated to this version, the target
/// refused unless empty, every app table copied and verified in one
/// transaction. The tokens are copied sealed; a configured key only checks
/// that they will open.
async fn copy_database(from: &str, to: &str) -> Result<(), CliError> {
    use crate::server::crypto::Keyring;
    use crate::server::db::copy::{self, Side};
    use crate::server::db::{self, accounts};
    use crate::server::secret::Secret;
    init_tracing("warn");
    if from == to {
        return Err(copy::CopyError::SameDatabase.into());
    }
    let (source, target) = (copy::connect(from, Side::Source).await?, copy::connect(to, Side::Target).await?);
    copy::check_version(&source, Side::Source).await?;
    copy::check_version(&target, Side::Target).await?;
    source.close().await;
    target.close().await;
    let source = db::open(from).await.map_err(|e| copy::CopyError::Database(Side::Source, e))?;
    let target = db::open(to).await.map_err(|e| copy::CopyError::Database(Side::Target, e))?;
    let copied = copy::copy(&source, &target).await?;
    for (table, n) in &copied.tables {
        println!("{table}: {n}");
    }
    println!("sessions: not copied (everyone signs in again on the new database)");
    let keys: Vec<&str> = copied.keys.keys().map(String::as_str).collect();
    let sealed = match keys.as_slice() {
        [] => "no tokens are stored".to_owned(),
        [key] => format!("tokens stay sealed with key {key} (give every replica AUTHWATCH_ENCRYPTION_KEY=… that key)"),
        keys => format!(
            "tokens stay sealed with keys {} (give every replica the current one as AUTHWATCH_ENCRYPTION_KEY=… \
             and the others in AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS, or run `authwatch keys reseal`)",
            keys.join(", ")
        ),
    };
    println!("copied {} rows; {sealed}", copied.rows());

    // The key is not needed to copy; given, it is checked to open what was copied.
    let configured = Env.get("AUTHWATCH_ENCRYPTION_KEY").filter(|k| !k.is_empty()).map(Secret::new);
    let previous: Vec<Secret> = Env
        .get("AUTHWATCH_PREVIOUS_ENCRYPTION_KEYS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| Secret::new(k.to_owned()))
        .collect();
    // Without one, a SQLite install's own key is in the key file beside its database.
    let key_file = match db::Backend::of_url(from) {
        Some(db::Backend::Sqlite) if configured.is_none() => {
            use std::str::FromStr;
            sqlx::sqlite::SqliteConnectOptions::from_str(from)
                .ok()
                .and_then(|o| o.get_filename().parent().map(|dir| dir.join(crate::server::crypto::KEY_FILE)))
                .filter(|file| file.is_file())
        }
        _ => None,
    };
    let keyring = match (&configured, &key_file) {
        (Some(key), _) => {
            Some((Keyring::load_existing(Some(key), &previous, Path::new("."))?, "AUTHWATCH_ENCRYPTION_KEY"))
        }
        (None, Some(file)) => {
            let dir = file.parent().unwrap_or(Path::new("."));
            Some((Keyring::load_existing(None, &previous, dir)?, "the key file"))
        }
        (None, None) => None,
    };
    if let Some(file) = &key_file {
        println!(
            "the key is the content of {} (its id is the one above): give it to every replica as AUTHWATCH_ENCRYPTION_KEY",
            file.display()
        );
    }
    match keyring {
        Some((_, _)) if keys.is_empty() => {}
        Some((keyring, which)) => match accounts::check_keyring(&target, &keyring).await {
            Ok(()) => println!("checked: {which} opens the copied tokens"),
            Err(mismatch) => {
                eprintln!("WARNING: the copy is exact, but {which} cannot open the copied tokens: {mismatch}")
            }
        },
        None if !keys.is_empty() => {
            println!("not checked: give AUTHWATCH_ENCRYPTION_KEY to check that it opens the copied tokens")
        }
        None => {}
    }
    Ok(())
}

/// `authwatch user add`: writes the user straight into the configured database.
async fn add_user(
    email: &str,
    name: &str,
    admin: bool,
    password_stdin: bool,
    data_dir: Option<PathBuf>,
) -> Result<(), CliError> {
    use crate::server::auth::password;
    use crate::server::db::{self, users};
    let leptos_options = leptos_options()?;
    let config = Config::load(&Env, leptos_options.site_addr, Overrides { data_dir, ..Overrides::default() })?;
    let email = users::normalize_email(email);
    if !email.contains('@') {
        return Err(CliError::Usage("--email: that is not an email address"));
    }
    if name.trim().is_empty() {
        return Err(CliError::Usage("--name: give the person's name"));
    }
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(CliError::ReadPassword)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").map_err(CliError::ReadPassword)?;
        let again = rpassword::prompt_password("Password again: ").map_err(CliError::ReadPassword)?;
        if first != again {
            return Err(CliError::Usage("the two passwords differ"));
        }
        first
    };
    // This process hashes once: one slot.
    let hash = password::Passwords::new(1).await?.hash(password).await?;
    let dir_error = |source| CliError::DataDir { path: config.data_dir.display().to_string(), source };
    db::prepare_data_dir(&config.data_dir).map_err(dir_error)?;
    let pool = db::open(&config.database_url()).await?;
    let role = if admin { users::Role::Admin } else { users::Role::Manager };
    let user = users::add(&pool, &email, name, &hash, role, crate::server::x::now_ms()).await.map_err(|e| match e {
        users::AddUserError::EmailTaken => CliError::EmailTaken,
        users::AddUserError::Database(e) => CliError::Database(e),
    })?;
    println!("Added {} <{}> as {} (id {}).", user.name, user.email, role.as_str(), user.id);
    if config.is_demo() && config.database_url.is_none() {
        println!("Note: demo mode starts from a fresh database at every start; configure an X app (see the README) to keep users.");
    }
    Ok(())
}

/// `authwatch user remove`: removes a user from the configured database.
async fn remove_user(email: &str, data_dir: Option<PathBuf>) -> Result<(), CliError> {
    use crate::server::db::{self, users};
    let leptos_options = leptos_options()?;
    let config = Config::load(&Env, leptos_options.site_addr, Overrides { data_dir, ..Overrides::default() })?;
    init_tracing("warn");
    let pool = db::open(&config.database_url()).await?;
    let email = users::normalize_email(email);
    let Some((user, _)) = users::credentials(&pool, &email).await? else {
        return Err(CliError::UnknownUser(email));
    };
    if !users::remove(&pool, &user.id, "command line", crate::server::x::now_ms()).await? {
        return Err(CliError::LastAdmin(email));
    }
    println!("Removed {} <{}>.", user.name, user.email);
    Ok(())
}

/// Site settings from Leptos.toml, overridden by `LEPTOS_*` variables. Without
/// the file (the binary run from elsewhere), the variables alone are used.
fn leptos_options() -> Result<leptos::config::LeptosOptions, CliError> {
    let file = Path::new("Leptos.toml");
    let conf = if file.exists() { get_configuration(Some("Leptos.toml")) } else { get_configuration(None) };
    conf.map(|c| c.leptos_options).map_err(|e| CliError::Leptos(e.to_string()))
}

fn init_tracing(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
