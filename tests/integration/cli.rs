//! The `rawserve` command as a user meets it: start-up errors, help,
//! IPv6, graceful exit on SIGTERM, settings refused in one sentence naming
//! the flag and the variable, CORS from the environment, the QR code's
//! note, the manual page and bash completion.

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

use crate::support::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rawserve")).args(args).output().expect("run rawserve")
}

/// Exit code 1 and one line on stderr naming the problem, no backtrace.
fn fails_with(args: &[&str], message: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn start_up_mistakes_get_one_clear_line() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    fails_with(&["/no/such/dir"], "cannot serve /no/such/dir");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    fails_with(&[root, "--port", &port], "already in use");
    fails_with(&[root, "--bind", "192.0.2.1"], "cannot listen on 192.0.2.1");

    fails_with(&[root, "--bind", "not-an-address.invalid"], "cannot listen on `not-an-address.invalid`");
    let out = run(&[root, "--port", "http"]);
    assert_eq!(out.status.code(), Some(2)); // clap's usage error
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
}

/// `fails_with`, for arguments that might otherwise start a server: the
/// run is bounded, and `as_nobody` runs it as user nobody (root may bind
/// low ports and read any folder).
fn refused(args: &[&str], as_nobody: bool, needles: &[&str]) {
    let mut command = if as_nobody {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_rawserve")]);
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_rawserve"))
    };
    let out = run_with_timeout(command.args(args), IO_TIMEOUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{args:?}: {stderr} lacks {needle:?}");
    }
}

#[test]
fn start_up_errors_say_what_to_try() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    refused(&["/no/such/dir"], false, &["cannot serve /no/such/dir", "try `rawserve .`"]);
    refused(&[root, "-b", "192.0.2.1"], false, &["192.0.2.1 is not an address of this machine", "-b 0.0.0.0"]);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    refused(&[root, "-p", &port], false, &["already in use", "--port 0"]);
    refused(&[root, "-H", "Bad Name: x"], false, &["--header `Bad Name`", "not a token"]);
    refused(&[root, "-H", "X-A: a\u{1}b"], false, &["--header `X-A`", "control character"]);
    refused(&[root, "-H", "no colon"], false, &["is not `Name: value`"]);
    refused(&[root, "-H", "Content-Type: text/plain"], false, &["--mime"]);
    refused(&[root, "--cache-control-for", "a/[=no-store"], false, &["--cache-control-for `a/[`"]);
    refused(&[root, "--cache-control-for", "assets/**"], false, &["is not `GLOB=VALUE`"]);
    refused(&[root, "--mime", "md"], false, &["is not `EXT=TYPE`"]);
    refused(&[root, "--mime", "md=markdown"], false, &["not a media type"]);
    refused(&[root, "--cors=http://a b"], false, &["--cors"]);
    refused(&[root, "--cors="], false, &["--cors= needs an origin"]);
    refused(&[root, "--index", "../x.html"], false, &["index name"]);
    if !have_tool("setpriv") {
        return;
    }
    // Unprivileged: a low port, and a root that this user may not read.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("index.html"), b"x").unwrap();
    let dir_path = dir.path().to_str().unwrap();
    refused(&[dir_path, "-p", "80"], true, &["127.0.0.1:80", "ports below 1024", "--port 8080"]);
    for mode in [0o000, 0o311, 0o744] {
        // No read (cannot list), or no search (cannot open anything).
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        refused(&[locked.to_str().unwrap(), "-p", "0"], true, &["cannot serve", "Permission denied"]);
    }
}

#[test]
fn help_and_version() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--port", "--bind", "--threads", "--follow-symlinks", "[ROOT]", "--cors", "--spa", "Examples:"] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
    let version = run(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("rawserve {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn serves_over_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--bind", "::1"], "warn,rawserve=info");
    assert!(server.addr.is_ipv6());
    let mut stream = connect(server.addr);
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().body, b"Hello, world!");
}

