//! Every system call the server makes beyond what std offers, per concern,
//! behind safe functions whose names say what they do. The rest of the crate
//! never calls the OS directly.

pub mod fs;
