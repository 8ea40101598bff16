//! The order of a listing's entries: folders first, then the view's column,
//! names in natural order (`file2` before `file10`, case-insensitive) as
//! the tie-break, then the raw bytes; sorted a run at a time as the
//! directory is read.

use std::cmp::Ordering;
use std::time::UNIX_EPOCH;

use super::view::{Order, SortBy, View};
use super::Entry;

/// Entries sorted for a view as they are read, so that no single step
/// sorts a whole large directory (10,000 names took ~11 ms in one go):
/// each entry's key (its lowercased name above all) is computed when it is
/// added, each run (a slice of the directory) is sorted when it ends, and
/// [`Sorted::into_entries`] merges the runs, which the standard library's
/// stable sort does in O(n log runs) because it finds them. The order:
/// folders first, then by the view's column, names in natural order
/// (`file2` before `file10`, case-insensitive) as the tie-break, then the
/// raw bytes; `desc` reverses folders and files each.
#[derive(Debug)]
pub struct Sorted {
    view: View,
    /// Each entry's key and its place in `entries`: sorting these moves
    /// 48 bytes an item rather than key and entry (~110); for 10,000 names
    /// the sort took 14.6 M instructions instead of 17.5 M.
    keys: Vec<(Key, usize)>,
    entries: Vec<Entry>,
    /// Where the run not yet sorted starts.
    run_start: usize,
}

/// Files after folders and the column's value in one number (the top bit
/// set for a file), then the natural key of the name.
type Key = (u128, Vec<u8>);

/// The top bit of a key's number: the entry is a file.
const FILE_BIT: u128 = 1 << 127;

impl Sorted {
    pub fn new(view: View) -> Sorted {
        Sorted { view, keys: Vec::new(), entries: Vec::new(), run_start: 0 }
    }

    /// Adds an entry; an empty name, `.` and `..` are dropped (their
    /// links would point at this directory or its parent).
    pub fn push(&mut self, entry: Entry) {
        if entry.name.is_empty() || entry.name == b"." || entry.name == b".." {
            return;
        }
        let column = match self.view.sort {
            SortBy::Name => 0,
            SortBy::Size if entry.is_dir => 0,
            SortBy::Size => u128::from(entry.size),
            SortBy::Date => entry.modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos()),
        };
        // Nanoseconds since 1970 stay far below the top bit.
        let kind = if entry.is_dir { 0 } else { FILE_BIT };
        self.keys.push(((kind | column.min(FILE_BIT - 1), natural_key(&entry.name)), self.entries.len()));
        self.entries.push(entry);
    }

    /// The view the entries are sorted for.
    pub fn view(&self) -> View {
        self.view
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sorts the entries added since the last run ended.
    pub fn end_run(&mut self) {
        let entries = &self.entries;
        self.keys[self.run_start..].sort_by(|a, b| by_key(entries, a, b));
        self.run_start = self.keys.len();
    }

    /// The entries in order.
    pub fn into_entries(mut self) -> Vec<Entry> {
        self.end_run();
        let entries = &self.entries;
        self.keys.sort_by(|a, b| by_key(entries, a, b));
        let mut slots: Vec<Option<Entry>> = self.entries.into_iter().map(Some).collect();
        let mut entries: Vec<Entry> = self.keys.iter().filter_map(|&(_, at)| slots[at].take()).collect();
        if self.view.order == Order::Desc {
            let folders = entries.iter().take_while(|e| e.is_dir).count();
            let (dirs, files) = entries.split_at_mut(folders);
            dirs.reverse();
            files.reverse();
        }
        entries
    }
}

/// The order of two keyed entries: by key, then by the names' raw bytes.
fn by_key(entries: &[Entry], a: &(Key, usize), b: &(Key, usize)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| entries[a.1].name.cmp(&entries[b.1].name))
}

/// The digit run of `s` starting at `k`: where it ends, and its digits
/// without leading zeros.
fn digit_run(s: &[u8], mut k: usize) -> (usize, &[u8]) {
    let start = k;
    while k < s.len() && s[k].is_ascii_digit() {
        k += 1;
    }
    let digits = &s[start..k];
    let first = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
    (k, &digits[first..])
}

