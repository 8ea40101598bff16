//! The zip format of a folder's archive, written in one pass without
//! seeking: what a double-click opens on Windows and macOS, and `unzip`,
//! 7-Zip and Python's `zipfile` read.
//!
//! Entries are stored, not compressed: a folder's files are mostly
//! compressed already (images, video, archives), and deflating the rest
//! would cost a worker's CPU per request for little. A file's size is
//! known before its body (the walk cuts or pads the body to it), its
//! CRC-32 only after, so each file's local header says "sizes and CRC in
//! a data descriptor" (flag bit 3) and a signed data descriptor follows
//! its body (macOS's Archive Utility needs the signature). Names carry
//! the UTF-8 flag (bit 11) when they are UTF-8, so accented and other
//! scripts' names open right everywhere; other names are written as
//! their bytes. Each entry has the extended timestamp field (the modification time
//! in UTC, which unzip and macOS restore) besides the DOS date and time
//! (UTC here, as the DOS fields carry no zone), and Unix permissions in its
//! external attributes.
//!
//! ZIP64 is used only where the classic fields overflow (as yazl and
//! zip_tricks do, since some readers, macOS's among them, handle ZIP64
//! badly): a file of 4 GiB or more has ZIP64 sizes in its local header,
//! descriptor and central entry; an entry starting past 4 GiB has a ZIP64
//! offset in its central entry; more than 65,534 entries or a central
//! directory past or beyond 4 GiB add the ZIP64 end records.
//!
//! The central directory is kept in memory until the end (about 60 bytes
//! and the name per entry), bounded by [`MAX_CENTRAL_DIRECTORY_BYTES`], and
//! written a piece at a time like the rest.

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Format, DIRECTORY_MODE};

/// Memory a zip's central directory may take while it is kept (names and
/// records): about 300,000 entries of 50-byte paths. Past it further
/// entries are left out (logged) and the archive stays whole. A tar needs
/// no such bound.
pub const MAX_CENTRAL_DIRECTORY_BYTES: usize = 32 << 20;

// Record signatures (APPNOTE 6.3.10, section 4.3).
const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END: u32 = 0x0605_4b50;

/// General purpose flags: sizes and CRC follow the body; the name is UTF-8.
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// Version needed to extract: 2.0 (folders, data descriptors), or 4.5 (ZIP64).
const VERSION_NEEDED: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Version made by: Unix (3) in the high byte, so external attributes
/// carry Unix modes, and the specification's version 6.3.
const MADE_BY: u16 = (3 << 8) | 63;
/// Extra field tags: ZIP64 extended information, extended timestamp.
const ZIP64_EXTRA: u16 = 0x0001;
const TIMESTAMP_EXTRA: u16 = 0x5455;
/// The extended timestamp's flags: the modification time is present.
const TIMESTAMP_MODIFIED: u8 = 1;
/// Bytes of an extended timestamp field with the modification time only.
const TIMESTAMP_LEN: usize = 9;
/// The MS-DOS attribute of a folder, and the Unix file type bits.
const DOS_DIRECTORY: u32 = 0x10;
const UNIX_DIRECTORY: u32 = 0o040_000;
const UNIX_FILE: u32 = 0o100_000;
/// A classic field's value that means "see the ZIP64 field".
const MAX_16: u64 = 0xFFFF;
const MAX_32: u64 = 0xFFFF_FFFF;
/// Size of a ZIP64 end of central directory record after its first 12
/// bytes (signature and this size), as the record states it.
const ZIP64_END_REST: u64 = 44;
/// The first and last dates DOS fields can hold.
const DOS_FIRST_YEAR: i32 = 1980;
const DOS_LAST_YEAR: i32 = 2107;

/// What the central directory says of one entry.
#[derive(Debug, Clone)]
struct Entry {
    /// Its path, in `Zip::names`.
    name: Range<usize>,
    flags: u16,
    is_dir: bool,
    crc: u32,
    size: u64,
    /// Where its local header starts.
    offset: u64,
    /// DOS time and date.
    dos: (u16, u16),
    /// Unix seconds (UTC), for the extended timestamp.
    mtime: u32,
    /// Unix permission bits.
    mode: u32,
}

