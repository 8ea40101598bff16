//! What the `rawserve` command does around starting the server (this
//! module is the command's, not the library's): pick the root, turn `-b`
//! host names into addresses, list the URLs a user can open (every local
//! address when bound to all of them), add a hint to start-up errors,
//! print a QR code (and say when only this machine can open its URL) and
//! open the browser.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rawserve::{FolderError, StartError};

/// The folder served when no ROOT is given, and why: `public` when it
/// exists (as http-server does), else the current directory (as python's
/// http.server and miniserve do).
pub fn default_root() -> (PathBuf, &'static str) {
    if Path::new("public").is_dir() {
        (PathBuf::from("public"), "the ./public folder here; `rawserve .` serves this whole folder")
    } else {
        (PathBuf::from("."), "the current folder, as there is no ./public")
    }
}

/// What the start-up lines say of the accounts (`(count, public_read)`),
/// if anything: who may read, and a warning when passwords would cross a
/// network in clear text (plain HTTP on an address other than loopback).
pub fn accounts_line((count, public_read): (usize, bool), addrs: &[SocketAddr], tls: bool) -> Option<String> {
    let mut text = match (count, public_read) {
        (0, false) => return None,
        (0, true) => "rawserve: warning: --public-read without --auth changes nothing: anyone may read\n".to_string(),
        (n, public) => format!(
            "rawserve: {n} account{}; {}\n",
            if n == 1 { "" } else { "s" },
            if public { "anyone may read, writing needs an account" } else { "every request needs one" }
        ),
    };
    let exposed: Vec<String> =
        addrs.iter().filter(|addr| !addr.ip().is_loopback()).map(|addr| addr.ip().to_string()).collect();
    if count > 0 && !tls && !exposed.is_empty() {
        text.push_str(&format!(
            "rawserve: warning: passwords are sent in clear text over plain HTTP on {}: anyone on the network \
             can read them; add --tls-self-signed or --tls-cert\n",
            exposed.join(", ")
        ));
    }
    Some(text)
}

/// The addresses for `-b` values: IP addresses (IPv6 with or without
/// brackets) or host names, each name standing for all its addresses
/// (`localhost` is 127.0.0.1 and ::1). Duplicates are dropped, order kept.
pub fn resolve_binds(hosts: &[String], port: u16) -> Result<Vec<SocketAddr>, String> {
    let mut addrs = Vec::new();
    for host in hosts {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            addrs.push(SocketAddr::new(ip, port));
            continue;
        }
        let found = (bare, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot listen on `{host}`: it is not an IP address and does not resolve ({e})"))?;
        let before = addrs.len();
        addrs.extend(found);
        if addrs.len() == before {
            return Err(format!("cannot listen on `{host}`: the name has no addresses"));
        }
    }
    let mut seen = HashSet::new();
    addrs.retain(|addr| seen.insert(*addr));
    Ok(addrs)
}

/// `host:port`, with IPv6 addresses in brackets as URLs need.
pub fn url_authority(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => v4.to_string(),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}

/// The URLs a client can use for the bound addresses: a wildcard
/// (`0.0.0.0`, `::`) stands for every address of this machine's
/// interfaces (`::` on Linux takes IPv4 too, unless `bindv6only` is set).
/// Link-local IPv6 addresses are left out: a URL needs their zone
/// (`%eth0`), which browsers do not accept. Loopback comes first.
pub fn urls(bound: &[SocketAddr], scheme: &str) -> Vec<String> {
    let mut ips: Vec<SocketAddr> = Vec::new();
    for addr in bound {
        if !addr.ip().is_unspecified() {
            ips.push(*addr);
            continue;
        }
        let both = addr.is_ipv6() && !ipv6_only();
        for ip in local_ips() {
            if ip.is_ipv6() == addr.is_ipv6() || both {
                ips.push(SocketAddr::new(ip, addr.port()));
            }
        }
    }
    ips.sort_by_key(|addr| (!addr.ip().is_loopback(), addr.is_ipv6()));
    let mut seen = HashSet::new();
    ips.retain(|addr| seen.insert(*addr));
    ips.into_iter().map(|addr| format!("{scheme}://{}", url_authority(addr))).collect()
}

