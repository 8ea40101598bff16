//! The normal flows through a real HTTP client crate (ureq).

use crate::support::*;

#[test]
fn a_client_crate_fetches_pages_files_and_errors() {
    let server = TestServer::start();
    let agent = ureq::AgentBuilder::new().timeout(IO_TIMEOUT).build();

    let hello = agent.get(&url(&server, "/hello")).call().expect("hello");
    assert_eq!(hello.content_type(), "text/plain");
    assert_eq!(hello.charset(), "utf-8");
    assert_eq!(hello.into_string().unwrap(), "Hello, world!");

    let mut body = Vec::new();
    let file = agent.get(&url(&server, "/big.bin")).call().expect("big file");
    std::io::Read::read_to_end(&mut file.into_reader(), &mut body).unwrap();
    assert!(body == big_contents());

    // Redirects are followed to the directory's index.
    let sub = agent.get(&url(&server, "/sub")).call().expect("redirect followed");
    assert_eq!(sub.get_url(), url(&server, "/sub/"));
    assert_eq!(sub.into_string().unwrap(), "sub index");

    match agent.get(&url(&server, "/missing")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    match agent.post(&url(&server, "/hello")).send_string("x=1") {
        Err(ureq::Error::Status(405, r)) => assert_eq!(r.header("allow"), Some("GET, HEAD")),
        other => panic!("expected 405, got {other:?}"),
    }
}