/// A zip being written.
#[derive(Debug, Default)]
pub struct Zip {
    /// Bytes of the archive written so far: where the next record starts.
    offset: u64,
    /// The entries' paths, one after another.
    names: Vec<u8>,
    entries: Vec<Entry>,
    /// The CRC-32 of the body in progress.
    crc: crc32fast::Hasher,
    /// Once the walk is done: the central directory being written.
    ending: Option<Ending>,
}

/// The end of the archive in progress.
#[derive(Debug)]
struct Ending {
    /// Where the central directory starts.
    start: u64,
    /// The next entry to write there.
    next: usize,
}

impl Format for Zip {
    fn directory(&mut self, out: &mut Vec<u8>, path: &[u8], modified: Option<SystemTime>) -> bool {
        self.local(out, path, true, 0, DIRECTORY_MODE, modified)
    }

    fn file(&mut self, out: &mut Vec<u8>, path: &[u8], size: u64, mode: u32, modified: Option<SystemTime>) -> bool {
        self.crc = crc32fast::Hasher::new();
        self.local(out, path, false, size, mode, modified)
    }

    fn body(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        self.offset += bytes.len() as u64;
    }

    fn file_end(&mut self, out: &mut Vec<u8>) {
        let crc = std::mem::take(&mut self.crc).finalize();
        let Some(entry) = self.entries.last_mut() else { return };
        entry.crc = crc;
        let start = out.len();
        put32(out, DATA_DESCRIPTOR);
        put32(out, crc);
        if is_large(entry.size) {
            put64(out, entry.size);
            put64(out, entry.size);
        } else {
            put32(out, entry.size as u32);
            put32(out, entry.size as u32);
        }
        self.offset += (out.len() - start) as u64;
    }

    fn end(&mut self, out: &mut Vec<u8>, target: usize) -> bool {
        let begun = out.len();
        let ending = self.ending.get_or_insert(Ending { start: self.offset, next: 0 });
        while ending.next < self.entries.len() && out.len() < target {
            let entry = &self.entries[ending.next];
            central(out, entry, &self.names[entry.name.clone()]);
            ending.next += 1;
        }
        self.offset += (out.len() - begun) as u64;
        if ending.next < self.entries.len() {
            return false;
        }
        let (start, count, size) = (ending.start, self.entries.len() as u64, self.offset - ending.start);
        let zip64 = count >= MAX_16 || size >= MAX_32 || start >= MAX_32;
        let tail = out.len();
        if zip64 {
            let record = self.offset;
            put32(out, ZIP64_END);
            put64(out, ZIP64_END_REST);
            put16(out, MADE_BY);
            put16(out, VERSION_ZIP64);
            put32(out, 0); // this disk
            put32(out, 0); // the disk where the central directory starts
            put64(out, count); // entries on this disk
            put64(out, count);
            put64(out, size);
            put64(out, start);
            put32(out, ZIP64_LOCATOR);
            put32(out, 0); // the disk of the ZIP64 end record
            put64(out, record);
            put32(out, 1); // disks in all
        }
        put32(out, END);
        put16(out, 0); // this disk
        put16(out, 0); // the disk where the central directory starts
        put16(out, count.min(MAX_16) as u16);
        put16(out, count.min(MAX_16) as u16);
        put32(out, size.min(MAX_32) as u32);
        put32(out, start.min(MAX_32) as u32);
        put16(out, 0); // no comment
        self.offset += (out.len() - tail) as u64;
        true
    }
}