#[test]
fn sigterm_finishes_the_response_in_flight_and_exits_zero() {
    let site = Site::new();
    let mut server = Binary::start(&[site.root().to_str().unwrap()], "info");
    // A keep-alive connection whose response is still being received.
    let mut busy = connect(server.addr);
    send(&mut busy, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut idle = connect(server.addr);
    send(&mut idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut idle, false).unwrap().status, 200);
    // Wait until the big response has started (its first byte is here).
    assert_eq!(busy.peek(&mut [0u8; 1]).expect("the response starts"), 1);

    server.signal(libc::SIGTERM);
    let r = read_response(&mut busy, false).expect("in-flight response completes");
    assert!(r.body == big_contents());
    assert_closed(&mut busy);
    assert_closed(&mut idle);
    assert!(server.wait_exit().success());
    assert!(std::net::TcpStream::connect(server.addr).is_err(), "new connections are refused");
}

#[test]
fn the_access_log_escapes_what_the_request_sent() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap()], "info");
    let mut stream = connect(server.addr);
    // A quote and a backslash would let a target end the field and forge
    // the status; non-ASCII bytes are written as \xHH, as nginx does.
    stream.write_all("GET /x\"\\\u{e9}\" 200 1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".as_bytes()).unwrap();
    let response = read_response(&mut stream, false).expect("a response");
    assert_eq!(response.status, 400, "spaces in the target make it malformed");
    let mut stream = connect(server.addr);
    stream.write_all("GET /x\"\\\u{e9} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".as_bytes()).unwrap();
    // safe_path refuses the backslash (400); what matters is the log line.
    let status = read_response(&mut stream, false).expect("a response").status;
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let line = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match server.log.recv_timeout(left) {
            Ok(line) if line.contains("GET /x") => break line,
            Ok(_) => {}
            Err(_) => panic!("no access line for GET /x"),
        }
    };
    assert!(line.contains(&format!(r#""GET /x\"\\\xC3\xA9 HTTP/1.1" {status} "#)), "{line}");
}

/// The path of the binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_rawserve");

/// The `RAWSERVE_*` variable of a long flag.
fn variable_of(flag: &str) -> String {
    format!("RAWSERVE_{}", flag.trim_start_matches("--").replace('-', "_").to_uppercase())
}

#[test]
fn setting_errors_name_the_value_the_flag_and_the_variable() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    // A bad value for each setting with a syntax of the server's own, and
    // what the one sentence says of it.
    let cases = [
        ("--header", "Bad Name: x", "--header `Bad Name` is not a token"),
        ("--header", "X-A: a\u{1}b", "--header `X-A` has a control character in its value"),
        ("--header", "no colon", "--header `no colon` is not `Name: value`"),
        ("--header", "Content-Type: text/plain", "--header `Content-Type` is written by the file server: use --mime"),
        ("--header", "Date: today", "--header `Date` is written by the server itself"),
        ("--cache-control", "a\u{1}b", "--cache-control `a\\u{1}b` has a control character"),
        ("--cache-control-for", "a/[=no-store", "--cache-control-for `a/[` is not a glob"),
        ("--cache-control-for", "assets/**", "--cache-control-for `assets/**` is not `GLOB=VALUE`"),
        ("--mime", "md=markdown", "--mime `markdown` is not a media type such as `text/plain`"),
        ("--mime", "a/b=text/plain", "--mime `a/b` is not a file extension"),
        ("--cors", "notanorigin", "--cors `notanorigin` is not an origin such as `https://app.example`"),
        ("--cors", "null", "--cors `null` is not an origin"),
        ("--cors", "https://a.example/path", "--cors `https://a.example/path` is not an origin"),
        ("--cors", "https://a.example:99999", "--cors `https://a.example:99999` is not an origin such as"),
        ("--index", "../x.html", "--index `../x.html` is not an index name"),
    ];
    for (flag, value, sentence) in cases {
        let variable = variable_of(flag);
        let by_flag =
            run_with_timeout(Command::new(BIN).args([root, "-p", "0", &format!("{flag}={value}")]), IO_TIMEOUT);
        let by_variable = run_with_timeout(Command::new(BIN).args([root, "-p", "0"]).env(&variable, value), IO_TIMEOUT);
        for (given, out) in [(format!("{flag}={value:?}"), by_flag), (format!("{variable}={value:?}"), by_variable)] {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{given}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{given}: one line: {stderr}");
            assert!(stderr.starts_with(&format!("rawserve: error: {sentence}")), "{given}: {stderr}");
            assert!(stderr.trim_end().ends_with(&format!("(from {flag} or {variable})")), "{given}: {stderr}");
        }
    }
}

#[test]
fn cors_variables_are_booleans_like_the_others_and_origins_are_checked() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let ask = |addr: std::net::SocketAddr, origin: &str| {
        let mut stream = connect(addr);
        send(
            &mut stream,
            &format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"),
        );
        let response = read_response(&mut stream, false).expect("a response");
        response.header("access-control-allow-origin").map(str::to_string)
    };
    // As RAWSERVE_SPA=1 turns --spa on: any origin; an "off" word: none.
    for (value, allowed) in [("1", Some("*")), ("true", Some("*")), ("yes", Some("*")), ("0", None), ("false", None)] {
        let server = Binary::start_with_env(&[root, "--quiet"], "warn", &[("RAWSERVE_CORS", value)]);
        assert_eq!(ask(server.addr, "http://app.test").as_deref(), allowed, "RAWSERVE_CORS={value}");
    }
    // A listed origin is echoed as browsers send it (no trailing slash, no
    // default port); repeated lists add up; another origin gets nothing.
    let server = Binary::start(&[root, "--quiet", "--cors=http://app.test:80/", "--cors=http://admin.test"], "warn");
    assert_eq!(ask(server.addr, "http://app.test").as_deref(), Some("http://app.test"));
    assert_eq!(ask(server.addr, "http://admin.test").as_deref(), Some("http://admin.test"));
    assert_eq!(ask(server.addr, "http://evil.test"), None);
}

