//! Running rawserve as a service, from the files that ship it: the systemd
//! units verify (`systemd-analyze verify`) against the built binary, the
//! default `/etc/default/rawserve` names only variables rawserve reads and
//! serves under socket activation as the units run it, and the
//! `Containerfile`'s health check asks `--health` correctly; where this
//! machine can build containers, the image is built and serves a file.
//! (Installing the .deb itself is `packaging/check-deb`, a CI step: it
//! touches the system.)

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{have_tool, read_response, run_with_timeout, send, Binary, Site, IO_TIMEOUT};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The `KEY=VALUE` lines of an environment file, comments left out.
fn assignments(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not KEY=VALUE: {line:?}"));
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn the_units_verify_against_the_built_binary() {
    if !have_tool("systemd-analyze") {
        return;
    }
    // As installed, but naming this build's binary and the repository's
    // default settings (verify checks that both exist).
    let dir = tempfile::tempdir().expect("temp dir");
    let service = std::fs::read_to_string(repo("packaging/rawserve.service")).expect("the service unit");
    assert!(
        service.contains("ExecStart=/usr/bin/rawserve\n")
            && service.contains("EnvironmentFile=-/etc/default/rawserve\n")
    );
    let service = service
        .replace("ExecStart=/usr/bin/rawserve", &format!("ExecStart={}", env!("CARGO_BIN_EXE_rawserve")))
        .replace("/etc/default/rawserve", repo("packaging/rawserve.default").to_str().unwrap());
    for required in ["DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes", "Type=notify"]
    {
        assert!(service.lines().any(|line| line == required), "the service lacks {required}");
    }
    std::fs::write(dir.path().join("rawserve.service"), service).expect("write the unit");
    std::fs::copy(repo("packaging/rawserve.socket"), dir.path().join("rawserve.socket")).expect("copy the socket");
    // `Documentation=man:rawserve(1)` is checked with `man`: the page as
    // the package installs it, found through MANPATH.
    let man1 = dir.path().join("man/man1");
    std::fs::create_dir_all(&man1).expect("mkdir");
    let page = Command::new(env!("CARGO_BIN_EXE_rawserve")).arg("--print-manpage").output().expect("the manual page");
    std::fs::write(man1.join("rawserve.1"), page.stdout).expect("write the manual page");
    let output = run_with_timeout(
        Command::new("systemd-analyze")
            .env("MANPATH", dir.path().join("man"))
            .arg("verify")
            .arg(dir.path().join("rawserve.socket"))
            .arg(dir.path().join("rawserve.service")),
        IO_TIMEOUT,
    );
    let report = String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && report.trim().is_empty(), "systemd-analyze verify:\n{report}");
}

