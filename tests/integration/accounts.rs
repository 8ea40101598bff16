//! Accounts (issue 22 item 1) over real sockets with real clients: the
//! challenge and 401s, passwords given plain and as argon2id and bcrypt
//! hashes, `--public-read`, what is guarded (files, listings, archives,
//! `/hello`, API routes) and what is not (the health path), the user
//! handed to handlers and written to the access log, guessing slowed for
//! one address while the user elsewhere gets in, curl's `-u` and Python
//! requests' `auth=`, `rawserve --hash-password`, and no secret in any
//! line the server writes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rawserve::{Request, Response};

use crate::support::*;

/// The challenge every 401 carries.
const CHALLENGE: &str = "Basic realm=\"rawserve\", charset=\"UTF-8\"";
/// Bounds one run of curl or python.
const TOOL_LIMIT: Duration = Duration::from_secs(60);
/// Passwords of the accounts below.
const PLAIN: &str = "plain-pw-7fq2";
const ARGON: &str = "argon-pw-k3v9";
const BCRYPT: &str = "bcrypt-pw-x8m1";

/// `alice` with a password as it is, `bob` with an argon2id hash, `carol`
/// with a bcrypt hash (cost 4, so tests stay quick); and the hashes.
fn accounts() -> (Vec<rawserve::config::Account>, String, String) {
    let argon = rawserve::hash_password(ARGON).expect("a hash");
    let bcrypt = bcrypt::hash(BCRYPT, 4).expect("a hash");
    let list = [format!("alice:{PLAIN}"), format!("bob:{argon}"), format!("carol:{bcrypt}")];
    (list.iter().map(|a| a.parse().expect("an account")).collect(), argon, bcrypt)
}

/// `Authorization: Basic …` for `user:password`.
fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A test server with the accounts, `/healthz`, and `/whoami` (the user a
/// handler is given) and `/api/note` (a POST route).
fn guarded(public_read: bool) -> TestServer {
    TestServer::start_routed(
        |config| {
            config.auth = accounts().0;
            config.public_read = public_read;
            config.health_path = Some("/healthz".into());
        },
        |router| {
            router
                .get("/whoami", |request: &Request| Response::text(request.user().unwrap_or("-").to_string()))
                .post("/api/note", |request: &Request| {
                    Response::text(format!("noted by {}", request.user().unwrap_or("-")))
                })
        },
    )
}

#[test]
fn every_request_needs_an_account_but_the_health_path() {
    let server = guarded(false);
    write(&server.root(), "nested/more.txt", b"more");
    for target in
        ["/hello", "/hello.txt", "/", "/nested/", "/nested/?download=zip", "/nested/?download=tar", "/whoami", "/nope"]
    {
        let r = get(&server, target, &[]);
        assert_eq!(r.status, 401, "{target}");
        assert_eq!(r.header("www-authenticate"), Some(CHALLENGE), "{target}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{target}");
    }
    // Wrong passwords: five at most in this test, which are free (past
    // them this address would be slowed, as the test below shows).
    for target in ["/hello", "/nested/?download=zip"] {
        let wrong = get(&server, target, &[("Authorization", &basic("alice", "wrong"))]);
        assert_eq!((wrong.status, wrong.header("www-authenticate")), (401, Some(CHALLENGE)), "{target}");
    }
    assert_eq!(request(&server, "POST", "/api/note", &[("Content-Length", "0")]).status, 401);
    assert_eq!(get(&server, "/healthz", &[]).status, 200, "balancers probe without credentials");
    for (user, password) in [("alice", PLAIN), ("bob", ARGON), ("carol", BCRYPT)] {
        let auth = basic(user, password);
        let with = |target: &str| get(&server, target, &[("Authorization", &auth)]);
        assert_eq!(with("/hello").text(), "Hello, world!", "{user}");
        assert_eq!(with("/hello.txt").text(), "hello file\n", "{user}");
        assert_eq!(with("/whoami").text(), user, "handlers know who asks");
        assert!(with("/nested/").text().contains("more.txt"), "{user}");
        assert_eq!(with("/nested/?download=tar").status, 200, "{user}");
        assert_eq!(with("/nope").status, 404, "{user}");
        let note = request(&server, "POST", "/api/note", &[("Authorization", &auth), ("Content-Length", "0")]);
        assert_eq!(note.text(), format!("noted by {user}"));
        // Another user's password, and a user's password in another case, are wrong.
        assert_eq!(get(&server, "/hello", &[("Authorization", &basic(user, &password.to_uppercase()))]).status, 401);
    }
}

#[test]
fn public_read_lets_anyone_read_and_only_accounts_write() {
    let server = guarded(true);
    assert_eq!(get(&server, "/hello.txt", &[]).text(), "hello file\n");
    assert_eq!(get(&server, "/whoami", &[]).text(), "-", "anonymous");
    assert_eq!(request(&server, "HEAD", "/hello.txt", &[]).status, 200);
    let post = request(&server, "POST", "/api/note", &[("Content-Length", "0")]);
    assert_eq!((post.status, post.header("www-authenticate")), (401, Some(CHALLENGE)));
    let auth = basic("alice", PLAIN);
    assert_eq!(get(&server, "/whoami", &[("Authorization", &auth)]).text(), "alice", "credentials still count");
    assert_eq!(get(&server, "/whoami", &[("Authorization", &basic("alice", "wrong"))]).status, 401);
    let note = request(&server, "POST", "/api/note", &[("Authorization", &auth), ("Content-Length", "0")]);
    assert_eq!(note.text(), "noted by alice");
}

/// Sends `GET /hello` with `password` for alice from `local` (a loopback
/// address of this machine, as curl's `--interface` binds it): the status
/// and `Retry-After`.
fn attempt_from(server: &TestServer, local: &str, password: &str) -> (u16, Option<u64>) {
    let output = run_ok(
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "-", "--interface", local, "-u"])
            .arg(format!("alice:{password}"))
            .arg(url(server, "/hello")),
        TOOL_LIMIT,
    );
    let head = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let retry = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse().ok());
    (status, retry)
}

