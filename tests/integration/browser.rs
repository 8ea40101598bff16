//! A real browser end to end: headless Chromium loads the demo site (an ES
//! module, a stylesheet, an image, a fetch), takes screenshots, and seeks
//! in an audio file, which only works when ranges are answered with 206.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::*;

pub const CHROMIUM: &str = "chromium";

/// A cold Chromium start on a busy two-core machine takes a few seconds;
/// the page itself runs on virtual time (`--virtual-time-budget`).
const CHROMIUM_LIMIT: Duration = Duration::from_secs(90);

/// Flags for a quiet, self-contained headless run: no sandbox (containers),
/// no GPU, no QUIC, no first-run or background traffic to other hosts.
pub const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Where `npm ci` put playwright-core (`.ci/run` does it), beside the
/// scripts that drive the browsers through it.
pub fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("browser")
}

/// Whether `browser`, node and playwright-core are here (see `have_tool`).
pub fn have_driver(browser: &str) -> bool {
    if !have_tool(browser) || !have_tool("node") {
        return false;
    }
    let installed = driver_dir().join("node_modules").join("playwright-core").is_dir();
    if !installed {
        skipping("playwright-core is not installed", "npm ci --prefix tests/browser");
    }
    installed
}

fn demo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("public")
}

/// Runs Chromium with a fresh profile, the fixed flags, `extra` and `url`.
pub fn chromium(extra: &[&str], url: &str) -> Output {
    let profile = tempfile::tempdir().expect("profile dir");
    chromium_in(profile.path(), extra, url)
}

/// Runs Chromium with the profile (and so the HTTP cache) in `profile`.
fn chromium_in(profile: &Path, extra: &[&str], url: &str) -> Output {
    let mut command = Command::new(CHROMIUM);
    command
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--virtual-time-budget=5000")
        .args(extra)
        .arg(url);
    run_ok(&mut command, CHROMIUM_LIMIT)
}

/// The DOM after the page's scripts ran.
fn dump_dom(url: &str) -> String {
    String::from_utf8(chromium(&["--dump-dom"], url).stdout).expect("UTF-8 DOM")
}

/// Asserts that the demo page's four live checks are green in `dom`. Each
/// is written by /app.js, which the browser only runs as a module when
/// served with a JavaScript type; the stylesheet check needs text/css, the
/// image check a decodable PNG, the fetch /hello.
pub fn assert_live_checks(dom: &str) {
    for expected in [
        "data-module=\"loaded\"",
        "module script: loaded",
        "fetch /hello: Hello, world!",
        "image: loaded 128x128",
        "stylesheet: loaded",
    ] {
        assert!(dom.contains(expected), "{expected:?} missing from the DOM:\n{dom}");
    }
    assert!(!dom.contains("pending"), "a check never finished:\n{dom}");
}

/// Screenshots `url` at 1280x900 into target/screenshots/`name`.
fn screenshot(url: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    chromium(&["--window-size=1280,900", &format!("--screenshot={}", path.display())], url);
    let png = std::fs::read(&path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
    assert!(png.len() > 10 * 1024, "{} is only {} bytes: a blank page?", path.display(), png.len());
    path
}

#[test]
fn chromium_runs_the_demo_page_module_stylesheet_image_and_fetch() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let server = serve_dir(&demo_root());
    let dom = dump_dom(&format!("http://{}/", server.local_addr()));
    assert_live_checks(&dom);
}

#[test]
fn chromium_screenshots_the_demo_page() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let server = serve_dir(&demo_root());
    let path = screenshot(&format!("http://{}/", server.local_addr()), "demo.png");
    eprintln!("screenshot: {}", path.display());
}

#[test]
fn chromium_screenshots_a_directory_listing() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let server = serve_dir(&demo_root());
    let url = format!("http://{}/files/", server.local_addr());
    // The listing is a real page the browser renders: every file of
    // public/files/ is a link in it.
    let dom = dump_dom(&url);
    assert!(dom.contains("Index of /files/"), "not a listing:\n{dom}");
    for link in ["href=\"nested/\"", "href=\"space%20name.txt\"", "href=\"readme.txt\"", "href=\"../\""] {
        assert!(dom.contains(link), "{link} missing from the listing:\n{dom}");
    }
    let path = screenshot(&url, "listing.png");
    eprintln!("screenshot: {}", path.display());
}

