//! Where access lines go (nowhere, standard output or a file), shared by
//! all workers: whole buffers of lines written under one lock, a failure
//! reported once, and the file opened again by its name on SIGHUP after
//! logrotate has moved it away.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::format::LogFormat;

/// Where access lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    /// Nowhere (`--access-log off`, `--quiet`).
    Off,
    /// Standard output (`-`, the command's default).
    Stdout,
    /// A file, opened for appending (created if missing).
    File(PathBuf),
}

impl FromStr for LogDestination {
    type Err = String;

    fn from_str(text: &str) -> Result<LogDestination, String> {
        match text {
            "" => Err("the access log needs a path, `-` or `off`".into()),
            "-" => Ok(LogDestination::Stdout),
            "off" => Ok(LogDestination::Off),
            path => Ok(LogDestination::File(path.into())),
        }
    }
}

/// Where the lines go, shared by all workers.
enum Sink {
    Off,
    Stdout,
    File { path: PathBuf, file: Mutex<File> },
}

/// The server's access log: its sink, its format, and whether writing
/// to it is currently failing.
pub struct AccessLog {
    sink: Sink,
    pub(super) format: LogFormat,
    /// The last write failed (reported once until one succeeds again).
    failing: AtomicBool,
}

impl AccessLog {
    /// Opens `destination` (a file is created if missing, appended to).
    pub fn open(destination: &LogDestination, format: LogFormat) -> io::Result<AccessLog> {
        let sink = match destination {
            LogDestination::Off => Sink::Off,
            LogDestination::Stdout => Sink::Stdout,
            LogDestination::File(path) => Sink::File { path: path.clone(), file: Mutex::new(open_append(path)?) },
        };
        Ok(AccessLog { sink, format, failing: AtomicBool::new(false) })
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    /// Opens the file again by its name (after logrotate moved it away);
    /// lines already buffered go to the new file. Nothing to do for
    /// standard output or when off.
    pub fn reopen(&self) -> io::Result<()> {
        let Sink::File { path, file } = &self.sink else { return Ok(()) };
        let fresh = open_append(path)?;
        // A worker that panicked while holding the lock left a File, which
        // is still fine to replace.
        *file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// Writes whole lines in one go; a failure is reported once, then
    /// lines are dropped until a write works again.
    pub(super) fn write(&self, lines: &[u8]) {
        let result = match &self.sink {
            Sink::Off => Ok(()),
            // Holding stdout's lock keeps other writers' bytes out of the middle.
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(lines).and_then(|()| out.flush())
            }
            Sink::File { file, .. } => file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).write_all(lines),
        };
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    log::warn!("access log: writing again");
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    log::warn!("access log: cannot write to {}: {e}; dropping lines until it works again", self.name());
                }
            }
        }
    }

    fn name(&self) -> String {
        match &self.sink {
            Sink::Off => "nowhere".into(),
            Sink::Stdout => "standard output".into(),
            Sink::File { path, .. } => path.display().to_string(),
        }
    }
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessLog({}, {:?})", self.name(), self.format)
    }
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    // O_APPEND: every write lands at the end, even with another writer.
    OpenOptions::new().append(true).create(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_formats_parse() {
        assert_eq!("-".parse(), Ok(LogDestination::Stdout));
        assert_eq!("off".parse(), Ok(LogDestination::Off));
        assert_eq!("/var/log/x".parse(), Ok(LogDestination::File("/var/log/x".into())));
        assert!("".parse::<LogDestination>().is_err());
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
