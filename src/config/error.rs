//! What a bad setting is told: [`SettingError`], one sentence naming the
//! value at fault, what is wrong with it, and the command-line flag and
//! environment variable that set it — the same sentence whether the value
//! came from `--header`, from `RAWSERVE_HEADER` or from a library user's
//! `"…".parse::<HeaderField>()`.
//!
//! Only settings with a syntax of the server's own are here (header fields,
//! globs, types, origins, index names): a number, an address or a word from
//! a fixed list is checked by the command line's parser, whose usage errors
//! say the same in clap's words.

use std::fmt;

/// A setting whose value has a syntax the server checks, by the flag that
/// sets it (each flag's environment variable is `RAWSERVE_` and its name in
/// capitals, as for every other option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// `--header` ([`FileOptions::headers`](super::FileOptions::headers)).
    Header,
    /// `--cache-control` ([`FileOptions::cache_control`](super::FileOptions::cache_control)).
    CacheControl,
    /// `--cache-control-for` ([`FileOptions::cache_control_for`](super::FileOptions::cache_control_for)).
    CacheControlFor,
    /// `--mime` ([`FileOptions::mime`](super::FileOptions::mime)).
    Mime,
    /// `--cors` ([`FileOptions::cors`](super::FileOptions::cors)).
    Cors,
    /// `--index` ([`FileOptions::index`](super::FileOptions::index)).
    Index,
    /// `--hidden` ([`FileOptions::hidden`](super::FileOptions::hidden)).
    Hidden,
    /// `--auth` ([`Config::auth`](super::Config::auth)).
    Auth,
}

impl Setting {
    /// The command-line flag, `--header`.
    pub fn flag(self) -> &'static str {
        match self {
            Setting::Header => "--header",
            Setting::CacheControl => "--cache-control",
            Setting::CacheControlFor => "--cache-control-for",
            Setting::Mime => "--mime",
            Setting::Cors => "--cors",
            Setting::Index => "--index",
            Setting::Hidden => "--hidden",
            Setting::Auth => "--auth",
        }
    }

    /// The environment variable, `RAWSERVE_HEADER`: the flag in capitals,
    /// as for every option.
    pub fn variable(self) -> String {
        format!("RAWSERVE_{}", self.flag().trim_start_matches('-').replace('-', "_").to_ascii_uppercase())
    }
}

/// A value a setting cannot take, and why.
///
/// Its `Display` is one sentence for a person:
/// ``--header `Bad Name` is not a token … (from --header or RAWSERVE_HEADER)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    setting: Setting,
    /// The part of the value at fault (a header field's name, a glob), as
    /// given; empty when nothing was given.
    value: String,
    /// What is wrong, as a predicate of the value: "is not a token".
    reason: String,
}

impl SettingError {
    /// `value` (the part at fault) cannot be used for `setting`, because it
    /// `reason` ("is not a glob: …").
    pub(crate) fn new(setting: Setting, value: &str, reason: impl Into<String>) -> SettingError {
        SettingError { setting, value: value.to_string(), reason: reason.into() }
    }

    /// Which setting the value was for.
    pub fn setting(&self) -> Setting {
        self.setting
    }

    /// The part of the value at fault, as given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = self.setting.flag();
        if self.value.is_empty() {
            // What the user typed: `--cors=`.
            write!(f, "{flag}= {}", self.reason)?;
        } else {
            // Control characters escaped, so the sentence stays one line.
            let value: String = self.value.chars().flat_map(|c| c.escape_debug()).collect();
            write!(f, "{flag} `{value}` {}", self.reason)?;
        }
        write!(f, " (from {flag} or {})", self.setting.variable())
    }
}

impl std::error::Error for SettingError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_name_the_value_the_flag_and_the_variable() {
        let cases = [
            (
                Setting::Header,
                "Bad Name",
                "is not a token",
                "--header `Bad Name` is not a token (from --header or RAWSERVE_HEADER)",
            ),
            (
                Setting::CacheControlFor,
                "a/[",
                "is not a glob",
                "--cache-control-for `a/[` is not a glob (from --cache-control-for or RAWSERVE_CACHE_CONTROL_FOR)",
            ),
            (Setting::Cors, "", "needs an origin", "--cors= needs an origin (from --cors or RAWSERVE_CORS)"),
        ];
        for (setting, value, reason, sentence) in cases {
            assert_eq!(SettingError::new(setting, value, reason).to_string(), sentence);
        }
    }
}
