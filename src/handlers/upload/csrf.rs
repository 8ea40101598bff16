//! Cross-site request forgery: a page on another site must not make a
//! visitor's browser write here (a hidden form that posts a file into the
//! share, a script that deletes a folder). Pure and table-tested.
//!
//! Every write (`PUT`, `POST`, `MKCOL`, `DELETE`, `MOVE`) is checked:
//!
//! 1. `Sec-Fetch-Site` (sent by every current browser: Chromium since 76,
//!    Firefox since 90, Safari since 16.4) decides when present:
//!    `same-origin` and `none` (the user's own action, such as a typed
//!    address) pass; `same-site` and `cross-site` are refused. Same-site
//!    is refused too because a site is only the registrable domain: any
//!    other port on this host (another program's page on
//!    `localhost:3000`) is the same site.
//! 2. Without it, `Origin` decides: absent passes, as clients that are not
//!    browsers (`curl`, Python's requests, WebDAV clients) send neither
//!    field, and an attacker's page cannot make a browser leave both out;
//!    `null` (a sandboxed frame, a `file:` page) is refused; anything
//!    else must name this server: its host and port equal to `Host`'s,
//!    default ports (80, 443) spelled or not.
//!
//! Behind a reverse proxy that rewrites `Host`, browsers that send only
//! `Origin` are refused until the proxy passes `Host` on
//! (`proxy_set_header Host $host`); `Sec-Fetch-Site` needs nothing.
//! Cookies play no part: nothing here trusts ambient credentials more
//! than the request itself, which is why this check stands even without
//! accounts.

use super::refusal::Refusal;

/// Whether a write with these fields may come from where it comes from.
pub fn check(sec_fetch_site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> Result<(), Refusal> {
    let refused = |why: &str| Err(Refusal::new(403, format!("cross-site write refused: {why}")));
    match sec_fetch_site.map(str::trim) {
        Some(site) if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") => return Ok(()),
        Some(site) if site.eq_ignore_ascii_case("same-site") || site.eq_ignore_ascii_case("cross-site") => {
            return refused(&format!("the browser says it comes from a page on another origin ({site})"))
        }
        // An unknown value: let `Origin` decide.
        _ => {}
    }
    let Some(origin) = origin.map(str::trim) else { return Ok(()) };
    if origin == "null" {
        return refused("the browser hides where it comes from (Origin: null)");
    }
    let Some(host) = host else { return refused("the request has an Origin but no Host to compare it with") };
    match origin_authority(origin) {
        Some(authority) if authority == normalized(host, default_port(origin)) => Ok(()),
        _ => refused(&format!("it comes from {origin}, not from this server ({host})")),
    }
}

/// The default port of `origin`'s scheme.
fn default_port(origin: &str) -> &'static str {
    if origin.len() >= 6 && origin[..6].eq_ignore_ascii_case("https:") {
        ":443"
    } else {
        ":80"
    }
}

/// `origin`'s host and port, lowercase, without its scheme's default port.
fn origin_authority(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) || authority.contains('/') {
        return None;
    }
    Some(normalized(authority, default_port(origin)))
}

/// `authority` lowercase, `port` (the default one) removed from its end.
fn normalized(authority: &str, port: &str) -> String {
    let lower = authority.trim().to_ascii_lowercase();
    match lower.strip_suffix(port) {
        Some(bare) => bare.to_string(),
        None => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(site: Option<&str>, origin: Option<&str>, host: Option<&str>, allowed: bool) {
        assert_eq!(check(site, origin, host).is_ok(), allowed, "{site:?} {origin:?} {host:?}");
    }

    #[test]
    fn browsers_from_elsewhere_are_refused_and_other_clients_pass() {
        let host = Some("127.0.0.1:8080");
        // curl, requests, WebDAV clients: neither field.
        judged(None, None, host, true);
        judged(None, None, None, true);
        // Browsers with Fetch Metadata.
        judged(Some("same-origin"), Some("http://127.0.0.1:8080"), host, true);
        judged(Some("none"), None, host, true);
        judged(Some("cross-site"), Some("http://127.0.0.1:8080"), host, false);
        judged(Some("same-site"), Some("http://127.0.0.1:3000"), host, false);
        judged(Some("Cross-Site"), None, host, false);
        // Same-origin by Fetch Metadata wins over an Origin a proxy made stale.
        judged(Some("same-origin"), Some("http://internal:9000"), host, true);
        // Browsers with Origin only.
        judged(None, Some("http://127.0.0.1:8080"), host, true);
        judged(Some("bogus"), Some("http://127.0.0.1:8080"), host, true);
        judged(None, Some("http://evil.example"), host, false);
        judged(None, Some("http://127.0.0.1:8081"), host, false);
        judged(None, Some("https://127.0.0.1:8080"), host, true);
        judged(None, Some("null"), host, false);
        judged(None, Some("http://127.0.0.1:8080/path"), host, false);
        judged(None, Some("ftp://127.0.0.1:8080"), host, false);
        judged(None, Some("http://127.0.0.1:8080"), None, false);
        // Default ports, spelled or not; case does not matter.
        judged(None, Some("http://Files.Example"), Some("files.example:80"), true);
        judged(None, Some("https://files.example:443"), Some("files.example"), true);
        judged(None, Some("http://files.example"), Some("files.example:8080"), false);
        judged(None, Some("http://[::1]:8080"), Some("[::1]:8080"), true);
    }
}