/// A name's natural sort key: bytes that compare (as plain bytes, a
/// `memcmp`) in natural order, case-insensitively. Each run of ASCII
/// digits becomes `0`, its length without leading zeros (two bytes, big
/// end first) and those digits, so runs compare by value (any length,
/// `file2` before `file10`, `010` = `10`); other bytes stay, which for
/// UTF-8 is code point order. The marker `0` compares with any other byte
/// as every digit does, and two keys equal up to a marker are at a digit
/// run in both, so lengths meet lengths and digits meet digits.
fn natural_key(name: &[u8]) -> Vec<u8> {
    // An ASCII name is lowered byte by byte below, without a copy first.
    let lowered;
    let lower: &[u8] = if name.is_ascii() {
        name
    } else {
        lowered = String::from_utf8_lossy(name).chars().flat_map(char::to_lowercase).collect::<String>();
        lowered.as_bytes()
    };
    let mut key = Vec::with_capacity(lower.len() + 4);
    let mut i = 0;
    while i < lower.len() {
        if lower[i].is_ascii_digit() {
            let (next, digits) = digit_run(lower, i);
            key.push(b'0');
            // A file name is at most 255 bytes; a u16 holds any run.
            key.extend_from_slice(&u16::try_from(digits.len()).unwrap_or(u16::MAX).to_be_bytes());
            key.extend_from_slice(digits);
            i = next;
        } else {
            key.push(lower[i].to_ascii_lowercase());
            i += 1;
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::listing::fixtures::{file, view};
    use std::time::Duration;

    #[test]
    fn sorting_in_runs_is_sorting_at_once() {
        let names: Vec<Entry> = (0..500u64)
            .map(|i| {
                let n = i.wrapping_mul(2_654_435_761) % 997;
                let name = format!("{}{n}", ["file", "File", "dir", "a", "\u{e9}t\u{e9}"][(n % 5) as usize]);
                Entry {
                    is_dir: n % 7 == 0,
                    size: n % 13,
                    modified: Some(UNIX_EPOCH + Duration::from_secs(n % 11)),
                    ..file(&name)
                }
            })
            .collect();
        for sort in [SortBy::Name, SortBy::Size, SortBy::Date] {
            for order in [Order::Asc, Order::Desc] {
                let mut at_once = Sorted::new(view(sort, order));
                names.iter().cloned().for_each(|e| at_once.push(e));
                let mut in_runs = Sorted::new(view(sort, order));
                for (i, e) in names.iter().cloned().enumerate() {
                    in_runs.push(e);
                    if i % 37 == 0 {
                        in_runs.end_run();
                    }
                }
                let order_of = |s: Sorted| s.into_entries().into_iter().map(|e| e.name).collect::<Vec<_>>();
                assert_eq!(order_of(in_runs), order_of(at_once), "{sort:?} {order:?}");
            }
        }
    }

    #[test]
    fn natural_comparison() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("file2", "file10", Ordering::Less),
            ("file10", "file10", Ordering::Equal),
            ("file010", "file10", Ordering::Equal),
            ("a", "a1", Ordering::Less),
            ("1", "a", Ordering::Less),
            ("x99999999999999999999999", "x100000000000000000000000", Ordering::Less),
            ("v1.10", "v1.9", Ordering::Greater),
            ("", "", Ordering::Equal),
            ("\u{e9}", "z", Ordering::Greater),
            ("File2", "file10", Ordering::Less),
            ("\u{c9}t\u{e9}", "\u{e9}t\u{e9}", Ordering::Equal),
            ("a0", "a", Ordering::Greater),
            ("a00", "a0", Ordering::Equal),
            ("a-1", "a1", Ordering::Less),
            ("a 1", "a1", Ordering::Less),
            ("a:1", "a1", Ordering::Greater),
            ("file1b", "file1a", Ordering::Greater),
            ("file1", "file1.txt", Ordering::Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(natural_key(a.as_bytes()).cmp(&natural_key(b.as_bytes())), *expected, "{a:?} {b:?}");
        }
    }

    /// Natural order as a direct comparison, the model the keys follow.
    fn natural_cmp(a: &[u8], b: &[u8]) -> Ordering {
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
                let (next_i, x) = digit_run(a, i);
                let (next_j, y) = digit_run(b, j);
                let by_value = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (i, j) = (next_i, next_j);
            } else {
                if a[i] != b[j] {
                    return a[i].cmp(&b[j]);
                }
                i += 1;
                j += 1;
            }
        }
        (a.len() - i).cmp(&(b.len() - j))
    }

    #[test]
    fn natural_keys_compare_as_the_model_does() {
        let parts = ["", "a", "-", " ", "0", "00", "1", "01", "10", "099", "\u{e9}"];
        let mut names = Vec::new();
        for x in parts {
            for y in parts {
                for z in parts {
                    names.push(format!("{x}{y}{z}"));
                }
            }
        }
        let keys: Vec<Vec<u8>> = names.iter().map(|n| natural_key(n.as_bytes())).collect();
        for (a, key_a) in names.iter().zip(&keys) {
            for (b, key_b) in names.iter().zip(&keys) {
                assert_eq!(key_a.cmp(key_b), natural_cmp(a.as_bytes(), b.as_bytes()), "{a:?} {b:?}");
            }
        }
    }
}
