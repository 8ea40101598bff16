//! The demo page in Chromium and Firefox over HTTPS (issue 24): each
//! browser loads `public/` from the real binary (`--tls-self-signed`, the
//! certificate ignored), and the test asserts the protocol every response
//! came over (`nextHopProtocol`), the page's four live checks green, and
//! the access log's protocol for the same requests. The browsers are driven
//! by `tests/browser/demo_page.mjs` (Chromium through playwright-core,
//! Firefox through Marionette); HTTP/2 itself lives elsewhere.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::browser::{assert_live_checks, driver_dir, have_driver, CHROMIUM};
use crate::support::*;

/// The driver waits up to 60 s for a cold browser and 15 s for the checks;
/// on a busy two-core machine Firefox's first start takes several seconds more.
const DRIVER_LIMIT: Duration = Duration::from_secs(150);

/// Debian's Firefox ESR (`firefox-esr`), which `.ci/run` installs.
const FIREFOX: &str = "firefox-esr";

/// Loads the demo page from a fresh server (started with `flags`) in
/// `browser` ("chromium" or "firefox") and checks that every response came
/// over `expected` (`nextHopProtocol`: "h2" or "http/1.1"), the live checks
/// and the access log.
fn load_demo_page(browser: &str, flags: &[&str], expected: &str) {
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("public");
    let mut args = vec![public.to_str().expect("UTF-8 path"), "--tls-self-signed"];
    args.extend_from_slice(flags);
    let server = Binary::start(&args, "warn");
    let origin = format!("https://127.0.0.1:{}", server.addr.port());

    let output = run_ok(
        Command::new("node").current_dir(driver_dir()).arg("demo_page.mjs").arg(browser).arg(format!("{origin}/")),
        DRIVER_LIMIT,
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let (report, dom) = stdout.split_once('\n').expect("a report line, then the DOM");
    eprintln!("{browser}: {report}");
    assert!(report.contains(&format!("\"protocol\":\"{expected}\"")), "the page came over {expected}: {report}");
    assert!(
        report.contains(&format!("\"protocols\":[\"{expected}\"]")),
        "every response came over {expected}: {report}"
    );
    for path in ["/style.css", "/app.js", "/images/logo.png", "/hello"] {
        assert!(report.contains(&format!("[\"{path}\",\"{expected}\"]")), "{path} loaded over {expected}: {report}");
    }
    assert_live_checks(dom);

    // The server's side of the same story: its access log names the version.
    let version = if expected == "h2" { "HTTP/2.0" } else { "HTTP/1.1" };
    server.wait_for_log(&format!("\"GET /app.js {version}\" 200 "));
    server.wait_for_log(&format!("\"GET /hello {version}\" 200 "));
}

#[test]
fn chromium_loads_the_demo_page_over_https_with_http2() {
    if have_driver(CHROMIUM) {
        load_demo_page("chromium", &[], "h2");
    }
}

#[test]
fn firefox_loads_the_demo_page_over_https_with_http2() {
    if have_driver(FIREFOX) {
        load_demo_page("firefox", &[], "h2");
    }
}

#[test]
fn http1_only_gives_chromium_http1() {
    if have_driver(CHROMIUM) {
        load_demo_page("chromium", &["--http1-only"], "http/1.1");
    }
}