#[test]
fn guessing_from_one_address_is_slowed_and_the_user_elsewhere_gets_in() {
    if !have_tool("curl") {
        return;
    }
    let server = guarded(false);
    let (attacker, user) = ("127.0.0.1", "127.0.0.2");
    // Five free guesses, and the sixth, answered 401 after a check...
    for guess in 0..6 {
        assert_eq!(attempt_from(&server, attacker, &format!("guess{guess}")), (401, None), "guess {guess}");
    }
    // ... then the address is refused, even with the right password, and
    // nothing is checked meanwhile.
    let (status, retry) = attempt_from(&server, attacker, PLAIN);
    assert_eq!((status, retry), (429, Some(1)));
    // The real user, from another address, gets in; a typo there is a 401.
    assert_eq!(attempt_from(&server, user, PLAIN), (200, None));
    assert_eq!(attempt_from(&server, user, "typo"), (401, None));
    // Measured: once the refusal ends, one more guess is checked, and the
    // next refusal is twice as long.
    let mut retries = vec![retry.unwrap_or_default()];
    for _ in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let started = Instant::now();
        loop {
            let (status, _) = attempt_from(&server, attacker, "again");
            if status == 401 {
                break;
            }
            assert_eq!(status, 429);
            assert!(Instant::now() < deadline, "the refusal never ended");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(started.elapsed() >= Duration::from_millis(900), "refused about as long as it said");
        let (status, retry) = attempt_from(&server, attacker, "again");
        assert_eq!(status, 429);
        retries.push(retry.expect("a Retry-After"));
    }
    assert_eq!(retries, [1, 2, 4], "each failure past the free ones doubles the wait");
}

/// Everything `server` writes (standard error and the access log) until a
/// line containing `last`, and that line.
fn lines_until(server: &Binary, last: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server.log.recv_timeout(left).unwrap_or_else(|_| panic!("no line with {last:?}: {lines:#?}"));
        let done = line.contains(last);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

#[test]
fn no_secret_in_any_line_and_the_user_in_the_access_log() {
    if !have_tool("curl") {
        return;
    }
    let (_, argon, bcrypt) = accounts();
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "file.txt", b"file");
    let root = site.path().to_str().expect("UTF-8 path");
    let (alice, bob, carol) = (format!("alice:{PLAIN}"), format!("bob:{argon}"), format!("carol:{bcrypt}"));
    let server =
        Binary::start(&[root, "--auth", &alice, "--auth", &bob, "--auth", &carol, "--log-format", "combined"], "trace");
    let at = |path: &str| format!("http://{}{path}", server.addr);
    for (user, password) in
        [("alice", PLAIN), ("bob", ARGON), ("carol", BCRYPT), ("alice", "wrong-pw-q0"), ("mallory", PLAIN)]
    {
        run_ok(
            Command::new("curl").args(["-s", "-o", "/dev/null", "-u", &format!("{user}:{password}"), &at("/file.txt")]),
            TOOL_LIMIT,
        );
    }
    run_ok(Command::new("curl").args(["-s", "-o", "/dev/null", &at("/last")]), TOOL_LIMIT);
    let lines = lines_until(&server, "\"GET /last HTTP/1.1\" 401");
    let secrets = [PLAIN, ARGON, BCRYPT, "wrong-pw-q0", &argon, &bcrypt];
    for line in &lines {
        for secret in secrets {
            assert!(!line.contains(secret), "a secret in {line:?}");
        }
        assert!(!line.contains("Basic "), "credentials in {line:?}");
    }
    let access = |needle: &str| {
        lines.iter().any(|line| line.starts_with(needle) && line.contains("\"GET /file.txt HTTP/1.1\" 200"))
    };
    for user in ["alice", "bob", "carol"] {
        assert!(access(&format!("127.0.0.1 - {user} [")), "{user} in the user field: {lines:#?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("127.0.0.1 - - [") && l.contains("\" 401 ")), "{lines:#?}");
    // A refused --auth names the user, never the secret.
    let refused = Command::new(env!("CARGO_BIN_EXE_rawserve"))
        .args([root, "--port", "0", "--auth", "dave:$argon2id$v=19$notahash-zz9"])
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("--auth `dave` has a secret that starts like an argon2 hash but is not one"), "{said}");
    assert!(!said.contains("notahash-zz9"), "{said}");
}

