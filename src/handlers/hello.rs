//! The hello-world handler: the tutorial's "browser talks to a socket" page.

use crate::http::response::Response;

pub const PATH: &str = "/hello";

pub fn hello() -> Response {
    Response::text(200, "text/plain; charset=utf-8", &b"Hello, world!"[..])
}