impl Zip {
    /// Appends the local header of an entry and records it for the central
    /// directory; false, writing nothing, when the directory is full.
    fn local(
        &mut self,
        out: &mut Vec<u8>,
        path: &[u8],
        is_dir: bool,
        size: u64,
        mode: u32,
        modified: Option<SystemTime>,
    ) -> bool {
        let kept = self.names.len() + path.len() + (self.entries.len() + 1) * std::mem::size_of::<Entry>();
        if kept > MAX_CENTRAL_DIRECTORY_BYTES {
            return false;
        }
        let unix = modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        let mtime = unix.min(MAX_32) as u32;
        let mut flags = if is_dir { 0 } else { FLAG_DESCRIPTOR };
        if std::str::from_utf8(path).is_ok() {
            flags |= FLAG_UTF8;
        }
        let large = is_large(size);
        let start = out.len();
        put32(out, LOCAL_HEADER);
        put16(out, if large { VERSION_ZIP64 } else { VERSION_NEEDED });
        put16(out, flags);
        put16(out, 0); // stored
        let dos = dos_time(unix);
        put16(out, dos.0);
        put16(out, dos.1);
        // CRC and sizes: a folder's are known (nothing); a file's follow
        // its body, so they are zero here (0xFFFFFFFF with ZIP64).
        put32(out, 0);
        let unknown = if large { MAX_32 as u32 } else { 0 };
        put32(out, unknown);
        put32(out, unknown);
        put16(out, path.len() as u16);
        put16(out, (TIMESTAMP_LEN + if large { 20 } else { 0 }) as u16);
        out.extend_from_slice(path);
        if large {
            put16(out, ZIP64_EXTRA);
            put16(out, 16);
            put64(out, 0);
            put64(out, 0);
        }
        put_timestamp(out, mtime);
        let name = self.names.len()..self.names.len() + path.len();
        self.names.extend_from_slice(path);
        self.entries.push(Entry { name, flags, is_dir, crc: 0, size, offset: self.offset, dos, mtime, mode });
        self.offset += (out.len() - start) as u64;
        true
    }
}

/// Whether a file of `size` bytes needs ZIP64 sizes: `0xFFFFFFFF` itself
/// is the marker, so it does too.
fn is_large(size: u64) -> bool {
    size >= MAX_32
}

/// Appends the central directory record of `entry`, named `name`.
fn central(out: &mut Vec<u8>, entry: &Entry, name: &[u8]) {
    let large = is_large(entry.size);
    let far = entry.offset >= MAX_32;
    let zip64_len = if large { 16 } else { 0 } + if far { 8 } else { 0 };
    let zip64 = zip64_len > 0;
    put32(out, CENTRAL_HEADER);
    put16(out, MADE_BY);
    put16(out, if zip64 { VERSION_ZIP64 } else { VERSION_NEEDED });
    put16(out, entry.flags);
    put16(out, 0); // stored
    put16(out, entry.dos.0);
    put16(out, entry.dos.1);
    put32(out, entry.crc);
    let size = if large { MAX_32 as u32 } else { entry.size as u32 };
    put32(out, size);
    put32(out, size);
    // The name's length: paths come from a directory walk of at most
    // `MAX_DEPTH` levels of at most 255 bytes each, under 65,536.
    put16(out, name.len() as u16);
    put16(out, (TIMESTAMP_LEN + if zip64 { 4 + zip64_len } else { 0 }) as u16);
    put16(out, 0); // no comment
    put16(out, 0); // the disk it starts on
    put16(out, 0); // internal attributes
    let attributes = match entry.is_dir {
        true => ((UNIX_DIRECTORY | entry.mode) << 16) | DOS_DIRECTORY,
        false => (UNIX_FILE | entry.mode) << 16,
    };
    put32(out, attributes);
    put32(out, entry.offset.min(MAX_32) as u32);
    out.extend_from_slice(name);
    if zip64 {
        // Only the fields that overflowed, in the specification's order.
        put16(out, ZIP64_EXTRA);
        put16(out, zip64_len as u16);
        if large {
            put64(out, entry.size);
            put64(out, entry.size);
        }
        if far {
            put64(out, entry.offset);
        }
    }
    put_timestamp(out, entry.mtime);
}

/// The extended timestamp field with the modification time.
fn put_timestamp(out: &mut Vec<u8>, mtime: u32) {
    put16(out, TIMESTAMP_EXTRA);
    put16(out, 5);
    out.push(TIMESTAMP_MODIFIED);
    put32(out, mtime);
}