#[test]
fn the_default_settings_name_only_variables_rawserve_reads() {
    let help = Command::new(env!("CARGO_BIN_EXE_rawserve")).arg("--help").output().expect("rawserve --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let text = std::fs::read_to_string(repo("packaging/rawserve.default")).expect("the default settings");
    // Commented-out examples too: a misspelt one would be silently ignored
    // once uncommented.
    let named = text
        .lines()
        .filter_map(|line| line.trim_start_matches('#').split_once('='))
        .map(|(name, _)| name.trim())
        .filter(|name| name.starts_with("RAWSERVE_"));
    let mut count = 0;
    for name in named {
        assert!(help.contains(&format!("[env: {name}=")), "{name} is not a variable of `rawserve --help`");
        count += 1;
    }
    assert!(count >= 8, "only {count} variables named");
    assert_eq!(
        assignments(&text).iter().find(|(k, _)| k == "RAWSERVE_ROOT").map(|(_, v)| v.as_str()),
        Some("/srv/www")
    );
}

#[test]
fn the_default_settings_serve_under_socket_activation() {
    if !have_tool("systemd-socket-activate") {
        return;
    }
    let site = Site::new();
    let text = std::fs::read_to_string(repo("packaging/rawserve.default")).expect("the default settings");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    // As rawserve.service runs it: the socket passed, the settings from
    // the environment, no arguments; only the folder is this test's.
    let mut command = Command::new("systemd-socket-activate");
    command.args(["-l", &format!("127.0.0.1:{port}")]);
    for (key, value) in assignments(&text) {
        let value = if key == "RAWSERVE_ROOT" { site.root().to_str().unwrap().to_string() } else { value };
        command.args(["-E", &format!("{key}={value}")]);
    }
    let mut child = command
        .arg(env!("CARGO_BIN_EXE_rawserve"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + IO_TIMEOUT;
    let served = loop {
        if let Ok(mut stream) = TcpStream::connect(addr) {
            stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
            send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            break read_response(&mut stream, false);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(served.expect("rawserve answers on the activated socket").body, b"hello file\n");
}

/// The `bash -c` script of the Containerfile's HEALTHCHECK (the third
/// string of its exec-form JSON array).
fn health_check_script() -> String {
    let text = std::fs::read_to_string(repo("Containerfile")).expect("the Containerfile");
    let line = text.lines().find(|line| line.trim_start().starts_with("CMD [\"bash\"")).expect("a CMD [\"bash\", …]");
    let mut strings = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '"') => current = Some(String::new()),
            (Some(_), '"') => strings.extend(current.take()),
            (Some(s), '\\') => match chars.next() {
                Some('n') => s.push('\n'),
                Some(other) => s.push(other),
                None => break,
            },
            (Some(s), c) => s.push(c),
            (None, _) => {}
        }
    }
    assert_eq!(strings[..2], ["bash", "-c"]);
    strings.swap_remove(2)
}

#[test]
fn the_containerfile_health_check_asks_the_health_path() {
    if !have_tool("bash") {
        return;
    }
    let script = health_check_script();
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let check = |server: &Binary| {
        let env = [("RAWSERVE_PORT", server.addr.port().to_string()), ("RAWSERVE_HEALTH", "/healthz".to_string())];
        run_with_timeout(Command::new("bash").args(["-c", &script]).envs(env), IO_TIMEOUT).status
    };
    let healthy = Binary::start(&[root, "--health", "/healthz"], "warn");
    assert!(check(&healthy).success(), "the health check failed against a healthy server");
    // Without --health the path is a missing file: 404, unhealthy.
    let without = Binary::start(&[root], "warn");
    assert!(!check(&without).success(), "the health check passed without a health path");
}

#[test]
fn the_container_image_builds_and_serves_a_file() {
    // Not a tool CI installs: where podman is missing or cannot build (no
    // registry to pull the base images from), this says so and skips.
    let podman = Command::new("podman").arg("--version").output();
    if !podman.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: podman is not installed, so no container image is built (apt-get install podman)");
        return;
    }
    let tag = format!("localhost/rawserve-test:{}", std::process::id());
    let build = run_with_timeout(
        Command::new("podman")
            .args(["build", "--format", "docker", "-t", &tag, "-f"])
            .arg(repo("Containerfile"))
            .arg(repo("")),
        Duration::from_secs(1800),
    );
    if !build.status.success() {
        let why = String::from_utf8_lossy(&build.stderr);
        let pulling = why.contains("pull") || why.contains("registry") || why.contains("lookup");
        assert!(pulling, "podman build failed:\n{why}");
        let last = why.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        eprintln!("skipped: podman cannot pull the base images here, so no image is built ({last})");
        return;
    }
    /// Removes the test's container and image, however the test ends.
    struct Cleanup(String, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("podman").args(["rm", "-f", "-t", "5", &self.0]).output();
            let _ = Command::new("podman").args(["rmi", "-f", &self.1]).output();
        }
    }
    let site = Site::new();
    // The container's user owns nothing here: the folder must be open to all.
    std::fs::set_permissions(site.root(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let name = format!("rawserve-test-{}", std::process::id());
    let _cleanup = Cleanup(name.clone(), tag.clone());
    let run = run_with_timeout(
        Command::new("podman")
            .args(["run", "-d", "--rm", "--name", &name, "-p", &format!("127.0.0.1:{port}:8080"), "-v"])
            .arg(format!("{}:/srv/www:ro", site.root().display()))
            .arg(&tag),
        IO_TIMEOUT * 6,
    );
    if !run.status.success() {
        let why = String::from_utf8_lossy(&run.stderr);
        // Built, but this machine's runtime cannot start containers (a
        // cgroup layout or limits crun/runc refuse): that is the machine's.
        assert!(why.contains("OCI runtime") || why.contains("crun:"), "podman run: {why}");
        eprintln!("skipped: the image built, but podman cannot run containers here ({})", why.trim());
        return;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + IO_TIMEOUT * 3;
    let served = loop {
        let answer = TcpStream::connect(addr).ok().and_then(|mut stream| {
            stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
            send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            crate::support::try_read_response(&mut stream, false).ok().flatten()
        });
        if answer.is_some() || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(served.expect("the container answers").body, b"hello file\n");
}
