//! `--auth USER:SECRET` ([`Config::auth`](super::Config::auth)): one
//! account, parsed and checked once where it is read into a typed
//! [`Account`] whose secret is a password or a password hash (argon2 or
//! bcrypt), told apart by the hash's own prefix. What an account lets a
//! request do, and how a password is checked against it, is `auth`'s
//! business; this module owns only what is a valid account.
//!
//! A secret is never shown: not in a [`SettingError`] (which names the user
//! only), not in `Debug` (which names its kind), so a configuration
//! printed for debugging or a refused flag never puts a password or a
//! hash in a log or a terminal's scroll-back.

use std::fmt;
use std::str::FromStr;

use super::error::{Setting, SettingError};

/// An account: a user name and what its password must match.
///
/// ```
/// use rawserve::config::Account;
///
/// let alice: Account = "alice:correct horse".parse().unwrap();
/// assert_eq!(alice.user(), "alice");
/// // A hash is told by its prefix, and checked as one.
/// let hashed: Account = "bob:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$nJfXNBbgH9lHU9lwNHKjtEt4kPn2cxwJgqR3Jr7rSA8"
///     .parse()
///     .unwrap();
/// assert_eq!(hashed.user(), "bob");
/// // A refusal names the user, never the secret.
/// let refused = "carol:$2b$12$nothash".parse::<Account>().unwrap_err().to_string();
/// assert!(refused.starts_with("--auth `carol` ") && !refused.contains("nothash"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    user: String,
    secret: Secret,
}

/// What a password is checked against.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Secret {
    /// The password itself, as given.
    Plain(String),
    /// An argon2 hash in the PHC string format (`$argon2id$v=19$m=…`),
    /// as `rawserve --hash-password` prints.
    Argon2(String),
    /// A bcrypt hash (`$2b$12$…`, also `$2a$`, `$2x$`, `$2y$`), as
    /// `htpasswd -B` and most other tools make.
    Bcrypt(String),
}

/// Prefixes that say a secret is a bcrypt hash.
const BCRYPT_PREFIXES: [&str; 4] = ["$2a$", "$2b$", "$2x$", "$2y$"];
/// The prefix of argon2's PHC strings (`$argon2id$`, `$argon2i$`, `$argon2d$`).
const ARGON2_PREFIX: &str = "$argon2";

impl Account {
    /// The account `user` whose password is, or hashes to, `secret`. The
    /// user is a non-empty name without `:` (HTTP Basic splits there) or
    /// control characters (it is written to the access log); a secret that
    /// starts like a hash must be a well-formed one, so a hash pasted
    /// short is refused rather than taken for a password.
    pub fn new(user: &str, secret: &str) -> Result<Account, SettingError> {
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            let shown = if user.is_empty() { "USER:SECRET" } else { user };
            let reason = "is not `USER:SECRET` with a user name (no `:` or control characters in it)";
            return Err(SettingError::new(Setting::Auth, shown, reason));
        }
        let refuse = |reason: &str| SettingError::new(Setting::Auth, user, reason);
        let secret = if secret.starts_with(ARGON2_PREFIX) {
            // A PHC string may leave out the salt and the hash: an account's may not.
            let whole = argon2::PasswordHash::new(secret)
                .is_ok_and(|hash| hash.salt.is_some() && hash.hash.is_some_and(|output| !output.as_bytes().is_empty()));
            if !whole {
                return Err(refuse("has a secret that starts like an argon2 hash but is not one"));
            }
            Secret::Argon2(secret.to_string())
        } else if BCRYPT_PREFIXES.iter().any(|prefix| secret.starts_with(prefix)) {
            secret
                .parse::<bcrypt::HashParts>()
                .map_err(|_| refuse("has a secret that starts like a bcrypt hash but is not one"))?;
            Secret::Bcrypt(secret.to_string())
        } else if secret.is_empty() {
            return Err(refuse("has an empty password"));
        } else {
            Secret::Plain(secret.to_string())
        };
        Ok(Account { user: user.to_string(), secret })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// What the password is checked against.
    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    /// `password`, `argon2` or `bcrypt`: what kind of secret the account
    /// has, for messages (never the secret itself).
    pub fn kind(&self) -> &'static str {
        match self.secret {
            Secret::Plain(_) => "password",
            Secret::Argon2(_) => "argon2",
            Secret::Bcrypt(_) => "bcrypt",
        }
    }
}

