//! `Accounts::check` over requests as the HTTP/1 parser makes them.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine;

use super::*;
use crate::http1::parse::parse_leaking;

const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
const THERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

/// Accounts alice (a password) and bob (a bcrypt hash of `builder`).
fn accounts(public_read: bool) -> Accounts {
    let mut config = Config::new();
    config.auth = vec![
        "alice:wonderland".parse().unwrap(),
        format!("bob:{}", bcrypt::hash("builder", 4).unwrap()).parse().unwrap(),
    ];
    config.public_read = public_read;
    Accounts::of(&config).unwrap()
}

/// `method /` with `authorization` (a whole field value), as parsed.
fn request(method: &str, authorization: Option<&str>) -> Request<'static> {
    let field = authorization.map(|value| format!("Authorization: {value}\r\n")).unwrap_or_default();
    let head = format!("{method} / HTTP/1.1\r\nHost: x\r\n{field}\r\n");
    parse_leaking(Box::leak(head.into_bytes().into_boxed_slice()), 32).unwrap().unwrap().request
}

fn basic(user_password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_password))
}

/// The user, `-` when anonymous, or the refusal's status.
fn outcome(accounts: &Accounts, request: &Request, client: IpAddr, now: Instant, verified: &mut Verified) -> String {
    match accounts.check(request, client, now, verified) {
        Outcome::User(user) => user.to_string(),
        Outcome::Anonymous => "-".to_string(),
        Outcome::Refused(response) => {
            if response.status == 401 {
                assert!(response
                    .headers
                    .iter()
                    .any(|(n, v)| n == "WWW-Authenticate" && v.as_bytes() == CHALLENGE.as_bytes()));
            }
            response.status.to_string()
        }
    }
}

#[test]
fn who_a_request_is() {
    let (guarded, public) = (accounts(false), accounts(true));
    let now = Instant::now();
    let cases: &[(&Accounts, &str, Option<String>, &str)] = &[
        (&guarded, "GET", None, "401"),
        (&public, "GET", None, "-"),
        (&public, "HEAD", None, "-"),
        (&public, "PROPFIND", None, "-"),
        (&public, "PUT", None, "401"),
        (&public, "POST", None, "401"),
        (&guarded, "GET", Some(basic("alice:wonderland")), "alice"),
        (&guarded, "PUT", Some(basic("bob:builder")), "bob"),
        (&public, "GET", Some(basic("alice:wonderland")), "alice"),
        (&guarded, "GET", Some(basic("alice:Wonderland")), "401"),
        (&public, "GET", Some(basic("alice:wrong")), "401"),
        (&guarded, "GET", Some(basic("carol:wonderland")), "401"),
        (&guarded, "GET", Some(basic("alice")), "401"),
        (&guarded, "GET", Some(format!("basic  {}", basic("alice:wonderland").split_at(6).1)), "alice"),
        (&guarded, "GET", Some("Bearer abc".into()), "401"),
        (&guarded, "GET", Some("Basic !!!".into()), "401"),
        (&guarded, "GET", Some("Basic".into()), "401"),
    ];
    for (i, (accounts, method, authorization, expected)) in cases.iter().enumerate() {
        // Each case from its own address, so failures do not add up.
        let client = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32));
        let got = outcome(accounts, &request(method, authorization.as_deref()), client, now, &mut Verified::default());
        assert_eq!(got, *expected, "{method} {authorization:?}");
    }
}

#[test]
fn verified_credentials_are_kept_per_worker_and_bounded() {
    let accounts = accounts(false);
    let mut verified = Verified::default();
    let now = Instant::now();
    let alice = request("GET", Some(&basic("alice:wonderland")));
    assert_eq!(outcome(&accounts, &alice, HERE, now, &mut verified), "alice");
    assert_eq!(verified.by_digest.len(), 1);
    assert_eq!(outcome(&accounts, &alice, HERE, now, &mut verified), "alice", "a hit");
    assert_eq!(verified.by_digest.len(), 1);
    // Wrong credentials are never kept.
    assert_eq!(outcome(&accounts, &request("GET", Some(&basic("alice:x"))), HERE, now, &mut verified), "401");
    assert_eq!(verified.by_digest.len(), 1);
    for i in 0..VERIFIED_PER_WORKER + 1 {
        // The same credentials in other spellings of the scheme: other digests.
        let value = format!("{}{} {}", "Basic", " ".repeat(i), basic("alice:wonderland").split_at(6).1);
        assert_eq!(outcome(&accounts, &request("GET", Some(&value)), HERE, now, &mut verified), "alice");
    }
    assert!(verified.by_digest.len() <= VERIFIED_PER_WORKER);
}

#[test]
fn guessing_from_one_address_is_slowed_and_the_user_elsewhere_gets_in() {
    let accounts = accounts(false);
    let now = Instant::now();
    let wrong = request("GET", Some(&basic("alice:guess")));
    let right = request("GET", Some(&basic("alice:wonderland")));
    for _ in 0..failures::FREE_FAILURES {
        assert_eq!(outcome(&accounts, &wrong, HERE, now, &mut Verified::default()), "401");
    }
    assert_eq!(outcome(&accounts, &wrong, HERE, now, &mut Verified::default()), "401", "the failure that starts it");
    let Outcome::Refused(refused) = accounts.check(&right, HERE, now, &mut Verified::default()) else {
        panic!("refused, even with the right password, while the address is")
    };
    assert_eq!(refused.status, 429);
    assert!(refused.headers.iter().any(|(n, v)| n == "Retry-After" && v.as_bytes() == b"1"));
    assert_eq!(outcome(&accounts, &right, THERE, now, &mut Verified::default()), "alice", "another address gets in");
    let later = now + Duration::from_secs(1);
    assert_eq!(outcome(&accounts, &right, HERE, later, &mut Verified::default()), "alice", "after the wait");
}

#[test]
fn writing_needs_an_account_when_there_are_accounts() {
    let open = request("PUT", None);
    assert!(may_write(&open).is_ok(), "no accounts: anyone");
    assert_eq!(may_write(&open.with_user(None)).map_err(|r| r.status), Err(401));
    assert!(may_write(&open.with_user(Some("alice"))).is_ok());
}
