//! The `faultline` command (contracts §2): the devserver, and the admin
//! commands that work on the same stored data.

mod bootstrap;
mod commands;
mod devserver;
mod internal;
mod open;
mod service;
mod settings;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Self-hosted, Sentry-compatible error monitoring"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where stored data is: a config file, or a devserver's data directory.
#[derive(Args, Clone, Default)]
pub struct DataArgs {
    /// Path to config.yml.
    #[arg(long, env = "FAULTLINE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// A devserver's data directory (embedded storage).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process on embedded storage.
    Devserver {
        /// Address to listen on [default: `web.bind`, 127.0.0.1:9000].
        #[arg(long)]
        bind: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Run one service against the configured backends (what each container runs).
    Run {
        service: service::ServiceKind,
        /// Address for the service's HTTP endpoints (ingestion or dashboard/API,
        /// and /health and /metrics) [default: `<service>.bind`].
        #[arg(long)]
        bind: Option<String>,
        /// Address for the gRPC API of query [default: `query.grpc-bind`, 127.0.0.1:1218] or the symbolicator [`symbolicator.grpc-bind`, 127.0.0.1:3021].
        #[arg(long)]
        grpc_bind: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Delete events and issues older than N days and give the disk space back.
    Cleanup {
        /// Keep this many days of data (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        days: u32,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Apply all migrations (idempotent).
    Upgrade {
        /// Do not offer to create a superuser.
        #[arg(long)]
        noinput: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Create a user.
    Createuser {
        #[arg(long)]
        email: String,
        /// Prompted for when omitted (unless --no-input).
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        superuser: bool,
        #[arg(long = "no-input")]
        no_input: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a new random secret key for `system.secret-key`.
    GenerateSecretKey,
    /// Read the configuration as a service would, and say whether it is valid.
    Check {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API token for a user.
    Create {
        #[arg(long)]
        email: String,
        /// Scopes (repeatable); defaults to full access.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[command(flatten)]
        data: DataArgs,
    },
}

fn main() -> std::process::ExitCode {
    // Whatever this process creates is its user's alone: the data
    // directory, its stores and the -wal/-shm files SQLite adds beside
    // them, config.yml, temporary files. Set before any thread or file
    // exists; settings.rs also sets the modes explicitly.
    // SAFETY: umask only replaces the process's file-creation mask; it
    // cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Devserver { bind, data } => devserver::run(bind.as_deref(), &data).await,
        Command::Run {
            service,
            bind,
            grpc_bind,
            data,
        } => service::run(service, bind.as_deref(), grpc_bind.as_deref(), &data).await,
        Command::Upgrade { noinput, data } => commands::upgrade(&data, noinput).await,
        Command::Cleanup { days, data } => commands::cleanup(&data, days).await,
        Command::Createuser {
            email,
            password,
            superuser,
            no_input,
            data,
        } => commands::createuser(&data, &email, password, superuser, no_input).await,
        Command::Config {
            command: ConfigCommand::GenerateSecretKey,
        } => {
            println!("{}", settings::generate_secret_key());
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { data },
        } => {
            let settings = settings::load(&data, false)?;
            println!("config OK: {}", settings.config_path.display());
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    email,
                    scopes,
                    data,
                },
        } => commands::create_token(&data, &email, &scopes).await,
    }
}