impl FromStr for Account {
    type Err = SettingError;

    /// `USER:SECRET`, split at the first `:` (a secret may hold more).
    fn from_str(text: &str) -> Result<Account, SettingError> {
        let Some((user, secret)) = text.split_once(':') else {
            // The whole text may be a password typed without its user:
            // never echoed.
            return Err(SettingError::new(Setting::Auth, "USER:SECRET", "needs a `:` between the user and the secret"));
        };
        Account::new(user, secret)
    }
}

/// The user and the kind of secret, never the secret.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account").field("user", &self.user).field("secret", &self.kind()).finish()
    }
}

/// `user:<kind>`: what `--help` and messages may show.
impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:<{}>", self.user, self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$nJfXNBbgH9lHU9lwNHKjtEt4kPn2cxwJgqR3Jr7rSA8";
    const BCRYPT: &str = "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";

    fn kind(text: &str) -> (String, &'static str) {
        let account: Account = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        (account.user().to_string(), account.kind())
    }

    #[test]
    fn accounts_and_their_secrets() {
        assert_eq!(kind("alice:pw"), ("alice".into(), "password"));
        assert_eq!(kind("alice:a:b:c"), ("alice".into(), "password"), "a password may hold colons");
        assert_eq!(kind("al ice:$notahash"), ("al ice".into(), "password"));
        assert_eq!(kind("caf\u{e9}:pw"), ("caf\u{e9}".into(), "password"));
        assert_eq!(kind(&format!("bob:{ARGON2}")), ("bob".into(), "argon2"));
        assert_eq!(kind(&format!("bob:{BCRYPT}")), ("bob".into(), "bcrypt"));
        let Secret::Plain(password) = "a:x:y".parse::<Account>().unwrap().secret().clone() else { panic!() };
        assert_eq!(password, "x:y");
    }

    #[test]
    fn refusals_name_the_user_and_never_the_secret() {
        let cases = [
            ("hunter2", "--auth `USER:SECRET` needs a `:`"),
            (":hunter2", "--auth `USER:SECRET` is not `USER:SECRET`"),
            ("a\u{7}b:hunter2", "--auth `a\\u{7}b` is not `USER:SECRET`"),
            ("alice:", "--auth `alice` has an empty password"),
            ("alice:$argon2id$v=19$hunter2", "--auth `alice` has a secret that starts like an argon2 hash"),
            ("alice:$2b$12$hunter2", "--auth `alice` has a secret that starts like a bcrypt hash"),
            ("alice:$argon2id$v=19$hunter2", "--auth `alice` has a secret that starts like an argon2 hash"),
            (
                "alice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
                "--auth `alice` has a secret that starts like an argon2",
            ),
        ];
        for (text, sentence) in cases {
            let said = text.parse::<Account>().expect_err(text).to_string();
            assert!(said.starts_with(sentence), "{text:?}: {said}");
            assert!(!said.contains("hunter2"), "the secret is never shown: {said}");
            assert!(said.ends_with("(from --auth or RAWSERVE_AUTH)"), "{said}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_secret() {
        let account: Account = "alice:hunter2".parse().unwrap();
        assert_eq!(format!("{account:?}"), "Account { user: \"alice\", secret: \"password\" }");
        assert_eq!(account.to_string(), "alice:<password>");
        let hashed: Account = format!("bob:{ARGON2}").parse().unwrap();
        assert!(!format!("{hashed:?}{hashed}").contains("argon2id$"), "no hash either");
    }
}