#[test]
fn curl_and_python_requests_log_in() {
    if !have_tool("curl") || !have_tool("python3") {
        return;
    }
    let server = guarded(false);
    let curl = |args: &[&str]| {
        let output = run_ok(
            Command::new("curl").args(["-s", "-w", " %{http_code}"]).args(args).arg(url(&server, "/whoami")),
            TOOL_LIMIT,
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(curl(&["-u", &format!("bob:{ARGON}")]), "bob 200");
    assert!(curl(&[]).ends_with(" 401"));
    assert!(curl(&["-u", "bob:wrong"]).ends_with(" 401"));
    // Credentials in the URL, as a browser's address bar takes them.
    let in_url = url(&server, "/whoami").replace("http://", &format!("http://carol:{BCRYPT}@"));
    let output = run_ok(Command::new("curl").args(["-s", &in_url]), TOOL_LIMIT);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "carol");
    let script = "import sys, requests\n\
        url = sys.argv[1]\n\
        anonymous = requests.get(url)\n\
        assert anonymous.status_code == 401 and anonymous.headers['WWW-Authenticate'].startswith('Basic realm='), anonymous\n\
        answer = requests.get(url, auth=('alice', sys.argv[2]))\n\
        print(answer.status_code, answer.text)\n";
    let output =
        run_ok(Command::new("python3").arg("-c").arg(script).arg(url(&server, "/whoami")).arg(PLAIN), TOOL_LIMIT);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "200 alice");
}

#[test]
fn hash_password_prints_a_hash_that_logs_in() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rawserve"))
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(b"piped secret \xc3\xa9\n").expect("write");
    let output = child.wait_with_output().expect("exits");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let hash = String::from_utf8(output.stdout).expect("UTF-8");
    let hash = hash.strip_suffix('\n').expect("one line");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains("piped secret"));
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "file.txt", b"file");
    let server =
        Binary::start(&[site.path().to_str().expect("UTF-8"), "-q", "--auth", &format!("erin:{hash}")], "warn");
    let fetch = |authorization: &str| {
        let mut stream = connect(server.addr);
        send(
            &mut stream,
            &format!(
                "GET /file.txt HTTP/1.1\r\nHost: t\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
            ),
        );
        read_response(&mut stream, false).expect("a response").status
    };
    assert_eq!(fetch(&basic("erin", "piped secret \u{e9}")), 200);
    assert_eq!(fetch(&basic("erin", "piped secret")), 401);
    // An empty password is refused, and nothing is printed.
    let empty = Command::new(env!("CARGO_BIN_EXE_rawserve"))
        .arg("--hash-password")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!((empty.status.code(), empty.stdout.len()), (Some(1), 0));
}

#[test]
fn accounts_over_plain_http_on_the_network_are_warned_of() {
    let site = tempfile::tempdir().expect("temp dir");
    let root = site.path().to_str().expect("UTF-8");
    let exposed = Binary::start(&[root, "-q", "-b", "0.0.0.0", "--auth", "alice:pw"], "warn");
    let line = exposed.wait_for_log("warning: passwords are sent in clear text over plain HTTP");
    assert!(line.contains("0.0.0.0") && line.contains("--tls-self-signed"), "{line}");
    let local = Binary::start(&[root, "-q", "--auth", "alice:pw", "--public-read"], "warn");
    let said = local.wait_for_log("rawserve: 1 account");
    assert!(said.contains("anyone may read"), "{said}");
}
