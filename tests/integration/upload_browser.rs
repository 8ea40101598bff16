//! Uploads from a real browser: headless Chromium, driven over the
//! DevTools protocol (a pipe, `--remote-debugging-pipe`, spoken by a small
//! Python script, so nothing beyond Chromium and Python is needed), picks
//! a file and then a folder in the listing page's form, submits it, and
//! the page's script uploads them with progress and reloads; the test
//! then finds them listed and downloads them byte for byte. A second
//! upload of the same name makes the page ask before replacing.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::browser::CHROMIUM;
use crate::support::*;
use crate::upload::leftovers;

/// Chromium's cold start on a busy machine, the uploads and two reloads.
const LIMIT: Duration = Duration::from_secs(120);

/// Drives Chromium: `python3 - CHROMIUM URL FILE FOLDER PROFILE`. Prints
/// `dialog: …` for each dialog (accepted), then `listing: …` with the
/// page's rows after each upload's reload.
const DRIVER: &str = r#"
import json, os, select, subprocess, sys, time
chromium, url, file, folder, profile = sys.argv[1:6]
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
def fds():
    os.dup2(to_chrome_r, 3)
    os.dup2(from_chrome_w, 4)
child = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
    pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r); os.close(from_chrome_w)
reader = os.fdopen(from_chrome_r, "rb")
ids = iter(range(1, 1 << 30))
buffer = b""
events = []
session = None
def read_message():
    global buffer
    while b"\0" not in buffer:
        if not select.select([from_chrome_r], [], [], 30)[0]:
            raise SystemExit("chromium said nothing for 30 s")
        chunk = os.read(from_chrome_r, 65536)
        if not chunk:
            raise SystemExit("chromium closed the pipe")
        buffer += chunk
    message, buffer = buffer.split(b"\0", 1)
    return json.loads(message)
def call(method, **params):
    n = next(ids)
    message = {"id": n, "method": method, "params": params}
    if session and not method.startswith("Target."):
        message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    while True:
        reply = read_message()
        if reply.get("id") == n:
            if "error" in reply:
                raise SystemExit(f"{method}: {reply['error']}")
            return reply.get("result", {})
        handle(reply)
def handle(event):
    if event.get("method") == "Page.javascriptDialogOpening":
        print("dialog:", event["params"]["message"], flush=True)
        n = next(ids)
        os.write(to_chrome_w, json.dumps({"id": n, "method": "Page.handleJavaScriptDialog",
            "params": {"accept": True}, "sessionId": session}).encode() + b"\0")
    events.append(event)
def wait_for(name, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        for i, e in enumerate(events):
            if e.get("method") == name:
                del events[: i + 1]
                return e
        handle(read_message())
    raise SystemExit(f"no {name} within {deadline}s")
def evaluate(expression):
    result = call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
    return result.get("result", {}).get("value")
def evaluate_now(expression):
    # None while the page is between documents (a reload).
    try:
        result = call("Runtime.evaluate", expression=expression, returnByValue=True)
    except SystemExit as e:
        if "chromium" in str(e):
            raise
        return None
    return result.get("result", {}).get("value")
def choose_and_submit(selector, path):
    document = call("DOM.getDocument", depth=-1)
    node = call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector=selector)["nodeId"]
    call("DOM.setFileInputFiles", nodeId=node, files=[path])
    # A folder is read asynchronously: submit once its files are there.
    end = time.time() + 30
    while not evaluate(f"document.querySelector({json.dumps(selector)}).files.length > 0"):
        if time.time() > end:
            raise SystemExit(f"no file in {selector} after choosing {path}")
        time.sleep(0.1)
    evaluate("window.before = true; document.querySelector('form.files').requestSubmit()")
    # The page reloads once its uploads are done: a new document, loaded.
    end, state = time.time() + 60, None
    while time.time() < end:
        state = evaluate_now("window.before ? 'waiting: ' + document.getElementById('queue').innerText : document.readyState")
        if state == "complete":
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"the page did not reload after its uploads: {state!r}")
    print("listing:", evaluate("[...document.querySelectorAll('tbody a')].map(a=>a.textContent).join(' ')"), flush=True)
try:
    target = [t for t in call("Target.getTargets")["targetInfos"] if t["type"] == "page"][0]
    session = call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
    call("Page.enable")
    call("Runtime.enable")
    call("Page.navigate", url=url)
    wait_for("Page.loadEventFired")
    events.clear()
    choose_and_submit("form.files input[type=file]:not([webkitdirectory])", file)
    choose_and_submit("form.files input[webkitdirectory]", folder)
    # The same file again: the page asks first (the dialog is accepted).
    choose_and_submit("form.files input[type=file]:not([webkitdirectory])", file)
finally:
    child.kill()
    child.wait()
"#;

/// Runs the driver against `url`; its output lines.
fn drive(url: &str, file: &Path, folder: &Path) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut command = Command::new("python3");
    command.args(["-c", DRIVER, CHROMIUM, url]).arg(file).arg(folder).arg(profile.path());
    let output = run_ok(&mut command, LIMIT);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn chromium_uploads_a_file_and_a_folder_through_the_listing_page() {
    if !have_tool(CHROMIUM) || !have_tool("python3") {
        return;
    }
    let source = tempfile::tempdir().expect("temp dir");
    let file_bytes: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    let file = source.path().join("photo one.bin");
    std::fs::write(&file, &file_bytes).unwrap();
    let folder = source.path().join("album");
    write(&folder, "a.txt", b"first file of the folder\n");
    write(&folder, "inner/b.bin", &file_bytes[..70_000]);
    let root = tempfile::tempdir().expect("temp dir");
    write(root.path(), "existing.txt", b"here before\n");
    let mut files = test_files(root.path());
    files.upload = true;
    files.delete = true;
    let server = rawserve::Server::bind(test_config(), site_router(rawserve::Router::new(), files)).expect("starts");
    let url = format!("http://{}/", server.local_addr());

    let out = drive(&url, &file, &folder);
    let listings: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("listing: ")).collect();
    assert_eq!(listings.len(), 3, "three uploads, each followed by a reload:\n{out}");
    assert!(listings[0].contains("photo one.bin") && listings[0].contains("existing.txt"), "{out}");
    assert!(listings[1].contains("album/"), "the folder is listed:\n{out}");
    assert!(out.contains("dialog: photo one.bin exists here. Replace it?"), "the page asked:\n{out}");
    // Downloaded byte for byte, the folder's tree kept.
    let addr = server.local_addr();
    let download = |path: &str| {
        let mut stream = connect(addr);
        send(&mut stream, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
        read_response(&mut stream, false).expect("a response")
    };
    assert!(download("/photo%20one.bin").body == file_bytes, "the file, byte for byte");
    assert_eq!(download("/album/a.txt").body, b"first file of the folder\n");
    assert!(download("/album/inner/b.bin").body == file_bytes[..70_000], "the folder's file, byte for byte");
    assert!(download("/album/inner/").text().contains("b.bin"));
    assert!(leftovers(root.path()).is_empty());
}
