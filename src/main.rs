//! The `rawserve` command: read the options (command line and environment),
//! serve until SIGINT or SIGTERM, and turn what stops it into an exit
//! status: 0 after a clean stop, 1 with one sentence on standard error when
//! it cannot start, 2 for clap's usage errors.
//!
//! The options are the library's own settings structs and the server is
//! built through its public API, exactly as an embedder would (`cli`).

mod cli;

use std::process::ExitCode;

use cli::{Cli, Refusal};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).format_target(true).init();
    let cli = match Cli::read() {
        Ok(cli) => cli,
        Err(Refusal::Usage(e)) => e.exit(),
        Err(Refusal::Setting(e)) => return fail(&e.to_string()),
    };
    let done = match cli.print_completions {
        Some(shell) => cli::manual::print_completions(shell),
        None if cli.print_manpage => cli::manual::print_manpage(),
        None if cli.hash_password => cli::print_hash(),
        None => cli::serve(cli),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rawserve: error: {message}");
    ExitCode::FAILURE
}