/// Every address on this machine's interfaces, without link-local IPv6.
fn local_ips() -> Vec<IpAddr> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else { return Vec::new() };
    let link_local = |ip: &IpAddr| matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
    interfaces.into_iter().map(|i| i.ip()).filter(|ip| !link_local(ip)).collect()
}

/// Whether `::` sockets take only IPv6 (Linux's `net.ipv6.bindv6only`).
fn ipv6_only() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "1")
}

/// The start-up error as one sentence, with what to try when the cause
/// is a common one.
pub fn explain(error: &StartError) -> String {
    let hint = match error {
        StartError::Folder(FolderError::Root(path, e)) if e.kind() == io::ErrorKind::NotFound => {
            Some(format!("there is no folder {}; try `rawserve .` to serve the current folder", path.display()))
        }
        StartError::Folder(FolderError::Root(_, e)) if e.kind() == io::ErrorKind::PermissionDenied => {
            Some("this user may not read it; check its permissions".to_string())
        }
        StartError::Bind(addr, e) if e.kind() == io::ErrorKind::PermissionDenied && addr.port() < 1024 => {
            Some("ports below 1024 need root or CAP_NET_BIND_SERVICE; try `--port 8080`".to_string())
        }
        StartError::Bind(addr, e) if e.kind() == io::ErrorKind::AddrNotAvailable => {
            let mine: Vec<String> = local_ips().iter().map(IpAddr::to_string).collect();
            Some(format!(
                "{} is not an address of this machine; try `-b 0.0.0.0` for all of them, or one of {}",
                addr.ip(),
                mine.join(", ")
            ))
        }
        StartError::Bind(_, e) if e.kind() == io::ErrorKind::AddrInUse => {
            Some("try another `--port`, or `--port 0` for any free one".to_string())
        }
        _ => None,
    };
    match hint {
        Some(hint) => format!("{error}; {hint}"),
        None => error.to_string(),
    }
}