#[test]
fn a_qr_code_for_a_loopback_url_says_no_phone_can_open_it() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let server = Binary::start(&[root, "--qr", "--quiet"], "warn");
    let hint = server.wait_for_log("only this machine can open");
    assert!(hint.contains(&format!("http://{}", server.addr)), "{hint}");
    assert!(hint.contains("-b 0.0.0.0"), "{hint}");

    // Bound to every interface, the code is for a LAN address when this
    // machine has one, and then needs no note. All of stderr is read (up
    // to the exit after SIGTERM), so a missing note is not a race.
    let mut server = Binary::start(&[root, "-b", "0.0.0.0", "--qr", "--quiet"], "warn");
    server.wait_for_log("█");
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let rest: Vec<String> = server.log.iter().collect();
    let lan = rawserve::lan_addresses().into_iter().any(|ip| ip.is_ipv4());
    let noted = rest.iter().any(|line| line.contains("only this machine can open"));
    assert_eq!(noted, !lan, "a note only without a LAN address: {rest:?}");
}

#[test]
fn the_manual_shows_option_arguments_the_environment_and_exit_statuses() {
    let page = run_ok(Command::new(BIN).arg("--print-manpage"), IO_TIMEOUT);
    if !have_tool("man") {
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &page.stdout).unwrap();
    // Wide enough that no paragraph wraps: one line each.
    let shown = run_ok(
        Command::new("man").arg("-l").arg(file.path()).env("MANPAGER", "cat").env("MANWIDTH", "4000"),
        IO_TIMEOUT,
    );
    let text = String::from_utf8_lossy(&shown.stdout);
    // A section's text: from its heading to the next heading (a line that
    // starts at the left margin).
    let section = |name: &str| -> String {
        let start = text.find(&format!("\n{name}\n")).unwrap_or_else(|| panic!("no {name} section:\n{text}"));
        let body = &text[start + name.len() + 2..];
        let mut line_starts = body.match_indices('\n').map(|(i, _)| i + 1);
        let end = line_starts.find(|&i| body[i..].starts_with(|c: char| c.is_ascii_uppercase()));
        body[..end.unwrap_or(body.len())].to_string()
    };
    let synopsis = section("SYNOPSIS");
    for usage in [
        "[-p|--port PORT]",
        "[-b|--bind HOST]...",
        "[--head-timeout SECS]",
        "[--log-format FORMAT]",
        "[--compress LEVEL|off]",
        "[--cors[=ORIGIN]]",
        "[-H|--header NAME: VALUE]...",
        "[--spa]",
        "[ROOT]",
    ] {
        assert!(synopsis.contains(usage), "the synopsis lacks {usage}: {synopsis}");
    }
    // Every variable --help names is in ENVIRONMENT, with the other ones.
    let environment = section("ENVIRONMENT");
    let help = run_ok(Command::new(BIN).arg("--help"), IO_TIMEOUT);
    let help = String::from_utf8_lossy(&help.stdout);
    let variables: Vec<&str> = help.split("[env: ").skip(1).filter_map(|rest| rest.split(['=', ']']).next()).collect();
    assert!(variables.len() > 40, "{variables:?}");
    for variable in variables.iter().copied().chain(["RUST_LOG", "BROWSER", "NOTIFY_SOCKET", "LISTEN_FDS"]) {
        assert!(environment.contains(variable), "ENVIRONMENT lacks {variable}: {environment}");
    }
    assert!(environment.contains("RAWSERVE_PORT\n") && environment.contains("as --port"), "{environment}");
    let statuses = section("EXIT STATUS");
    for (status, meaning) in [("0", "stopped by SIGINT or SIGTERM"), ("1", "could not start"), ("2", "usage error")] {
        let said = statuses.lines().find(|line| line.trim_start().starts_with(&format!("{status} ")));
        assert!(said.is_some_and(|line| line.contains(meaning)), "exit status {status}: {statuses}");
    }
}

