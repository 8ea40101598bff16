//! The `rawserve` command's options. The server's and the folder's
//! settings are the library's own structs, [`Config`] and [`FileOptions`],
//! flattened into the command: each flag, its `RAWSERVE_*` variable, its
//! help and its default come from where the setting is defined, and parsing
//! yields those structs, with nothing copied by hand. This module adds only
//! what belongs to the command (the root, where to listen, the HTTPS files,
//! `--quiet`, the browser, the QR code, completions and the manual), and
//! sorts what stops it: a value the server's own rules refuse (a header
//! field, a glob, a type, an origin, an index name) is one sentence and exit
//! status 1, like every start-up failure; anything else clap reports as a
//! usage error (status 2).

pub mod manual;
mod password;
mod serve;
mod startup;

use std::error::Error as _;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueHint};
use rawserve::config::SettingError;
use rawserve::{Config, Cors, FileOptions};

pub use password::print_hash;
pub use serve::serve;

/// A small, fast, correct HTTP/1.1 static file server.
///
/// Serves ROOT (and a hello-world page at /hello, unless ROOT has a `hello`
/// of its own) until SIGINT or SIGTERM; the access log goes to standard
/// output, diagnostics to standard error (RUST_LOG=warn quiets them; the
/// start-up lines with the URLs are always printed). SIGHUP reopens the
/// access log file. Every option can also be set by an environment variable,
/// RAWSERVE_ and its name in capitals (RAWSERVE_PORT=9000).
#[derive(Parser, Debug)]
#[command(name = "rawserve", version, about)]
pub struct Cli {
    /// Folder to serve, or a single file [default: ./public if it exists, else .]
    #[arg(env = "RAWSERVE_ROOT")]
    pub root: Option<PathBuf>,
    /// Port to listen on (0 picks a free one)
    #[arg(short, long, env = "RAWSERVE_PORT", default_value_t = Config::new().addr.port())]
    pub port: u16,
    /// Address or host name to listen on; repeat for more (-b 127.0.0.1 -b ::1).
    /// 0.0.0.0 or :: listens on every interface and prints each address
    #[arg(short, long, env = "RAWSERVE_BIND", value_name = "HOST", value_delimiter = ',',
          default_values_t = [Config::new().addr.ip().to_string()])]
    pub bind: Vec<String>,

    /// The server's settings: threads, limits, timeouts, access log, proxies.
    #[command(flatten)]
    pub config: Config,
    /// The folder's settings: what is served and with which header fields.
    #[command(flatten)]
    pub files: FileOptions,

    /// No access log (same as --access-log off); the start-up line stays
    #[arg(short, long, env = "RAWSERVE_QUIET", value_parser = boolish())]
    pub quiet: bool,

    // HTTPS (rustls). Plain HTTP sent to the port is redirected to https://.
    /// Serve HTTPS with this certificate chain (PEM, leaf first; needs --tls-key)
    #[arg(
        long,
        env = "RAWSERVE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC)
    #[arg(long, env = "RAWSERVE_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at start for localhost, 127.0.0.1, ::1 and this machine's addresses
    #[arg(long, env = "RAWSERVE_TLS_SELF_SIGNED", value_parser = boolish())]
    pub tls_self_signed: bool,
    /// Write the generated certificate (PEM) to PATH, e.g. for curl --cacert PATH
    #[arg(long, env = "RAWSERVE_TLS_WRITE_CERT", value_name = "PATH", requires = "tls_self_signed")]
    pub tls_write_cert: Option<PathBuf>,

    /// Open the first URL in the default browser ($BROWSER, else xdg-open)
    #[arg(long, env = "RAWSERVE_OPEN", value_parser = boolish())]
    pub open: bool,
    /// Print a QR code of the first LAN URL for phones (with the default
    /// loopback bind, of a URL only this machine can open: use -b 0.0.0.0)
    #[arg(long, env = "RAWSERVE_QR", value_parser = boolish())]
    pub qr: bool,
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) and exit
    #[arg(long, value_name = "SHELL")]
    pub print_completions: Option<clap_complete::Shell>,
    /// Print the manual page (roff) and exit
    #[arg(long)]
    pub print_manpage: bool,
    /// Read a password from standard input (without echo from a terminal,
    /// asked twice), print its argon2id hash for --auth USER:HASH, and exit
    #[arg(long)]
    pub hash_password: bool,

    /// Whether `--max-connections` (or its variable) was given: if not, the
    /// default is lowered to what the open-file limit allows.
    #[arg(skip)]
    pub max_connections_given: bool,
}

