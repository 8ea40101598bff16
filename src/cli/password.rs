//! `rawserve --hash-password`: a password in, its argon2id hash out, for
//! `--auth USER:HASH`, so the password itself never sits in a command
//! line, a unit file or a shell's history.
//!
//! From a terminal the password is read without echo (rpassword) and asked
//! twice, so a typo is not hashed; from a pipe (`printf %s "$PW" |
//! rawserve --hash-password`) its first line is read as it is. The hash
//! goes to standard output alone, prompts to the terminal, so
//! `HASH=$(rawserve --hash-password)` works.

use std::io::{BufRead, IsTerminal};

/// Reads the password and prints its hash; the error is the sentence to
/// print.
pub fn print_hash() -> Result<(), String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the two passwords differ; nothing was hashed".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
        line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line).to_string()
    };
    if password.is_empty() {
        return Err("the password is empty; nothing was hashed".into());
    }
    let hash = rawserve::hash_password(&password)?;
    println!("{hash}");
    Ok(())
}