/// `url` as a QR code in the terminal: two rows of modules per line with
/// half-block characters, with the 4-module quiet zone scanners need.
pub fn qr_code(url: &str) -> Option<String> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let qr = QrCode::encode_text(url, QrCodeEcc::Low).ok()?;
    let quiet = 4;
    let size = qr.size();
    // Scanners want dark modules darker than light ones, and terminals
    // draw characters light on dark: so light modules (and the quiet zone)
    // are drawn with blocks, dark ones left blank.
    let light = |x: i32, y: i32| !qr.get_module(x, y);
    let mut out = String::new();
    let mut y = -quiet;
    while y < size + quiet {
        for x in -quiet..size + quiet {
            out.push(match (light(x, y), light(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    Some(out)
}

/// The line under a QR code whose URL only this machine can open (a
/// loopback address, as with the default `-b 127.0.0.1`): a phone that
/// scans it reaches itself, so say how to serve the LAN. `None` for any
/// other URL. (miniserve prints no code at all then, which leaves the user
/// guessing; the code stays, as it does open on this machine.)
pub fn qr_hint(url: &str) -> Option<String> {
    let authority = url.split("://").nth(1)?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    let loopback = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) || host == "localhost";
    loopback.then(|| {
        format!(
            "rawserve: the QR code is for {url}, which only this machine can open; \
             for a phone on the same network, listen on every interface: -b 0.0.0.0"
        )
    })
}

/// Opens `url` in the user's browser: `$BROWSER` when set (the convention
/// of xdg-open and Python's webbrowser), else `xdg-open` (`open` on
/// macOS). Does not wait for it.
pub fn open_browser(url: &str) -> io::Result<()> {
    let program = match std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        Some(browser) => browser,
        None if cfg!(target_os = "macos") => "open".into(),
        None => "xdg-open".into(),
    };
    let child =
        Command::new(program).arg(url).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    // Reaped by a thread so it never lingers as a zombie.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(())
}

/// The protocols the server speaks, for the start-up line: HTTP/2 is
/// chosen by ALPN over TLS, and spoken with prior knowledge in cleartext
/// (browsers never do that, so HTTP/1.1 comes first there).
pub fn protocols(tls: bool, http1_only: bool) -> &'static str {
    match (tls, http1_only) {
        (_, true) => "HTTP/1.1 only",
        (true, false) => "HTTP/2 and HTTP/1.1 (ALPN)",
        (false, false) => "HTTP/1.1 and HTTP/2 (prior knowledge)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocols_named() {
        let cases = [
            ((true, false), "HTTP/2 and HTTP/1.1 (ALPN)"),
            ((false, false), "HTTP/1.1 and HTTP/2 (prior knowledge)"),
            ((true, true), "HTTP/1.1 only"),
            ((false, true), "HTTP/1.1 only"),
        ];
        for ((tls, http1_only), want) in cases {
            assert_eq!(protocols(tls, http1_only), want);
        }
    }

    #[test]
    fn accounts_lines_warn_of_clear_text_passwords() {
        let at = |addrs: &[&str]| addrs.iter().map(|a| a.parse().unwrap()).collect::<Vec<SocketAddr>>();
        let loopback = at(&["127.0.0.1:80", "[::1]:80"]);
        let lan = at(&["127.0.0.1:80", "192.168.1.5:80"]);
        assert_eq!(accounts_line((0, false), &lan, false), None);
        assert_eq!(
            accounts_line((1, false), &loopback, false).unwrap(),
            "rawserve: 1 account; every request needs one\n"
        );
        let said = accounts_line((2, true), &lan, false).unwrap();
        assert!(said.starts_with("rawserve: 2 accounts; anyone may read, writing needs an account\n"), "{said}");
        assert!(said.contains("warning: passwords are sent in clear text over plain HTTP on 192.168.1.5:"), "{said}");
        assert!(!accounts_line((2, false), &lan, true).unwrap().contains("warning"), "HTTPS");
        assert!(accounts_line((0, true), &loopback, false).unwrap().contains("--public-read without --auth"));
    }

    #[test]
    fn binds_take_addresses_and_names() {
        let addrs = |hosts: &[&str]| resolve_binds(&hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>(), 80);
        assert_eq!(addrs(&["127.0.0.1"]).unwrap(), ["127.0.0.1:80".parse().unwrap()]);
        assert_eq!(addrs(&["::1", "[::1]"]).unwrap(), ["[::1]:80".parse().unwrap()]);
        let local = addrs(&["localhost"]).unwrap();
        assert!(local.iter().all(|a| a.ip().is_loopback()) && !local.is_empty(), "{local:?}");
        assert!(addrs(&["no-such-host.invalid"]).is_err());
    }

    #[test]
    fn wildcards_list_real_addresses() {
        let listed = urls(&["0.0.0.0:8080".parse().unwrap()], "http");
        assert!(listed.first().is_some_and(|u| u == "http://127.0.0.1:8080"), "{listed:?}");
        assert!(!listed.iter().any(|u| u.contains("0.0.0.0")), "{listed:?}");
        assert_eq!(urls(&["[::1]:1".parse().unwrap()], "https"), ["https://[::1]:1"]);
    }

    #[test]
    fn qr_hints_only_for_urls_no_phone_can_open() {
        for url in ["http://127.0.0.1:8080", "https://[::1]:8443", "http://localhost:1", "http://127.1.2.3:80"] {
            let hint = qr_hint(url).unwrap_or_else(|| panic!("{url}"));
            assert!(hint.contains(url) && hint.contains("-b 0.0.0.0"), "{hint}");
        }
        for url in ["http://192.168.1.2:8080", "http://[2001:db8::1]:80", "https://10.0.0.1:8443", "nonsense"] {
            assert_eq!(qr_hint(url), None, "{url}");
        }
    }

    #[test]
    fn qr_codes_have_a_quiet_zone_and_square_shape() {
        let code = qr_code("http://192.168.1.2:8080").unwrap();
        let lines: Vec<&str> = code.lines().collect();
        let width = lines[0].chars().count();
        // Version 2 for a URL this long: 25 modules plus 8 of quiet zone.
        assert_eq!(width, 25 + 8);
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines[0].chars().all(|c| c == '█'), "the quiet zone is light");
    }
}