/// What stops the command before it serves.
pub enum Refusal {
    /// clap's own: a usage error (status 2), or `--help`/`--version`
    /// (status 0); `exit` prints it.
    Usage(clap::Error),
    /// A value the server's rules refuse: one sentence, status 1.
    Setting(SettingError),
}

impl Cli {
    /// The options from the command line and the environment.
    pub fn read() -> Result<Cli, Refusal> {
        let matches = command().try_get_matches().map_err(refusal)?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(refusal)?;
        if let Some(each) = matches.get_many::<Option<Cors>>("cors") {
            cli.files.cors = combined(each.flatten());
        }
        let source = matches.value_source("max_connections");
        cli.max_connections_given = source.is_some_and(|source| source != ValueSource::DefaultValue);
        Ok(cli)
    }
}

/// `--cors` given more than once (`--cors=https://a.example
/// --cors=https://b.example`): the origins add up, and any origin wins.
fn combined<'a>(each: impl Iterator<Item = &'a Cors>) -> Option<Cors> {
    let mut all: Option<Cors> = None;
    for cors in each {
        all = match (all, cors) {
            (Some(Cors::AnyOrigin), _) | (_, Cors::AnyOrigin) => Some(Cors::AnyOrigin),
            (Some(Cors::Origins(mut list)), Cors::Origins(more)) => {
                list.extend(more.iter().filter(|&origin| !list.contains(origin)).cloned().collect::<Vec<_>>());
                Some(Cors::Origins(list))
            }
            (None, cors) => Some(cors.clone()),
        };
    }
    all
}

/// A clap error whose cause is a [`SettingError`] is that sentence.
fn refusal(error: clap::Error) -> Refusal {
    match error.source().and_then(|cause| cause.downcast_ref::<SettingError>()) {
        Some(setting) => Refusal::Setting(setting.clone()),
        None => Refusal::Usage(error),
    }
}

/// The command as clap sees it (for parsing, `--help`, completions and the
/// manual), with the examples under the help and shell completion offering
/// file names only for the options that take a path.
pub fn command() -> clap::Command {
    Cli::command().after_help(manual::examples_for_help()).mut_args(|arg| {
        // Any value that is not a path and names no values of its own (a
        // number, an origin, a header field) completes as typed.
        let free_text = arg.get_action().takes_values()
            && arg.get_value_hint() == ValueHint::Unknown
            && arg.get_value_parser().possible_values().is_none();
        if free_text {
            arg.value_hint(ValueHint::Other)
        } else {
            arg
        }
    })
}

/// On/off flags also take `1`/`0`, `yes`/`no`, `on`/`off` from their
/// environment variable (`RAWSERVE_QR=1`).
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_cors_options_add_up() {
        let list = |origins: &[&str]| Cors::Origins(origins.iter().map(|o| o.to_string()).collect());
        let cases = [
            (vec![], None),
            (vec![list(&["http://a"])], Some(list(&["http://a"]))),
            (vec![list(&["http://a"]), list(&["http://b", "http://a"])], Some(list(&["http://a", "http://b"]))),
            (vec![list(&["http://a"]), Cors::AnyOrigin], Some(Cors::AnyOrigin)),
            (vec![Cors::AnyOrigin, list(&["http://a"])], Some(Cors::AnyOrigin)),
        ];
        for (each, all) in cases {
            assert_eq!(combined(each.iter()), all, "{each:?}");
        }
    }
}
