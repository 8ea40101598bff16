//! Test harness: a fixture site, an in-process server on port 0, a raw
//! socket client and a minimal HTTP response reader. Every wait has a
//! timeout; nothing sleeps and hopes.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rawserve::{Config, FileOptions, Request, Router, Server, StaticFiles};

/// How long any single read in a test may wait before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A 1 KiB file's exact contents.
pub fn kib_contents() -> Vec<u8> {
    (0..1024u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A larger file (3 MiB) whose bytes depend on their offset, so any
/// misplaced or repeated chunk is caught.
pub fn big_contents() -> Vec<u8> {
    (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// Builds the fixture site in a new temporary directory:
/// index.html, hello.txt, kib.bin, big.bin, style.css, app.js, data.json,
/// img.png, sub/index.html, nested/ (no index), .secret, and `escape` (a
/// symlink to a file outside the root).
pub struct Site {
    pub dir: tempfile::TempDir,
    /// Holds the target of the `escape` symlink alive.
    pub _outside: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        write(root, "index.html", b"<!doctype html><title>home</title>");
        write(root, "hello.txt", b"hello file\n");
        write(root, "kib.bin", &kib_contents());
        write(root, "big.bin", &big_contents());
        write(root, "style.css", b"body{}");
        write(root, "app.js", b"export {}");
        write(root, "data.json", b"{}");
        write(root, "img.png", b"\x89PNG\r\n\x1a\n");
        write(root, "sub/index.html", b"sub index");
        write(root, "nested/file.txt", b"nested");
        write(root, ".secret", b"top secret");
        write(outside.path(), "passwd", b"root:x:0:0");
        std::os::unix::fs::symlink(outside.path().join("passwd"), root.join("escape")).expect("symlink");
        Site { dir, _outside: outside }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

pub fn write(root: &Path, name: &str, contents: &[u8]) {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&path, contents).expect("write fixture");
    // Ten seconds old, as a deployed file would be: a file modified in the
    // response's second gets no Last-Modified (files.rs), and tests that
    // check dates want one.
    let aged = std::time::SystemTime::now() - Duration::from_secs(10);
    fs::File::options().write(true).open(&path).and_then(|f| f.set_modified(aged)).expect("age fixture");
}

/// A server on 127.0.0.1:0 over a fixture site; stopped on drop.
pub struct TestServer {
    pub server: Server,
    pub site: Site,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// With the server's settings adjusted.
    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_setup(|setup| adjust(&mut setup.config), |router| router)
    }

    /// With the site's file options adjusted.
    pub fn start_files(adjust: impl FnOnce(&mut FileOptions)) -> TestServer {
        TestServer::start_setup(|setup| adjust(&mut setup.files), |router| router)
    }

    /// As `start_with`, with routes added in front of the standard site's.
    pub fn start_routed(adjust: impl FnOnce(&mut Config), routes: impl FnOnce(Router) -> Router) -> TestServer {
        TestServer::start_setup(|setup| adjust(&mut setup.config), routes)
    }

    /// One worker (so every request meets the same caches) with `watches`
    /// inotify watches (`FileOptions::cache_watches`).
    pub fn start_one_worker(watches: usize) -> TestServer {
        TestServer::start_setup(
            |setup| {
                setup.config.threads = 1;
                setup.files.cache_watches = watches;
            },
            |router| router,
        )
    }

    /// The general case: settings and file options adjusted, routes added.
    pub fn start_setup(adjust: impl FnOnce(&mut Setup), routes: impl FnOnce(Router) -> Router) -> TestServer {
        let site = Site::new();
        let mut setup = Setup { config: test_config(), files: test_files(site.root()) };
        adjust(&mut setup);
        let router = site_router(routes(Router::new()), setup.files);
        let server = Server::bind(setup.config, router).expect("server starts");
        TestServer { server, site }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn root(&self) -> PathBuf {
        self.site.root().to_path_buf()
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.addr())
    }

    /// One request on a new connection; returns the response.
    pub fn get(&self, target: &str) -> Response {
        let mut stream = self.connect();
        send(&mut stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
        read_response(&mut stream, false).expect("a response")
    }
}

/// What the `rawserve` command serves: `/hello` and the files of
/// `config.files`, after whatever `router` already holds.
pub fn site_router(router: Router, files: FileOptions) -> Router {
    let files = StaticFiles::with_options(files).expect("the root is a directory");
    router.get("/hello", |_: &Request| rawserve::Response::text("Hello, world!")).fallback(files)
}

/// What a test server is made from: the server's settings and its site's.
pub struct Setup {
    pub config: Config,
    pub files: FileOptions,
}

/// Port 0 on loopback, two workers.
pub fn test_config() -> Config {
    let mut config = Config::new();
    config.addr = "127.0.0.1:0".parse().expect("address");
    config.threads = 2;
    // Tests that read the access log run the binary (`Binary`).
    config.access_log = rawserve::LogDestination::Off;
    config
}

/// Serving `root` with the defaults, but no racy window: the fixtures were
/// written a moment ago, and none is rewritten within a timestamp tick
/// (security.rs tests the racy window on its own).
pub fn test_files(root: &Path) -> FileOptions {
    let mut files = FileOptions::new(root);
    files.racy_window = Duration::ZERO;
    files
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

pub fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).expect("send");
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request (with extra header lines, on a connection of its
/// own) and returns the response.
pub fn request(server: &TestServer, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = server.connect();
    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    send(&mut stream, &format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n"));
    read_response(&mut stream, method == "HEAD").expect("a response")
}

/// [`request`] with `GET`.
pub fn get(server: &TestServer, target: &str, headers: &[(&str, &str)]) -> Response {
    request(server, "GET", target, headers)
}

/// Reads exactly one response (head, then a `Content-Length` body, or to
/// EOF when there is none). `head_only` is for responses to HEAD.
/// `None` when the connection closes before a response starts; anything
/// else that goes wrong fails the test with [`try_read_response`]'s reason.
pub fn read_response(stream: &mut impl Read, head_only: bool) -> Option<Response> {
    try_read_response(stream, head_only).unwrap_or_else(|why| panic!("{why}"))
}

/// Fails the test unless the server has closed the connection (EOF or
/// reset) within the stream's read timeout, with [`try_closed`]'s reason.
pub fn assert_closed(stream: &mut TcpStream) {
    if let Err(why) = try_closed(stream) {
        panic!("{why}");
    }
}

/// `http://ADDR/path` for clients that take URLs.
pub fn url(server: &TestServer, path: &str) -> String {
    format!("http://{}{path}", server.addr())
}

/// The `rawserve` binary running as a child process on a free port.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// stderr lines after the start-up line, and stdout lines (the access
    /// log), as they come.
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Binary {
    /// Starts `rawserve ARGS --port 0` and waits for its first URL line.
    pub fn start(args: &[&str], rust_log: &str) -> Binary {
        Binary::start_limited(args, rust_log, None)
    }

    /// As `start`, with the child's open-file limit (soft and hard) set to
    /// `nofile` when given.
    pub fn start_limited(args: &[&str], rust_log: &str, nofile: Option<u64>) -> Binary {
        Binary::start_in_env(args, rust_log, nofile, &[])
    }

    /// As `start`, with these environment variables (`RAWSERVE_CORS=1`).
    pub fn start_with_env(args: &[&str], rust_log: &str, env: &[(&str, &str)]) -> Binary {
        Binary::start_in_env(args, rust_log, None, env)
    }

    fn start_in_env(args: &[&str], rust_log: &str, nofile: Option<u64>, env: &[(&str, &str)]) -> Binary {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let mut command = Command::new(env!("CARGO_BIN_EXE_rawserve"));
        if let Some(limit) = nofile {
            // SAFETY: setrlimit is async-signal-safe and touches no parent state.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command
            .args(args)
            .args(["--port", "0"])
            .envs(env.iter().copied())
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rawserve");
        let stderr = child.stderr.take().expect("piped stderr");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let (err_tx, out_tx) = (tx.clone(), tx);
        // The URL line comes first on stderr; access lines only after requests.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if err_tx.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if out_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The first URL: on the first line, or (bound to every interface)
        // on the first of the lines listing the addresses.
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        let mut addr = None;
        while addr.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = rx.recv_timeout(left) else { break };
            addr = line
                .split("://") // http:// or https://
                .nth(1)
                .and_then(|url| url.split_whitespace().next())
                .and_then(|url| url.parse::<SocketAddr>().ok());
        }
        let Some(addr) = addr else {
            // Not yet a `Binary`, whose drop would stop it: stop it here.
            let _ = child.kill();
            let _ = child.wait();
            panic!("rawserve did not log its start-up line with a URL within {IO_TIMEOUT:?}");
        };
        Binary { child, addr, log: rx }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Threads of the child process, from /proc.
    pub fn threads(&self) -> usize {
        fs::read_dir(format!("/proc/{}/task", self.pid())).expect("/proc").count()
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// Waits (bounded) for the child to exit.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + IO_TIMEOUT * 3;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "rawserve did not exit");
            // Polling a child's exit status has no blocking-with-timeout API.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Says why a test skips: `what` is missing, and `fix` would provide it.
/// With `RAWSERVE_REQUIRE_TOOLS` set (CI sets it) nothing may be missing,
/// so the test fails instead. The one home of that rule.
pub fn skipping(what: &str, fix: &str) {
    assert!(
        std::env::var_os("RAWSERVE_REQUIRE_TOOLS").is_none(),
        "{what}, and RAWSERVE_REQUIRE_TOOLS requires every tool ({fix})"
    );
    eprintln!("skipped: {what} ({fix})");
}

/// Whether an external program (curl, wget, chromium…) is installed. When
/// it is not, the test skips ([`skipping`]).
pub fn have_tool(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        skipping(&format!("{program} is not installed"), &format!("apt-get install {program}"));
    }
    found
}

/// A file system mounted for one test (`mount ARGS TARGET`), unmounted when
/// dropped, so also when the test fails. `None`, with the reason printed,
/// where this process may not mount (not root): unless
/// `RAWSERVE_REQUIRE_TOOLS` is set (CI runs as root), which makes that a
/// failure.
pub struct Mount {
    target: PathBuf,
}

impl Mount {
    pub fn new(args: &[&str], target: &Path) -> Option<Mount> {
        let output = std::process::Command::new("mount").args(args).arg(target).output();
        match output {
            Ok(out) if out.status.success() => Some(Mount { target: target.to_path_buf() }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                skipping(&format!("cannot mount {args:?} here: {why}"), "run as root");
                None
            }
        }
    }

    /// Unmounts now (what dropping it does).
    pub fn unmount(self) {}
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = std::process::Command::new("umount").arg(&self.target).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a descriptor a failing test left open): detach it.
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.target).status();
        }
    }
}

impl Binary {
    /// Waits (bounded) for a log line containing `needle`; returns it.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no log line containing {needle:?} within {IO_TIMEOUT:?}"),
            }
        }
    }

    /// A `/proc/PID/status` figure in KiB (`"VmRSS:"`, `"VmHWM:"`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number of KiB")
    }

    /// CPU time (user + system) the child has used, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("/proc stat");
        // Fields after the command name (which is in parentheses).
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }
}

