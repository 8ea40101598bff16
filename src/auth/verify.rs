//! Checking a password against an account's secret, and making the
//! argon2id hash `rawserve --hash-password` prints.
//!
//! Every comparison is constant-time: a password given as it is is
//! compared by its BLAKE3 digest with `subtle` (equal-length digests, so
//! not even the length leaks); argon2 and bcrypt compare their outputs in
//! constant time themselves. An argon2 check costs tens of milliseconds
//! of CPU by design (that is what makes guessing slow), which is why
//! `auth` checks each distinct credential once per worker and keeps the
//! answer.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// Bytes of random salt in a new hash: the PHC string format's
/// recommendation (16) for argon2.
const SALT_BYTES: usize = 16;

/// Whether `password` is the one `secret` stands for.
pub fn verify(secret: &Secret, password: &[u8]) -> bool {
    match secret {
        Secret::Plain(expected) => {
            let (expected, given) = (blake3::hash(expected.as_bytes()), blake3::hash(password));
            expected.as_bytes().ct_eq(given.as_bytes()).into()
        }
        // Checked as valid when the account was read; a failure here is
        // "no".
        Secret::Argon2(phc) => {
            PasswordHash::new(phc).is_ok_and(|hash| Argon2::default().verify_password(password, &hash).is_ok())
        }
        Secret::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
    }
}

/// An argon2id hash of `password` in the PHC string format, with
/// argon2's default cost (19 MiB, two passes: OWASP's minimum) and a
/// random salt from the system's generator.
pub fn hash_password(password: &str) -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut salt = [0u8; SALT_BYTES];
    ring::rand::SystemRandom::new().fill(&mut salt).map_err(|_| "the system's random generator failed".to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Account;

    fn secret_of(text: &str) -> Secret {
        text.parse::<Account>().unwrap().secret().clone()
    }

    #[test]
    fn passwords_against_each_kind_of_secret() {
        let argon2 = hash_password("correct horse").unwrap();
        assert!(argon2.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{argon2}");
        assert_ne!(hash_password("correct horse").unwrap(), argon2, "a new salt each time");
        let bcrypt = bcrypt::hash("correct horse", 4).unwrap();
        for secret in
            [secret_of("u:correct horse"), secret_of(&format!("u:{argon2}")), secret_of(&format!("u:{bcrypt}"))]
        {
            assert!(verify(&secret, b"correct horse"));
            for wrong in [&b"correct hors"[..], b"correct horse ", b"", b"Correct horse", b"correct horse\0"] {
                assert!(!verify(&secret, wrong), "{:?}", String::from_utf8_lossy(wrong));
            }
        }
        // UTF-8 passwords are their bytes.
        let accented = hash_password("mot de passe \u{e9}t\u{e9}").unwrap();
        assert!(verify(&secret_of(&format!("u:{accented}")), "mot de passe \u{e9}t\u{e9}".as_bytes()));
    }
}
