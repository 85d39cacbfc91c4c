//! The command line: `authwatch [serve]` and `authwatch emulator`.

use crate::emulator::{self, Emulator};
use crate::server::config::{Config, Env, Overrides};
use crate::server::{Server, StartError};
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
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
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
            Command::Emulator { addr } => {
                init_tracing("info");
                emulator::serve(addr, Emulator::with_sample_data()).await.map_err(StartError::Serve)
            }
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

async fn serve(args: ServeArgs) -> Result<(), StartError> {
    let leptos_options = leptos_options()?;
    let overrides = Overrides { data_dir: args.data_dir, site_addr: args.addr };
    let config = Config::load(&Env, leptos_options.site_addr, overrides)?;
    init_tracing(&config.log_filter);
    let mut leptos_options = leptos_options;
    leptos_options.site_addr = config.site_addr;
    Server::new(config, leptos_options).await?.serve().await
}

/// Site settings from Leptos.toml, overridden by `LEPTOS_*` variables. Without
/// the file (the binary run from elsewhere), the variables alone are used.
fn leptos_options() -> Result<leptos::config::LeptosOptions, StartError> {
    let file = Path::new("Leptos.toml");
    let conf = if file.exists() { get_configuration(Some("Leptos.toml")) } else { get_configuration(None) };
    conf.map(|c| c.leptos_options).map_err(|e| StartError::Leptos(e.to_string()))
}

fn init_tracing(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