/// A server on 127.0.0.1:0 over an arbitrary directory (a fixture a test
/// built itself); stopped on drop.
pub fn serve_dir(root: &Path) -> Server {
    let router = site_router(Router::new(), test_files(root));
    Server::bind(test_config(), router).expect("server starts")
}

/// Runs an external program to completion with stdin closed and its output
/// captured, but never for longer than `limit`: past it the program and
/// everything it started (its own process group, e.g. a browser's helper
/// processes) are killed and the test fails.
pub fn run_with_timeout(command: &mut std::process::Command, limit: Duration) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::sync::mpsc;
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let pid = child.id() as i32;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send(bytes);
        });
        rx
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let (tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let deadline = std::time::Instant::now() + limit;
    let kill_group = || {
        // SAFETY: kill(2) on the process group this function created; its
        // leader has not been reaped yet when the deadline passes.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    };
    let status = match exited.recv_timeout(limit) {
        Ok(status) => status.unwrap_or_else(|e| panic!("wait for {program}: {e}")),
        Err(_) => {
            kill_group();
            panic!("{program} did not finish within {limit:?}; killed it");
        }
    };
    let collect = |rx: mpsc::Receiver<Vec<u8>>, what: &str| {
        let left = deadline.saturating_duration_since(std::time::Instant::now()).max(Duration::from_secs(1));
        rx.recv_timeout(left).unwrap_or_else(|_| {
            // A helper process outlived the program and holds the pipe open.
            kill_group();
            panic!("{program} exited but its {what} stayed open past {limit:?}");
        })
    };
    let stdout = collect(stdout, "stdout");
    let stderr = collect(stderr, "stderr");
    std::process::Output { status, stdout, stderr }
}

/// Reads one response and reports what went wrong instead of panicking, so
/// one odd answer in a table of hostile inputs does not hide the cases
/// after it. Byte by byte, so nothing of a following pipelined response is
/// consumed. `Ok(None)` when the connection closes (EOF or reset) before a
/// response; `head_only` is for responses to HEAD.
pub fn try_read_response(stream: &mut impl Read, head_only: bool) -> Result<Option<Response>, String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(format!("closed mid-head: {:?}", String::from_utf8_lossy(&buf))),
            Ok(_) => buf.push(byte[0]),
            Err(e) if buf.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(match buf.is_empty() {
                    true => "neither a response nor a close in time: the connection stayed open".to_string(),
                    false => format!("no complete response in time (got {:?})", String::from_utf8_lossy(&buf)),
                });
            }
            Err(e) => return Err(format!("reading the head: {e}")),
        }
        if buf.len() > 64 * 1024 {
            return Err("response head over 64 KiB".to_string());
        }
    }
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut fields);
    match parsed.parse(&buf) {
        Ok(httparse::Status::Complete(_)) => {}
        other => return Err(format!("invalid response head ({other:?}): {:?}", String::from_utf8_lossy(&buf))),
    }
    let status = parsed.code.ok_or("no status code")?;
    let headers: Vec<(String, String)> =
        parsed.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    let length =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.parse::<usize>());
    let mut body = Vec::new();
    if !(head_only || status < 200 || status == 204 || status == 304) {
        match length {
            Some(Ok(n)) => {
                body.resize(n, 0);
                stream.read_exact(&mut body).map_err(|e| format!("reading a {n}-byte body: {e}"))?;
            }
            Some(Err(e)) => return Err(format!("bad Content-Length in the response: {e}")),
            None => {
                stream.read_to_end(&mut body).map_err(|e| format!("reading the body to EOF: {e}"))?;
            }
        }
    }
    Ok(Some(Response { status, headers, body }))
}

/// `Ok` when the server has closed the connection (EOF or reset) within
/// the stream's read timeout; otherwise what it did instead.
pub fn try_closed(stream: &mut TcpStream) -> Result<(), String> {
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!("more data after the response: {:?}", String::from_utf8_lossy(&buf[..n]))),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Err("the connection stayed open".to_string())
        }
        Err(e) => Err(format!("reading after the response: {e}")),
    }
}

/// `run_with_timeout`, and the program must succeed: a failure shows its
/// exit status, stderr and stdout.
pub fn run_ok(command: &mut std::process::Command, limit: Duration) -> std::process::Output {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = run_with_timeout(command, limit);
    assert!(
        output.status.success(),
        "{program} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

/// A fresh connection to `addr` gets `Hello, world!` for `GET /hello`.
pub fn assert_hello(addr: SocketAddr) {
    let mut stream = connect(addr);
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("a response").body, b"Hello, world!");
}
