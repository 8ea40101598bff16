//! The settings as the command line reads and shows them (the `cli`
//! feature only): the parsers clap runs on each flag's text and on its
//! `RAWSERVE_*` variable, and the text of each default, taken from
//! [`Config::new`] and [`FileOptions::new`] so that a default shown by
//! `--help` is the library's own.
//!
//! Parsers of values with a syntax of the server's own return a
//! [`SettingError`], which the command reports in one sentence (exit status
//! 1); the others return clap's usage errors (status 2), as clap does for
//! numbers.

use std::ffi::OsStr;
use std::fmt::Display;
use std::sync::OnceLock;
use std::time::Duration;

use clap::builder::{BoolishValueParser, PossibleValue, RangedU64ValueParser, TypedValueParser};

use super::{check_cache_control, check_index, Config, Cors, FileOptions, SettingError};

/// Most worker threads `--threads` takes: a worker is a thread and an epoll
/// instance, and far more of them than cores only contend; a larger number
/// is a typo.
pub const THREADS: u64 = 1024;

/// [`Config::new`], made once: the defaults `--help` shows and parsing starts from.
pub fn defaults() -> &'static Config {
    static DEFAULTS: OnceLock<Config> = OnceLock::new();
    DEFAULTS.get_or_init(Config::new)
}

/// [`FileOptions::new`]'s defaults (for no root yet), made once.
pub fn file_defaults() -> &'static FileOptions {
    static DEFAULTS: OnceLock<FileOptions> = OnceLock::new();
    DEFAULTS.get_or_init(|| FileOptions::new(""))
}

/// Words that turn an on/off option off, as clap's boolean parser reads
/// them (the "on" words are [`Cors`]'s `FromStr`'s).
const OFF_WORDS: [&str; 6] = ["n", "no", "f", "false", "off", "0"];

/// On/off flags also take `1`/`0`, `yes`/`no`, `on`/`off` from their
/// environment variable (`RAWSERVE_SPA=1`).
pub fn boolish() -> BoolishValueParser {
    BoolishValueParser::new()
}

/// A flag that turns a setting off (`--no-listing`): the field holds the
/// opposite of what the flag (or its variable, `RAWSERVE_NO_LISTING=1`) says.
pub fn no_to_false() -> impl TypedValueParser<Value = bool> {
    BoolishValueParser::new().map(|no: bool| !no)
}

/// A count within `range` (`--threads`, `--max-headers`).
pub fn count_within(range: std::ops::RangeInclusive<u64>) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(range)
}

/// A non-negative, finite number of seconds (`--head-timeout 2.5`).
pub fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("`{text}` is not a number of seconds")),
    }
}

/// A duration as `seconds` reads it: `10`, `0.5`.
pub fn seconds_text(duration: Duration) -> String {
    duration.as_secs_f64().to_string()
}

/// `value`, or `off` for `None`, as `--compress` and `--cors` write them.
pub fn off_or<T: Display>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "off".to_string(), T::to_string)
}

/// `--compress`: a level from 1 to 9, or `off` (also `no`, `0`). It names
/// its values, so shell completion offers them rather than file names.
pub fn compress_level() -> impl TypedValueParser<Value = Option<u8>> {
    #[derive(Clone)]
    struct Levels;
    impl TypedValueParser for Levels {
        type Value = Option<u8>;

        fn parse_ref(
            &self,
            command: &clap::Command,
            arg: Option<&clap::Arg>,
            value: &OsStr,
        ) -> Result<Option<u8>, clap::Error> {
            let level = |text: &str| match text {
                "off" | "no" | "0" => Ok(None),
                _ => match text.parse::<u8>() {
                    Ok(level @ 1..=9) => Ok(Some(level)),
                    _ => Err(format!("`{text}` is not a level from 1 to 9, or off")),
                },
            };
            TypedValueParser::parse_ref(&level, command, arg, value)
        }

        fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
            let levels = (1..=9).map(|level: u8| PossibleValue::new(level.to_string()));
            Some(Box::new(levels.chain([PossibleValue::new("off")])))
        }
    }
    Levels
}

/// `--cors`: an "off" word (`RAWSERVE_CORS=0`) is no CORS, as for every
/// on/off variable; anything else is read by [`Cors`]'s `FromStr` (`*` or
/// an "on" word for any origin, else origins).
pub fn cors_setting(text: &str) -> Result<Option<Cors>, SettingError> {
    if OFF_WORDS.iter().any(|word| word.eq_ignore_ascii_case(text.trim())) {
        return Ok(None);
    }
    text.parse().map(Some)
}

