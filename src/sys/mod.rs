//! Every system call and every `unsafe` block of the crate, behind safe
//! functions whose names say what they do, one implementation per OS.
//!
//! The rest of the crate is free of `cfg` and of `libc`: it asks, for example,
//! [`net::SHORT_READ_MEANS_DRAINED`] instead of testing for Linux. Linux gets
//! the fast path (`sendfile`, `MSG_MORE`, `TCP_NODELAY` inherited from the
//! listener); other Unix targets, and Linux with the `portable-io` feature (so
//! CI exercises it), get a portable one (`pread` + `send` from a bounded
//! buffer). Files are opened beneath the served root by [`fs`] (`openat2`
//! where the kernel has it, an `O_NOFOLLOW` walk elsewhere). Each `unsafe`
//! block carries a SAFETY note. This module leaves all policy (what to send,
//! when to close, what to serve) to its callers.

#[cfg(not(unix))]
compile_error!("rawserve supports Unix targets only (it needs non-blocking sockets and file descriptors)");

pub mod activation;
pub mod fs;
pub mod net;
pub mod notify;
