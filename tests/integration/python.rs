//! Python's standard-library client (`http.client`) end to end: three
//! requests on one persistent connection.

use std::process::Command;
use std::time::Duration;

use crate::support::*;

const PYTHON_LIMIT: Duration = Duration::from_secs(30);

/// Makes one GET per path on a single `HTTPConnection`, reading each body
/// whole before the next request (as http.client requires), and prints one
/// tab-separated line per response: path, status, local port and identity
/// of the socket it came on, whether http.client will close it, and the
/// body in hex.
const SCRIPT: &str = r#"
import http.client, sys
host, port, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
conn = http.client.HTTPConnection(host, port, timeout=10)
for path in paths:
    conn.request("GET", path)
    response = conn.getresponse()
    sock = conn.sock
    local_port = sock.getsockname()[1]
    body = response.read()
    print(path, response.status, local_port, id(sock), response.will_close, body.hex(), sep="\t")
conn.close()
"#;

struct Line {
    path: String,
    status: u16,
    local_port: u16,
    socket_id: String,
    will_close: String,
    body: Vec<u8>,
}

fn parse(line: &str) -> Line {
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 6, "unexpected line {line:?}");
    let hex = fields[5];
    let body = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    Line {
        path: fields[0].to_string(),
        status: fields[1].parse().expect("status"),
        local_port: fields[2].parse().expect("port"),
        socket_id: fields[3].to_string(),
        will_close: fields[4].to_string(),
        body,
    }
}

#[test]
fn python_http_client_keeps_one_connection_for_three_requests() {
    if !have_tool("python3") {
        return;
    }
    let server = TestServer::start();
    let addr = server.addr();
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args(["/hello", "/kib.bin", "/missing"]);
    let output = run_ok(&mut command, PYTHON_LIMIT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Line> = stdout.lines().map(parse).collect();
    assert_eq!(lines.len(), 3, "{stdout}");

    assert_eq!((lines[0].path.as_str(), lines[0].status), ("/hello", 200));
    assert_eq!(lines[0].body, b"Hello, world!");
    assert_eq!((lines[1].path.as_str(), lines[1].status), ("/kib.bin", 200));
    assert_eq!(lines[1].body, kib_contents());
    assert_eq!((lines[2].path.as_str(), lines[2].status), ("/missing", 404));
    assert!(!lines[2].body.is_empty(), "a 404 has a body saying so");

    // One socket, one local port, never marked for closing: keep-alive.
    for line in &lines {
        assert_eq!(line.local_port, lines[0].local_port, "{} came on another connection:\n{stdout}", line.path);
        assert_eq!(line.socket_id, lines[0].socket_id, "{} came on another socket:\n{stdout}", line.path);
        assert_eq!(line.will_close, "False", "http.client would close after {}:\n{stdout}", line.path);
    }
}