/// The DOS (time, date) of `unix` seconds, in UTC, to two seconds;
/// clamped to what the fields hold (1980 to 2107).
fn dos_time(unix: u64) -> (u16, u16) {
    let first = (0, (1 << 5) | 1); // 1980-01-01 00:00:00
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(i64::MAX)) else {
        return first;
    };
    match t.year() {
        year if year < DOS_FIRST_YEAR => first,
        year if year > DOS_LAST_YEAR => ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31),
        year => {
            let time = (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | u16::from(t.second() / 2);
            // 0 to 127, by the arms above.
            let years = (year - DOS_FIRST_YEAR) as u16;
            let date = (years << 9) | (u16::from(u8::from(t.month())) << 5) | u16::from(t.day());
            (time, date)
        }
    }
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dos(unix: u64, expected: &str) {
        let (time, date) = dos_time(unix);
        let shown = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            i32::from(date >> 9) + DOS_FIRST_YEAR,
            (date >> 5) & 0xf,
            date & 0x1f,
            time >> 11,
            (time >> 5) & 0x3f,
            (time & 0x1f) * 2
        );
        assert_eq!(shown, expected, "{unix}");
    }

    #[test]
    fn dos_times_in_utc_clamped_to_their_range() {
        dos(0, "1980-01-01 00:00:00");
        dos(315_532_799, "1980-01-01 00:00:00");
        dos(315_532_800, "1980-01-01 00:00:00");
        dos(784_111_777, "1994-11-06 08:49:36");
        dos(1_795_303_811, "2026-11-21 23:30:10");
        dos(4_354_819_199, "2107-12-31 23:59:58");
        dos(4_354_819_200, "2107-12-31 23:59:58");
        dos(u64::MAX, "1980-01-01 00:00:00");
    }

    /// Little-endian fields of `bytes` at `at`.
    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }
    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }
    fn u64_at(bytes: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    }

    /// An archive of `entries` (path, body; `None` for a folder) as the walk
    /// drives the format, `start` bytes into a stream (as if a large file
    /// had come before), with the central directory written in `piece`-byte
    /// steps.
    fn archive(entries: &[(&[u8], Option<&[u8]>)], start: u64, piece: usize) -> Vec<u8> {
        let mut zip = Zip { offset: start, ..Zip::default() };
        let when = Some(UNIX_EPOCH + Duration::from_secs(784_111_777));
        let mut out = Vec::new();
        for (path, body) in entries {
            match body {
                None => assert!(zip.directory(&mut out, path, when)),
                Some(body) => {
                    assert!(zip.file(&mut out, path, body.len() as u64, 0o640, when));
                    out.extend_from_slice(body);
                    zip.body(body);
                    zip.file_end(&mut out);
                }
            }
        }
        loop {
            let target = out.len() + piece;
            if zip.end(&mut out, target) {
                break;
            }
        }
        assert_eq!(zip.offset, start + out.len() as u64, "every byte counted");
        out
    }

    #[test]
    fn records_of_a_small_archive() {
        let zip = archive(&[(b"d/", None), (b"d/caf\xc3\xa9 x.txt", Some(b"hello"))], 0, 1);
        // The folder: a local header with nothing to follow.
        assert_eq!(u32_at(&zip, 0), LOCAL_HEADER);
        assert_eq!((u16_at(&zip, 4), u16_at(&zip, 6)), (VERSION_NEEDED, FLAG_UTF8));
        let file = 30 + 2 + TIMESTAMP_LEN;
        assert_eq!(u32_at(&zip, file), LOCAL_HEADER);
        assert_eq!(u16_at(&zip, file + 6), FLAG_UTF8 | FLAG_DESCRIPTOR);
        assert_eq!((u32_at(&zip, file + 14), u32_at(&zip, file + 18)), (0, 0), "CRC and size come later");
        let name_len = u16_at(&zip, file + 26) as usize;
        let body = file + 30 + name_len + TIMESTAMP_LEN;
        assert_eq!(&zip[body..body + 5], b"hello");
        let descriptor = body + 5;
        assert_eq!(u32_at(&zip, descriptor), DATA_DESCRIPTOR);
        assert_eq!(u32_at(&zip, descriptor + 4), crc32fast::hash(b"hello"));
        assert_eq!((u32_at(&zip, descriptor + 8), u32_at(&zip, descriptor + 12)), (5, 5));
        // The central directory: the file's record has its CRC, size, offset and mode.
        let directory = descriptor + 16;
        assert_eq!(u32_at(&zip, directory), CENTRAL_HEADER);
        let second = directory + 46 + 2 + TIMESTAMP_LEN;
        assert_eq!(u32_at(&zip, second), CENTRAL_HEADER);
        assert_eq!(u32_at(&zip, second + 16), crc32fast::hash(b"hello"));
        assert_eq!(u32_at(&zip, second + 24), 5);
        assert_eq!(u32_at(&zip, second + 38) >> 16, UNIX_FILE | 0o640);
        assert_eq!(u32_at(&zip, second + 42) as usize, file);
        assert_eq!(u32_at(&zip, directory + 38), ((UNIX_DIRECTORY | DIRECTORY_MODE) << 16) | DOS_DIRECTORY);
        // No ZIP64 records: the end record follows the directory.
        let end = zip.len() - 22;
        assert_eq!(u32_at(&zip, end), END);
        assert_eq!((u16_at(&zip, end + 10), u32_at(&zip, end + 16) as usize), (2, directory));
        assert_eq!(u32_at(&zip, end + 12) as usize, end - directory);
    }

    #[test]
    fn a_name_that_is_not_utf8_has_no_utf8_flag() {
        let zip = archive(&[(b"caf\xe9", Some(b""))], 0, 1000);
        assert_eq!(u16_at(&zip, 6), FLAG_DESCRIPTOR);
    }

    #[test]
    fn entries_past_4_gib_have_zip64_offsets_and_end_records() {
        let start = 5 << 30;
        let zip = archive(&[(b"late.txt", Some(b"late"))], start, 7);
        let directory = 30 + 8 + TIMESTAMP_LEN + 4 + 16;
        assert_eq!(u32_at(&zip, directory), CENTRAL_HEADER);
        assert_eq!(u16_at(&zip, directory + 6), VERSION_ZIP64);
        assert_eq!(u32_at(&zip, directory + 42), MAX_32 as u32, "the offset is in the ZIP64 field");
        let extra = directory + 46 + 8;
        assert_eq!((u16_at(&zip, extra), u16_at(&zip, extra + 2)), (ZIP64_EXTRA, 8));
        assert_eq!(u64_at(&zip, extra + 4), start);
        // ZIP64 end record, its locator, then the classic end record.
        let record = directory + 46 + 8 + 12 + TIMESTAMP_LEN;
        assert_eq!(u32_at(&zip, record), ZIP64_END);
        assert_eq!(u64_at(&zip, record + 48), start + directory as u64, "where the directory starts");
        assert_eq!(u32_at(&zip, record + 56), ZIP64_LOCATOR);
        assert_eq!(u64_at(&zip, record + 64), start + record as u64);
        assert_eq!(u32_at(&zip, record + 76), END);
        assert_eq!(u32_at(&zip, record + 76 + 16), MAX_32 as u32);
    }

    #[test]
    fn a_file_of_4_gib_has_zip64_sizes() {
        let mut zip = Zip::default();
        let mut out = Vec::new();
        let size = MAX_32;
        assert!(zip.file(&mut out, b"big", size, 0o644, None));
        assert_eq!(u16_at(&out, 4), VERSION_ZIP64);
        assert_eq!((u32_at(&out, 18), u32_at(&out, 22)), (MAX_32 as u32, MAX_32 as u32));
        assert_eq!((u16_at(&out, 33), u16_at(&out, 35)), (ZIP64_EXTRA, 16));
        // The body, counted but not kept.
        zip.offset += size;
        zip.entries[0].crc = 7;
        let at = out.len();
        zip.file_end(&mut out);
        assert_eq!(u32_at(&out, at), DATA_DESCRIPTOR);
        assert_eq!((u64_at(&out, at + 8), u64_at(&out, at + 16)), (size, size), "8-byte sizes");
        let at = out.len();
        assert!(zip.end(&mut out, usize::MAX));
        assert_eq!(u32_at(&out, at + 20), MAX_32 as u32);
        assert_eq!(u32_at(&out, at + 24), MAX_32 as u32);
        assert_eq!((u16_at(&out, at + 46 + 3), u16_at(&out, at + 46 + 5)), (ZIP64_EXTRA, 16));
        assert_eq!(u64_at(&out, at + 46 + 7), size);
    }

    #[test]
    fn the_central_directory_is_bounded() {
        let mut zip = Zip::default();
        let mut out = Vec::new();
        let long = vec![b'n'; 60_000];
        let fits = MAX_CENTRAL_DIRECTORY_BYTES / (long.len() + std::mem::size_of::<Entry>());
        for _ in 0..fits {
            assert!(zip.directory(&mut out, &long, None));
            out.clear();
        }
        assert!(!zip.directory(&mut out, &long, None), "one more would pass the bound");
        assert!(out.is_empty(), "and nothing of it is written");
    }

    /// Whether `program` is on the `PATH`; when it is not, the test is
    /// skipped with a reason, unless CI (`RAWSERVE_REQUIRE_TOOLS`) needs it.
    fn have(program: &str) -> bool {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
        if !found {
            assert!(std::env::var_os("RAWSERVE_REQUIRE_TOOLS").is_none(), "{program} is required");
            eprintln!("skipped: {program} is not installed");
        }
        found
    }

    /// ZIP64 sizes (a 4 GiB file), a ZIP64 offset (an entry past it) and
    /// ZIP64 end records (65,536 more entries), as Python's `zipfile` and
    /// Info-ZIP's `unzip` read them. The big body is a hole in a sparse
    /// file, its CRC made up (the format records what the walk computes):
    /// the records are what is tested, not 4 GiB of copying.
    #[test]
    fn zip64_records_read_by_python_and_unzip() {
        use std::io::{Seek, SeekFrom, Write};
        use std::process::Command;
        if !have("python3") || !have("unzip") {
            return;
        }
        let work = tempfile::tempdir().unwrap();
        let path = work.path().join("zip64.zip");
        let mut file = std::fs::File::create(&path).unwrap();
        let mut zip = Zip::default();
        let mut out = Vec::new();
        let big: u64 = (4 << 30) + 1024;
        assert!(zip.directory(&mut out, b"huge/", None));
        assert!(zip.file(&mut out, b"huge/big.img", big, 0o644, None));
        file.write_all(&out).unwrap();
        out.clear();
        // The body: a hole, counted as the walk would have.
        file.seek(SeekFrom::Current(big as i64)).unwrap();
        zip.offset += big;
        zip.crc = crc32fast::Hasher::new_with_initial(0x1234_5678);
        zip.file_end(&mut out);
        assert!(zip.file(&mut out, b"huge/after.txt", 5, 0o644, None));
        out.extend_from_slice(b"after");
        zip.body(b"after");
        zip.file_end(&mut out);
        for i in 0..65_536 {
            assert!(zip.file(&mut out, format!("huge/many/{i}").as_bytes(), 0, 0o644, None));
            zip.file_end(&mut out);
        }
        while !zip.end(&mut out, usize::MAX) {}
        file.write_all(&out).unwrap();
        drop(file);

        let script = "import sys, zipfile\n\
            with zipfile.ZipFile(sys.argv[1]) as z:\n    \
                big = z.getinfo('huge/big.img')\n    \
                after = z.getinfo('huge/after.txt')\n    \
                print(len(z.infolist()), big.file_size, hex(big.CRC), after.header_offset, z.read(after).decode(),\n          \
                      len(z.read('huge/many/65535')))\n";
        let output = Command::new("python3").arg("-c").arg(script).arg(&path).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let said = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<&str> = said.split_whitespace().collect();
        assert_eq!(fields[..3], ["65539", &big.to_string(), "0x12345678"], "{said}");
        let offset: u64 = fields[3].parse().unwrap();
        assert!(offset > big, "the entry after the big one starts past 4 GiB: {offset}");
        assert_eq!(fields[4..], ["after", "0"]);
        // unzip lists all (the ZIP64 end records) and checks the entry past 4 GiB.
        let listed = Command::new("unzip").arg("-l").arg(&path).output().unwrap();
        assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stdout));
        assert!(String::from_utf8_lossy(&listed.stdout).contains("65539 files"));
        let tested = Command::new("unzip").arg("-t").arg(&path).arg("huge/after.txt").output().unwrap();
        let said = String::from_utf8_lossy(&tested.stdout);
        assert!(tested.status.success() && said.contains("No errors detected"), "{said}");
    }
}