#[test]
fn bash_completion_offers_values_and_file_names_only_for_paths() {
    if !have_tool("bash") {
        return;
    }
    let script = run_ok(Command::new(BIN).args(["--print-completions", "bash"]), IO_TIMEOUT).stdout;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rawserve.bash"), script).unwrap();
    std::fs::write(dir.path().join("some-file.txt"), b"x").unwrap();
    // What bash offers for the last word of a command line: the function
    // `complete -p` names, run as bash runs it.
    let offered = |words: &[&str]| -> Vec<String> {
        let driver = r#"
            source ./rawserve.bash
            spec=$(complete -p rawserve) || exit 3
            function=${spec##*-F }; function=${function%% *}
            COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
            "$function" rawserve "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
            printf '%s\n' "${COMPREPLY[@]}""#;
        let out = run_ok(
            Command::new("bash").arg("-c").arg(driver).arg("bash").args(words).current_dir(dir.path()),
            IO_TIMEOUT,
        );
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
    };
    assert_eq!(offered(&["rawserve", "--log-format", ""]), ["common", "combined", "json"]);
    assert_eq!(offered(&["rawserve", "--log-format", "co"]), ["common", "combined"]);
    let levels = offered(&["rawserve", "--compress", ""]);
    assert!(levels.contains(&"6".to_string()) && levels.contains(&"off".to_string()), "{levels:?}");
    assert!(offered(&["rawserve", "--print-completions", ""]).contains(&"bash".to_string()));
    for flag in ["--port", "--header", "--cache-control-for", "--mime", "--bind", "--max-head-bytes", "--health"] {
        let words = offered(&["rawserve", flag, ""]);
        assert!(!words.iter().any(|w| w.contains("some-file")), "{flag} offers file names: {words:?}");
    }
    for flag in ["--tls-cert", "--access-log"] {
        assert_eq!(offered(&["rawserve", flag, "some"]), ["some-file.txt"], "{flag} takes a path");
    }
}