/// An 8-bit mono PCM WAV file of `samples` samples at 8 kHz.
fn wav(samples: u32) -> Vec<u8> {
    let rate = 8000u32;
    let mut bytes = Vec::with_capacity(44 + samples as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + samples).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes()); // bytes per second
    bytes.extend_from_slice(&1u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&samples.to_le_bytes());
    // A quiet sawtooth, so the file is valid sound and not all one byte.
    bytes.extend((0..samples).map(|i| 128 - 16 + (i % 32) as u8));
    bytes
}

/// An access log line's request line, status and byte count.
fn access_entry(line: &str) -> Option<(&str, u16, u64)> {
    let open = line.find('"')?;
    // The request field ends at the first `" ` (quotes inside are escaped);
    // in the combined format, referer and user agent follow the byte count.
    let close = open + 1 + line[open + 1..].find("\" ")?;
    let request = line.get(open + 1..close)?;
    let mut rest = line[close + 1..].split_whitespace();
    let status = rest.next()?.parse().ok()?;
    let bytes = rest.next().map_or(0, |b| b.parse().unwrap_or(0));
    Some((request, status, bytes))
}

const SEEK_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>seek</title></head>
<body>
<p id="status">pending</p>
<audio id="player" src="/tone.wav" preload="auto"></audio>
<script>
const player = document.getElementById("player");
const status = document.getElementById("status");
player.addEventListener("loadedmetadata", () => {
  status.textContent = "metadata " + player.duration;
  player.currentTime = player.duration / 2;
});
player.addEventListener("seeked", () => {
  status.textContent = "seeked to " + player.currentTime + " of " + player.duration;
});
player.addEventListener("error", () => {
  status.textContent = "media error " + (player.error && player.error.code);
});
</script>
</body></html>
"#;

#[test]
fn chromium_seeks_in_audio_with_range_requests() {
    if !have_tool(CHROMIUM) {
        return;
    }
    // 16 MiB of sound (about 35 minutes at 8 kB/s). Chromium buffers only a
    // few MiB ahead of the play position and keeps reading the first
    // response when a seek lands close by, so a small file never shows a
    // seek as its own request; the middle of this one is far past that.
    let samples = 16 << 20;
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "index.html", SEEK_PAGE.as_bytes());
    let tone = wav(samples);
    let size = tone.len() as u64;
    write(site.path(), "tone.wav", &tone);

    let root = site.path().to_str().expect("UTF-8 temp path");
    let binary = Binary::start(&[root], "info,access=info");
    let dom = dump_dom(&format!("http://{}/", binary.addr));
    assert!(dom.contains("seeked to "), "the audio never seeked:\n{dom}");

    // The browser asks for the media with `Range: bytes=0-` and then, for
    // the seek, for bytes from the middle: both answered 206, the second
    // with fewer bytes than the whole file.
    let mut seen = Vec::new();
    let mut ranges = Vec::new();
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !ranges.iter().any(|&bytes| bytes > 0 && bytes < size) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = binary.log.recv_timeout(left) else {
            panic!("no 206 for a mid-file range of /tone.wav ({size} bytes) in the access log:\n{}", seen.join("\n"))
        };
        if let Some(("GET /tone.wav HTTP/1.1", status, bytes)) = access_entry(&line) {
            assert_eq!(status, 206, "media answered without a range: {line}");
            ranges.push(bytes);
        }
        seen.push(line);
    }
    eprintln!("206 responses for /tone.wav ({size} bytes): {ranges:?}");
}

#[test]
fn chromium_revalidates_on_reload_and_gets_304s() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let root = demo_root();
    let binary = Binary::start(&[root.to_str().expect("UTF-8 path")], "info,access=info");
    let url = format!("http://{}/", binary.addr);
    let profile = tempfile::tempdir().expect("profile dir");
    // First visit fills the browser cache; the second revalidates each
    // resource (Cache-Control: no-cache) with its ETag / Last-Modified.
    chromium_in(profile.path(), &["--dump-dom"], &url);
    chromium_in(profile.path(), &["--dump-dom"], &url);
    let mut revalidated: Vec<&str> = Vec::new();
    let wanted = ["GET / HTTP/1.1", "GET /style.css HTTP/1.1", "GET /app.js HTTP/1.1", "GET /images/logo.png HTTP/1.1"];
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while revalidated.len() < wanted.len() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = binary.log.recv_timeout(left) else {
            panic!("missing 304s on reload (got {revalidated:?}):\n{}", seen.join("\n"))
        };
        if let Some((request, 304, _)) = access_entry(&line) {
            if let Some(name) = wanted.iter().find(|w| **w == request) {
                if !revalidated.contains(name) {
                    revalidated.push(name);
                }
            }
        }
        seen.push(line);
    }
}
