//! Uploads from real clients: curl (`-T` with and without
//! `Expect: 100-continue`, chunked from standard input, `-F` with several
//! files and a nested name, `MKCOL`, `MOVE`, `DELETE`) and Python's
//! requests (multipart, and a chunked `PUT` from a generator); each file
//! is then downloaded and compared byte for byte.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;
use crate::upload::{leftovers, upload_server};

/// curl's `--max-time` is 30 s here (a few MiB on a busy machine).
const CLIENT_LIMIT: Duration = Duration::from_secs(60);

/// Runs `curl -sS -w '%{http_code}' ARGS`, which must exit 0; the status.
fn curl_status(args: &[&str]) -> u16 {
    let mut command = Command::new("curl");
    command.args(["--max-time", "30", "-sS", "-o", "/dev/null", "-w", "%{http_code}"]).args(args);
    let output = run_ok(&mut command, CLIENT_LIMIT);
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("a status code")
}

/// Bytes that show any misplaced or repeated piece.
fn contents(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 11) as u8).collect()
}

#[test]
fn curl_uploads_with_put_chunked_and_forms_then_moves_and_deletes() {
    if !have_tool("curl") {
        return;
    }
    let server = upload_server(|_| {});
    let source = tempfile::tempdir().expect("temp dir");
    let big = contents(3 << 20, 1);
    let small = contents(10_000, 2);
    let (big_path, small_path) = (source.path().join("big.bin"), source.path().join("small.bin"));
    std::fs::write(&big_path, &big).unwrap();
    std::fs::write(&small_path, &small).unwrap();
    let (big_arg, small_arg) = (big_path.to_string_lossy().into_owned(), small_path.to_string_lossy().into_owned());
    let downloaded = |path: &str| server.get(path).body;

    // -T: curl waits for 100 Continue on a large body; and without Expect.
    assert_eq!(curl_status(&["-T", &big_arg, &url(&server, "/up/expect.bin")]), 201);
    assert_eq!(curl_status(&["-H", "Expect:", "-T", &big_arg, &url(&server, "/up/plain.bin")]), 201);
    assert_eq!(curl_status(&["-H", "Expect: 100-continue", "-T", &small_arg, &url(&server, "/up/small.bin")]), 201);
    assert_eq!(curl_status(&["-T", &small_arg, &url(&server, "/up/plain.bin")]), 204, "replaced");
    assert!(downloaded("/up/expect.bin") == big);
    assert_eq!(downloaded("/up/plain.bin"), small);
    assert_eq!(downloaded("/up/small.bin"), small);
    // Chunked: curl -T - reads standard input without knowing its length.
    let mut command = Command::new("curl");
    command
        .args(["--max-time", "30", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "-"])
        .arg(url(&server, "/up/chunked.bin"))
        .stdin(Stdio::from(std::fs::File::open(&big_path).unwrap()));
    let output = command.output().expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "201", "{}", String::from_utf8_lossy(&output.stderr));
    assert!(downloaded("/up/chunked.bin") == big);
    // -F: several files in one form, one of them into new folders.
    let form = ["-F", &format!("a=@{big_arg}"), "-F", &format!("b=@{small_arg};filename=deep/er/small copy.bin")];
    let mut args: Vec<&str> = form.to_vec();
    let target = url(&server, "/up/");
    args.push(&target);
    assert_eq!(curl_status(&args), 201);
    assert!(downloaded("/up/big.bin") == big);
    assert_eq!(downloaded("/up/deep/er/small%20copy.bin"), small);
    assert_eq!(curl_status(&args), 409, "a form does not replace unasked");
    let overwrite = url(&server, "/up/?overwrite=1");
    *args.last_mut().unwrap() = &overwrite;
    assert_eq!(curl_status(&args), 201);
    // MKCOL, MOVE, DELETE.
    assert_eq!(curl_status(&["-X", "MKCOL", &url(&server, "/up/made")]), 201);
    assert_eq!(curl_status(&["-X", "MKCOL", &url(&server, "/up/made")]), 405, "exists");
    let destination = format!("Destination: {}", url(&server, "/up/made/moved.bin"));
    assert_eq!(curl_status(&["-X", "MOVE", "-H", &destination, &url(&server, "/up/big.bin")]), 201);
    assert!(downloaded("/up/made/moved.bin") == big);
    assert_eq!(server.get("/up/big.bin").status, 404);
    assert_eq!(curl_status(&["-X", "DELETE", &url(&server, "/up/deep")]), 204);
    assert_eq!(server.get("/up/deep/er/small%20copy.bin").status, 404);
    assert!(!server.root().join("up/deep").exists());
    assert!(leftovers(&server.root()).is_empty());
}

/// Posts two files with requests (one in a subfolder), then PUTs a third
/// from a generator (chunked), and prints each download's SHA-256 and
/// the statuses.
const REQUESTS_SCRIPT: &str = r#"
import hashlib, sys, requests
base, seed = sys.argv[1], int(sys.argv[2])
one = bytes((i * 7 + seed) % 251 for i in range(700_000))
two = bytes((i * 13 + seed) % 241 for i in range(5_000))
r = requests.post(base + "/py/", files=[("f", ("one.bin", one)), ("f", ("sub/two.bin", two))], timeout=30)
print("post", r.status_code)
def pieces():
    for at in range(0, len(one), 65536):
        yield one[at:at + 65536]
r = requests.put(base + "/py/chunked.bin", data=pieces(), timeout=30)
print("put", r.status_code, r.request.headers.get("Transfer-Encoding"))
for path, sent in [("/py/one.bin", one), ("/py/sub/two.bin", two), ("/py/chunked.bin", one)]:
    got = requests.get(base + path, timeout=30).content
    print("same" if hashlib.sha256(got).digest() == hashlib.sha256(sent).digest() else "different", path)
"#;

#[test]
fn python_requests_posts_a_form_and_puts_chunked() {
    if !have_tool("python3") {
        return;
    }
    let has_requests =
        Command::new("python3").args(["-c", "import requests"]).output().is_ok_and(|o| o.status.success());
    if !has_requests {
        skipping("Python's requests is not installed", "pip install requests");
        return;
    }
    let server = upload_server(|_| {});
    std::fs::create_dir(server.root().join("py")).unwrap();
    let mut command = Command::new("python3");
    command.args(["-c", REQUESTS_SCRIPT, &format!("http://{}", server.addr()), "3"]);
    let output = run_ok(&mut command, CLIENT_LIMIT);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("post 201"), "{out}");
    assert!(out.contains("put 201 chunked"), "{out}");
    assert_eq!(out.matches("same ").count(), 3, "{out}");
    assert!(leftovers(&server.root()).is_empty());
}
