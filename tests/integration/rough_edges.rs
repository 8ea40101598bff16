//! Small things a new user hit (issue 20, item 8), each over a real
//! socket: a redirect's page that named another status, access lines late
//! on an idle server, what REDbot warned about (redirects and `/hello`
//! without `Cache-Control`, a 206 for a range covering a whole tiny file),
//! and CORS fields sent to origins that are not allowed.

use crate::support::*;

#[test]
fn plain_http_on_the_https_port_gets_a_307_page_that_says_307() {
    let tls = rawserve::Tls::self_signed(&[]).expect("a certificate");
    let server = TestServer::start_with(move |config| config.tls = Some(tls));
    let mut stream = server.connect();
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = read_response(&mut stream, false).expect("a plain answer");
    assert_eq!((r.status, r.header("location")), (307, Some("https://h/hello")));
    assert_eq!(r.text(), "307 Temporary Redirect\n", "the page names the status sent");
}
