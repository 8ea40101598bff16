//! The manual page and the shell completions, from the same clap command
//! as `--help`. clap_mangen renders the name, the description and the
//! options; this module writes what it leaves out: a synopsis that shows
//! each option's argument, the EXIT STATUS, the ENVIRONMENT (every
//! `RAWSERVE_*` variable, from the options themselves, and the others the
//! command reads) and the EXAMPLES, which `--help` shows too.

use std::io::Write;

use clap::ArgAction;
use clap_mangen::Man;
use roff::{bold, italic, roman, Inline, Roff};

/// Typical commands and what they do, for `--help` and the manual.
const EXAMPLES: [(&str, &str); 7] = [
    ("rawserve", "serve ./public (or . when there is none) on 127.0.0.1:8080"),
    ("rawserve ~/site -p 9000 --open", "serve ~/site on port 9000 and open the browser"),
    ("rawserve notes.pdf", "serve one file"),
    ("rawserve -b 0.0.0.0 --qr", "serve the LAN; print every address and a QR code"),
    ("rawserve dist --spa --cors", "a single-page app whose files other origins may fetch"),
    (
        "rawserve -H 'X-Frame-Options: DENY' --cache-control-for 'assets/**=max-age=31536000, immutable'",
        "a header field on every response, and long caching for fingerprinted assets",
    ),
    ("rawserve --print-completions bash > /etc/bash_completion.d/rawserve", "install bash completions"),
];

/// What the exit status says, for the manual.
const EXIT_STATUS: [(&str, &str); 3] = [
    ("0", "stopped by SIGINT or SIGTERM once in-flight responses finished (or after --help, --version, --print-*)"),
    (
        "1",
        "could not start, with one line on standard error saying why (the folder, an address, a certificate, \
         a setting's value), or stopped at once by a second signal",
    ),
    ("2", "the command line or a RAWSERVE_* variable could not be read (a usage error)"),
];

/// Variables the command reads besides its options' own.
const OTHER_VARIABLES: [(&str, &str); 4] = [
    ("RUST_LOG", "level of the diagnostics on standard error (default info; warn quiets them)"),
    ("BROWSER", "the program --open starts (else xdg-open)"),
    ("NOTIFY_SOCKET", "set by systemd: READY=1 and STOPPING=1 are sent to it"),
    ("LISTEN_FDS, LISTEN_PID", "set by systemd socket activation: the listening sockets to serve on"),
];

/// The examples as `--help` ends with them.
pub fn examples_for_help() -> String {
    let width = EXAMPLES.iter().map(|(command, _)| command.len()).filter(|&len| len <= 40).max().unwrap_or(0);
    let mut text = String::from("Examples:");
    for (command, what) in EXAMPLES {
        match command.len() <= width {
            true => text.push_str(&format!("\n  {command:width$}  {what}")),
            // Too long to align: the command alone, as it is typed.
            false => text.push_str(&format!("\n  {command}")),
        }
    }
    text
}

/// Writes the completion script for `shell` to standard output.
pub fn print_completions(shell: clap_complete::Shell) -> Result<(), String> {
    clap_complete::generate(shell, &mut super::command(), "rawserve", &mut std::io::stdout());
    Ok(())
}

/// Writes the manual page (roff) to standard output.
pub fn print_manpage() -> Result<(), String> {
    let page = manual_page().map_err(|e| format!("cannot render the manual page: {e}"))?;
    std::io::stdout().write_all(page.as_bytes()).map_err(|e| format!("cannot write the manual page: {e}"))
}