/// `--max-upload-bytes`: a number of bytes, with an optional binary
/// suffix (`K`, `M`, `G`, `T`: KiB to TiB; `10G`), or an "off" word for
/// no limit.
pub fn byte_count_or_off(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if OFF_WORDS.iter().any(|word| word.eq_ignore_ascii_case(text)) || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let (digits, shift) = match text.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&text[..text.len() - 1], 10),
        Some(b'M') => (&text[..text.len() - 1], 20),
        Some(b'G') => (&text[..text.len() - 1], 30),
        Some(b'T') => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    let refused = || format!("`{text}` is not a number of bytes (like 1048576 or 10G), or off");
    let count: u64 = digits.trim().parse().map_err(|_| refused())?;
    count.checked_mul(1 << shift).filter(|&bytes| bytes > 0).map(Some).ok_or_else(refused)
}

/// `--index`: a file name.
pub fn index_name(text: &str) -> Result<String, SettingError> {
    let name = text.trim();
    check_index(name)?;
    Ok(name.to_string())
}

/// `--cache-control`: a field value.
pub fn valid_cache_control(text: &str) -> Result<String, SettingError> {
    check_cache_control(text.trim())?;
    Ok(text.trim().to_string())
}

/// `--health`: an absolute path, as requests name it.
pub fn health_path(text: &str) -> Result<String, String> {
    request_path(text, "/healthz")
}

/// `--metrics`: an absolute path, as requests name it.
pub fn metrics_path(text: &str) -> Result<String, String> {
    request_path(text, "/metrics")
}

/// An absolute path without a query, else a sentence naming `example`.
fn request_path(text: &str, example: &str) -> Result<String, String> {
    match text.starts_with('/') && !text.contains('?') {
        true => Ok(text.to_string()),
        false => Err(format!("`{text}` is not an absolute path like {example}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Setting;

    #[test]
    fn seconds_read_what_they_show() {
        for secs in [0.0, 0.25, 5.0, 10.0, 86400.5] {
            let duration = Duration::from_secs_f64(secs);
            assert_eq!(seconds(&seconds_text(duration)), Ok(duration), "{secs}");
        }
        assert_eq!(seconds_text(Duration::from_secs(10)), "10");
        for bad in ["", "x", "-1", "inf", "NaN", "1e400"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cors_words() {
        for off in ["0", "false", "off", "No"] {
            assert_eq!(cors_setting(off), Ok(None), "{off}");
        }
        for any in ["1", "true", "on", "*"] {
            assert_eq!(cors_setting(any), Ok(Some(Cors::AnyOrigin)), "{any}");
        }
        assert_eq!(cors_setting("notanorigin").unwrap_err().setting(), Setting::Cors);
        assert_eq!(off_or(&None::<Cors>), "off");
        assert_eq!(off_or(&Some(6)), "6");
    }

    #[test]
    fn byte_counts() {
        let cases: &[(&str, Result<Option<u64>, ()>)] = &[
            ("1048576", Ok(Some(1 << 20))),
            ("10G", Ok(Some(10 << 30))),
            ("10g", Ok(Some(10 << 30))),
            ("512K", Ok(Some(512 << 10))),
            ("3M", Ok(Some(3 << 20))),
            ("2T", Ok(Some(2 << 40))),
            (" 7 ", Ok(Some(7))),
            ("off", Ok(None)),
            ("none", Ok(None)),
            ("0", Ok(None)),
            ("-1", Err(())),
            ("1.5G", Err(())),
            ("G", Err(())),
            ("10X", Err(())),
            ("99999999999T", Err(())),
            ("", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(byte_count_or_off(text).map_err(|_| ()), *expected, "{text:?}");
        }
    }

    /// Every flag of the folder's and the server's settings as clap sees
    /// them: a `RAWSERVE_*` variable each, and the flag each
    /// [`Setting`] names exists with that variable.
    #[test]
    fn flags_and_variables_agree() {
        use clap::Args;
        let command = FileOptions::augment_args(Config::augment_args(clap::Command::new("t")));
        for arg in command.get_arguments() {
            // A field without an `arg` attribute would be a positional argument.
            let Some(long) = arg.get_long() else {
                panic!(
                    "field `{}` needs #[cfg_attr(feature = \"cli\", arg(long, env = \"RAWSERVE_…\", help = …))], \
                     or arg(skip = …) if it is not an option",
                    arg.get_id()
                )
            };
            let variable = format!("RAWSERVE_{}", long.replace('-', "_").to_ascii_uppercase());
            assert_eq!(arg.get_env().and_then(OsStr::to_str), Some(variable.as_str()), "--{long}");
        }
        let settings = [
            Setting::Header,
            Setting::CacheControl,
            Setting::CacheControlFor,
            Setting::Mime,
            Setting::Cors,
            Setting::Index,
            Setting::Hidden,
            Setting::Auth,
        ];
        for setting in settings {
            let flag = setting.flag().trim_start_matches('-');
            let arg = command.get_arguments().find(|a| a.get_long() == Some(flag));
            let arg = arg.unwrap_or_else(|| panic!("no {}", setting.flag()));
            assert_eq!(arg.get_env().and_then(OsStr::to_str), Some(setting.variable().as_str()));
        }
    }
}
