//! The `newswatch` command: arguments, logging, exit codes. Everything else lives in the
//! library; the subcommands in `cli/` only load, call and print.

mod cli;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(&e),
    };
    // PostgreSQL's NOTICEs (the schema check at every start says "already exists") are not
    // news for an operator; a warning from the server still shows.
    let default_filter = if args.command.is_service() {
        "info,sqlx::postgres::notice=warn"
    } else {
        "warn"
    };
    logging::init(args.log_format.map(Into::into), default_filter);
    // One TLS provider for reqwest, lettre and sqlx; building a client panics without it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            logging::print_error(format_args!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    runtime.block_on(cli::run(args))
}

/// `--help` and `--version` print to standard output and exit 0; a command line that cannot
/// be parsed prints clap's message and exits [`cli::EXIT_USAGE`] (64), not clap's 2, which is
/// a configuration error's code here.
fn usage_error(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if error.use_stderr() {
        ExitCode::from(cli::EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}
