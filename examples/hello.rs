//! The tutorial's "Hello World": a browser talks to a socket and the
//! socket answers. `cargo run --example hello -- 8000`, then open the URL
//! it prints (port 0 picks a free one).

use rawserve::{Config, Request, Response, Router, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).as_deref().unwrap_or("8000").parse()?;
    let router = Router::new().get("/", |_: &Request| Response::html("<h1>Hello, World!</h1>\n"));
    let mut config = Config::new();
    config.addr.set_port(port);
    let server = Server::bind(config, router)?;
    println!("http://{}/", server.local_addr());
    server.wait(); // until the process is stopped
    Ok(())
}