/// The whole page: clap_mangen's sections and ours, in the usual order.
fn manual_page() -> std::io::Result<String> {
    let mut command = super::command().after_help(None::<&str>);
    // Built, so that `--help` and `--version` are among the arguments.
    command.build();
    let man = Man::new(command.clone());
    // Each piece clap_mangen renders begins with roff's preamble; keep the first.
    let preamble = Roff::new().render();
    let mut page = String::new();
    let mut add = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| -> std::io::Result<()> {
        let mut piece = Vec::new();
        render(&mut piece)?;
        let piece = String::from_utf8_lossy(&piece).into_owned();
        let body = if page.is_empty() { &piece[..] } else { piece.strip_prefix(&preamble).unwrap_or(&piece) };
        page.push_str(body);
        Ok(())
    };
    add(&|out| man.render_title(out))?;
    add(&|out| man.render_name_section(out))?;
    add(&|out| synopsis(&command).to_writer(out))?;
    add(&|out| man.render_description_section(out))?;
    add(&|out| man.render_options_section(out))?;
    add(&|out| list_section("EXIT STATUS", &EXIT_STATUS).to_writer(out))?;
    add(&|out| environment(&command).to_writer(out))?;
    add(&|out| examples().to_writer(out))?;
    add(&|out| man.render_version_section(out))?;
    Ok(page)
}

/// `rawserve [-p|--port PORT] [-b|--bind HOST]... [--cors[=ORIGIN]] … [ROOT]`:
/// every option with its argument, as clap_mangen's synopsis leaves them out.
fn synopsis(command: &clap::Command) -> Roff {
    let mut line = vec![bold(command.get_name()), roman(" ")];
    let value_of = |arg: &clap::Arg| match arg.get_value_names().and_then(|names| names.first()) {
        Some(name) => name.to_string(),
        None => arg.get_id().as_str().to_ascii_uppercase(),
    };
    for arg in command.get_arguments().filter(|arg| !arg.is_hide_set() && !arg.is_positional()) {
        let value = value_of(arg);
        line.push(roman("["));
        match (arg.get_short(), arg.get_long()) {
            (Some(short), Some(long)) => {
                line.extend([bold(format!("-{short}")), roman("|"), bold(format!("--{long}"))])
            }
            (Some(short), None) => line.push(bold(format!("-{short}"))),
            (None, Some(long)) => line.push(bold(format!("--{long}"))),
            (None, None) => continue,
        }
        let optional = arg.get_num_args().is_some_and(|range| range.min_values() == 0);
        match arg.get_action() {
            action if !action.takes_values() => {}
            _ if optional => line.extend([roman("[="), italic(value), roman("]")]),
            _ => line.extend([roman(" "), italic(value)]),
        }
        let repeatable = matches!(arg.get_action(), ArgAction::Append);
        line.push(roman(if repeatable { "]... " } else { "] " }));
    }
    for arg in command.get_positionals() {
        line.extend([roman("["), italic(value_of(arg)), roman("]")]);
    }
    let mut roff = Roff::new();
    // Options are not hyphenated across lines, and the line is not justified.
    roff.control("SH", ["SYNOPSIS"]).control("nh", []).control("ad", ["l"]).text(line);
    roff.control("ad", ["b"]).control("hy", []);
    roff
}

/// ENVIRONMENT: each option's variable (from the options, so none is
/// missed), then the other variables the command reads.
fn environment(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(
        "Every option can be given by a variable instead; the command line wins. On/off options take \
         1 or 0, true or false, yes or no, on or off; options that repeat take a comma-separated list \
         (except --header and --cache-control-for, whose values hold commas).",
    )]);
    for arg in command.get_arguments() {
        let Some(variable) = arg.get_env().and_then(|v| v.to_str()) else { continue };
        let option = match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => arg.get_id().as_str().to_ascii_uppercase(),
        };
        roff.control("TP", []).text([bold(variable)]).text([roman("as "), bold(option)]);
    }
    for (variable, what) in OTHER_VARIABLES {
        roff.control("TP", []).text([bold(variable)]).text([roman(what)]);
    }
    roff
}

/// A section of `.TP` items: a term in bold, its meaning.
fn list_section(title: &str, items: &[(&str, &str)]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", [title]);
    for (term, meaning) in items {
        roff.control("TP", []).text([bold(*term)]).text([roman(*meaning)]);
    }
    roff
}

/// EXAMPLES: each command as typed, then what it does.
fn examples() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    for (command, what) in EXAMPLES {
        let words: Vec<Inline> = vec![bold(command)];
        roff.control("TP", []).text(words).text([roman(what)]);
    }
    roff
}
