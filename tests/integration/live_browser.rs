//! Live reload in a real browser (issue 25): headless Chromium, driven
//! by `tests/browser/live_reload.mjs` through playwright-core (clicks,
//! typing, load events), against a real server. Each test prints what the
//! page did; the driver fails when a wait runs out.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::browser::{driver_dir, have_driver, CHROMIUM};
use crate::support::*;

/// The driver's own limit is 15 s per wait; a cold Chromium on a busy
/// two-core machine takes a few seconds more.
const DRIVER_LIMIT: Duration = Duration::from_secs(120);

/// Runs `scenario` against `origin` serving `root`; what the page did (JSON).
fn drive(scenario: &str, origin: &str, root: &Path, extra: &[&str]) -> String {
    let mut command = Command::new("node");
    command.current_dir(driver_dir()).arg("live_reload.mjs").arg(scenario).arg(origin).arg(root).args(extra);
    let output = run_ok(&mut command, DRIVER_LIMIT);
    let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
    eprintln!("{scenario}: {said}");
    said
}

/// A site for the scenarios: a page, a form with its stylesheet, a script.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "page.html", b"<!doctype html><title>page</title><body><p id=\"v\">one</p></body>");
    write(
        dir.path(),
        "form.html",
        b"<!doctype html><html><head><link rel=\"stylesheet\" href=\"/form.css\"></head>\
          <body><input id=\"field\"></body></html>",
    );
    write(dir.path(), "form.css", b"#field { color: rgb(255, 0, 0); }");
    write(dir.path(), "app.js", b"document.body.dataset.app = 'one';");
    std::fs::create_dir_all(dir.path().join(".git/objects")).expect("mkdir .git");
    dir
}

/// The site served with live reload, in process.
fn serve(root: &Path) -> rawserve::Server {
    let mut files = test_files(root);
    files.live_reload = true;
    let router = site_router(rawserve::Router::new(), files);
    rawserve::Server::bind(test_config(), router).expect("server starts")
}

#[test]
fn chromium_reloads_after_an_html_or_js_file_is_saved() {
    if !have_driver(CHROMIUM) {
        return;
    }
    let site = site();
    let server = serve(site.path());
    let said = drive("reload", &format!("http://{}", server.local_addr()), site.path(), &[]);
    assert!(said.contains("\"html\":\"two\""), "the reload showed the saved page: {said}");
    assert!(said.contains("\"marker\":null"), "the page was loaded anew: {said}");
    assert!(said.contains("\"loads\":3"), "{said}");
}

#[test]
fn chromium_applies_a_stylesheet_without_reloading() {
    if !have_driver(CHROMIUM) {
        return;
    }
    let site = site();
    let server = serve(site.path());
    let said = drive("css", &format!("http://{}", server.local_addr()), site.path(), &[]);
    assert!(said.contains("\"before\":\"rgb(255, 0, 0)\""), "{said}");
    assert!(said.contains("\"after\":\"rgb(0, 128, 0)\""), "{said}");
    assert!(said.contains("\"value\":\"typed by hand\""), "what was typed survives: {said}");
    assert!(said.contains("\"marker\":\"kept\"") && said.contains("\"loads\":1"), "no reload: {said}");
    assert!(said.contains("/form.css?rawserve-live="), "the link was swapped for a fresh one: {said}");
}

#[test]
fn chromium_ignores_changes_under_git_and_hidden_names() {
    if !have_driver(CHROMIUM) {
        return;
    }
    let site = site();
    let server = serve(site.path());
    let said = drive("hidden", &format!("http://{}", server.local_addr()), site.path(), &[]);
    assert_eq!(said, "{\"loads\":1}");
}

#[test]
fn chromium_reloads_once_for_a_burst_of_fifty_saves() {
    if !have_driver(CHROMIUM) {
        return;
    }
    let site = site();
    let server = serve(site.path());
    let said = drive("burst", &format!("http://{}", server.local_addr()), site.path(), &[]);
    assert!(said.starts_with("{\"loads\":") && said.contains(",\"text\":\"save 49\","), "{said}");
    let number = |key: &str| -> usize {
        let at = said.find(&format!("\"{key}\":")).expect(key) + key.len() + 3;
        said[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a number")
    };
    // One reload (the first load and one more), unless the saving loop was
    // descheduled past the debounce (see `live_reload`'s burst test).
    let (loads, pauses) = (number("loads"), number("pauses"));
    assert!(loads >= 2 && loads <= 2 + pauses, "{said}");
}

#[test]
fn chromium_reloads_eight_tabs_over_https() {
    if !have_driver(CHROMIUM) {
        return;
    }
    let site = site();
    let root = site.path().to_str().expect("UTF-8 temp path");
    let binary = Binary::start(&[root, "--live-reload", "--tls-self-signed", "--quiet"], "warn");
    let said = drive("tabs", &format!("https://127.0.0.1:{}", binary.addr.port()), site.path(), &[]);
    assert_eq!(said, "{\"loads\":[2,2,2,2,2,2,2,2]}", "every tab loaded and reloaded once");
}

#[test]
fn chromium_reloads_when_the_server_restarts() {
    if !have_driver(CHROMIUM) {
        return;
    }
    let site = site();
    // A free port for both runs of the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let binary = env!("CARGO_BIN_EXE_rawserve");
    let origin = format!("http://127.0.0.1:{port}");
    let said = drive("restart", &origin, site.path(), &[binary, &port.to_string()]);
    assert_eq!(said, "{\"loads\":2}");
}
