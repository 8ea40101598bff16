//! A streaming `multipart/form-data` parser (RFC 7578 over RFC 2046's
//! framing), sans I/O: it is pushed whatever bytes of the body have
//! arrived, in pieces of any size, and hands back each part's head and its
//! data as slices of those bytes, so a file of any size passes through in
//! bounded memory and is never copied here. What the parts mean (files,
//! folders to make) is `form`'s.
//!
//! Written here rather than taken from a crate: `multer` and its kin pull
//! an async runtime's stream types; the sans-I/O ones found (`form-net`,
//! `nostd-multipart`) are months old with one maintainer each. The
//! grammar is small: a delimiter is CRLF, `--` and the boundary (so data
//! may hold anything else, a lone `--boundary` included); after it, `--`
//! ends the body, or optional white space and CRLF start a part's head,
//! which ends at a blank line. The head is read with `httparse` (bounded
//! by [`MAX_PART_HEAD_BYTES`]); data is searched with `memchr`'s `memmem`.
//! Since a boundary may hold no CR (RFC 2046 §5.1.1 `bchars`), a CR can
//! start a delimiter only at the delimiter's first byte: so at most the
//! tail of one piece after its last CR is held back for the next.

use memchr::memmem::Finder;

/// Longest part head (its field lines and the blank line), as a bound on
/// what a client may make the server hold: browsers send about 150 bytes
/// (`Content-Disposition` with the name, `Content-Type`).
pub const MAX_PART_HEAD_BYTES: usize = 8 * 1024;

/// Most field lines in a part head; browsers send two.
const MAX_PART_FIELDS: usize = 16;

/// Longest boundary RFC 2046 §5.1.1 allows.
const MAX_BOUNDARY: usize = 70;

/// Most bytes of white space a client may put after a delimiter (RFC
/// 2046's transport padding), so that padding cannot be work without end.
const MAX_PADDING: usize = 64;

/// Why a body is not a well-formed `multipart/form-data` body. Each is
/// raised at one place; all are the client's fault (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartError {
    /// No `boundary` parameter, or one RFC 2046 does not allow.
    Boundary,
    /// A part head longer than [`MAX_PART_HEAD_BYTES`] or with more than
    /// [`MAX_PART_FIELDS`] fields.
    HeadTooLarge,
    /// A part head that is not field lines, or without a form-data
    /// `Content-Disposition` naming the part.
    Head,
    /// Something other than `--` or CRLF after a delimiter.
    Delimiter,
    /// The body ended before its closing delimiter.
    Truncated,
}

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MultipartError::Boundary => "the multipart body has no valid boundary",
            MultipartError::HeadTooLarge => "a multipart part head is too large",
            MultipartError::Head => "a multipart part head is malformed or names no form field",
            MultipartError::Delimiter => "a multipart delimiter is followed by neither -- nor CRLF",
            MultipartError::Truncated => "the multipart body ended before its closing boundary",
        })
    }
}

/// What a part's head says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHead {
    /// The form field's name.
    pub name: String,
    /// The file's name as sent, for a file (may hold `/` for a file of a
    /// folder upload: the browser's relative path); `None` for a field.
    pub filename: Option<String>,
}

/// What the parser found, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A part begins.
    Part(PartHead),
    /// Some of the current part's data (never empty).
    Data(&'a [u8]),
    /// The current part has ended.
    PartEnd,
}

/// Where the parser is in the body.
#[derive(Debug)]
enum State {
    /// Before the first delimiter: bytes are thrown away.
    Preamble,
    /// Just after a delimiter: `--` (seen `dashes` of them) or padding and CRLF.
    AfterDelimiter { dashes: u8, padding: usize, cr: bool },
    /// In a part's head, collected in `head`.
    Head,
    /// In a part's data.
    Data,
    /// After the closing delimiter: the epilogue, ignored.
    Done,
}

/// A `multipart/form-data` body being parsed; see the module comment.
pub struct Parser {
    /// CRLF `--` boundary.
    delimiter: Vec<u8>,
    finder: Finder<'static>,
    state: State,
    /// Bytes held back: a prefix of the delimiter (in `Preamble` and
    /// `Data`), or the part head so far (in `Head`).
    held: Vec<u8>,
}

impl std::fmt::Debug for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser").field("state", &self.state).field("held", &self.held.len()).finish()
    }
}

/// The `boundary` parameter of a `multipart/form-data` `Content-Type`;
/// `None` for another type (the caller answers 415).
pub fn boundary_of(content_type: &str) -> Option<Result<&str, MultipartError>> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let value = params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then_some(value.trim())
    });
    let value = match value {
        Some(quoted) if quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"') => {
            &quoted[1..quoted.len() - 1]
        }
        Some(token) => token,
        None => return Some(Err(MultipartError::Boundary)),
    };
    Some(if valid_boundary(value) { Ok(value) } else { Err(MultipartError::Boundary) })
}

/// RFC 2046 §5.1.1: 1 to 70 `bchars`, not ending in a space.
fn valid_boundary(boundary: &str) -> bool {
    let bchar = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    (1..=MAX_BOUNDARY).contains(&boundary.len()) && boundary.bytes().all(bchar) && !boundary.ends_with(' ')
}

impl Parser {
    /// A parser for a body with `boundary` (from [`boundary_of`]).
    pub fn new(boundary: &str) -> Parser {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        let finder = Finder::new(&delimiter).into_owned();
        // The first delimiter may open the body without its CRLF: as if
        // the body began with one.
        Parser { delimiter, finder, state: State::Preamble, held: b"\r\n".to_vec() }
    }

    /// Whether the closing delimiter has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The body has ended: an error unless its closing delimiter came.
    pub fn finish(&self) -> Result<(), MultipartError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(MultipartError::Truncated)
        }
    }

    /// Parses `input`, the next bytes of the body, calling `each` with
    /// what it finds; stops at the first error, the parser's or `each`'s.
    pub fn feed<E: From<MultipartError>>(
        &mut self,
        mut input: &[u8],
        mut each: impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while !input.is_empty() {
            input = match self.state {
                State::Preamble | State::Data => self.scan(input, &mut each)?,
                State::AfterDelimiter { .. } => self.after_delimiter(input)?,
                State::Head => self.head(input, &mut each)?,
                State::Done => &[],
            };
        }
        Ok(())
    }

    /// Data (or preamble) up to the next delimiter; returns what follows it.
    fn scan<'i, E: From<MultipartError>>(
        &mut self,
        input: &'i [u8],
        each: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<&'i [u8], E> {
        let data = matches!(self.state, State::Data);
        if !self.held.is_empty() {
            // The held bytes are a prefix of the delimiter: does the input
            // complete it?
            let want = &self.delimiter[self.held.len()..];
            let n = want.len().min(input.len());
            if input[..n] == want[..n] {
                if n < want.len() {
                    self.held.extend_from_slice(input);
                    return Ok(&[]);
                }
                self.held.clear();
                return self.delimited(&input[n..], data, each);
            }
            // Not a delimiter after all: they were data (no later byte of
            // them can start one, as only the delimiter's first byte is CR).
            let held = std::mem::take(&mut self.held);
            if data {
                each(Event::Data(&held))?;
            }
        }
        if let Some(at) = self.finder.find(input) {
            if data && at > 0 {
                each(Event::Data(&input[..at]))?;
            }
            return self.delimited(&input[at + self.delimiter.len()..], data, each);
        }
        // No whole delimiter: hold back a tail that may begin one.
        let tail_from = input.len().saturating_sub(self.delimiter.len() - 1);
        let keep = match memchr::memrchr(b'\r', &input[tail_from..]) {
            Some(cr) if self.delimiter.starts_with(&input[tail_from + cr..]) => input.len() - (tail_from + cr),
            _ => 0,
        };
        let end = input.len() - keep;
        if data && end > 0 {
            each(Event::Data(&input[..end]))?;
        }
        self.held.extend_from_slice(&input[end..]);
        Ok(&[])
    }

    /// A delimiter was read: the part (if any) ends.
    fn delimited<'i, E: From<MultipartError>>(
        &mut self,
        rest: &'i [u8],
        data: bool,
        each: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<&'i [u8], E> {
        if data {
            each(Event::PartEnd)?;
        }
        self.state = State::AfterDelimiter { dashes: 0, padding: 0, cr: false };
        Ok(rest)
    }

    /// `--` (the end) or padding and CRLF (a part) after a delimiter.
    fn after_delimiter<'i>(&mut self, input: &'i [u8]) -> Result<&'i [u8], MultipartError> {
        let State::AfterDelimiter { dashes, padding, cr } = &mut self.state else { return Ok(input) };
        for (i, &byte) in input.iter().enumerate() {
            match (byte, *dashes, *cr) {
                (b'-', 0 | 1, false) if *padding == 0 => {
                    *dashes += 1;
                    if *dashes == 2 {
                        self.state = State::Done;
                        return Ok(&[]);
                    }
                }
                (b' ' | b'\t', 0, false) if *padding < MAX_PADDING => *padding += 1,
                (b'\r', 0, false) => *cr = true,
                (b'\n', 0, true) => {
                    self.state = State::Head;
                    return Ok(&input[i + 1..]);
                }
                _ => return Err(MultipartError::Delimiter),
            }
        }
        Ok(&[])
    }

    /// Collects a part's head until its blank line; then the part begins.
    fn head<'i, E: From<MultipartError>>(
        &mut self,
        input: &'i [u8],
        each: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<&'i [u8], E> {
        // Search from just before the new bytes, for a blank line split
        // between two pieces.
        let from = self.held.len().saturating_sub(3);
        let room = MAX_PART_HEAD_BYTES - self.held.len();
        let take = input.len().min(room);
        self.held.extend_from_slice(&input[..take]);
        let end = if self.held.starts_with(b"\r\n") {
            // No fields at all.
            Some(2)
        } else {
            memchr::memmem::find(&self.held[from..], b"\r\n\r\n").map(|at| from + at + 4)
        };
        let Some(end) = end else {
            if take < input.len() || self.held.len() == MAX_PART_HEAD_BYTES {
                return Err(MultipartError::HeadTooLarge.into());
            }
            return Ok(&[]);
        };
        let head = part_head(&self.held[..end])?;
        // Bytes past the head's end were taken from this input: give them back.
        let used = take - (self.held.len() - end);
        self.held.clear();
        self.state = State::Data;
        each(Event::Part(head))?;
        Ok(&input[used..])
    }
}

/// A part head's `Content-Disposition: form-data; name=…; filename=…`.
fn part_head(bytes: &[u8]) -> Result<PartHead, MultipartError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_PART_FIELDS];
    let fields = match httparse::parse_headers(bytes, &mut fields) {
        Ok(httparse::Status::Complete((_, fields))) => fields,
        Err(httparse::Error::TooManyHeaders) => return Err(MultipartError::HeadTooLarge),
        _ => return Err(MultipartError::Head),
    };
    let disposition = fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case("content-disposition"))
        .and_then(|f| std::str::from_utf8(f.value).ok())
        .ok_or(MultipartError::Head)?;
    let mut params = disposition.split(';');
    if !params.next().is_some_and(|kind| kind.trim().eq_ignore_ascii_case("form-data")) {
        return Err(MultipartError::Head);
    }
    let (mut name, mut filename) = (None, None);
    for (key, value) in disposition_params(&disposition[disposition.find(';').unwrap_or(disposition.len())..])? {
        if key.eq_ignore_ascii_case("name") {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("filename") {
            filename = Some(value);
        }
    }
    Ok(PartHead { name: name.ok_or(MultipartError::Head)?, filename })
}

/// The `; key=value` parameters of a disposition, values unquoted (a
/// quoted string's backslash escapes undone, as curl writes `"` and `\`).
/// Browsers write `"` in a file name as `%22` (the HTML standard's
/// encoding): it is kept as sent, since a name may contain `%` itself.
fn disposition_params(mut rest: &str) -> Result<Vec<(&str, String)>, MultipartError> {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        let Some(after) = rest.strip_prefix(';') else {
            return if rest.is_empty() { Ok(params) } else { Err(MultipartError::Head) };
        };
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(params);
        }
        let (key, value) = after.split_once('=').ok_or(MultipartError::Head)?;
        let value = value.trim_start();
        if let Some(quoted) = value.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => text.push(chars.next().ok_or(MultipartError::Head)?.1),
                    Some((at, '"')) => break at,
                    Some((_, c)) => text.push(c),
                    None => return Err(MultipartError::Head),
                }
            };
            params.push((key.trim(), text));
            rest = &quoted[end + 1..];
        } else {
            let end = value.find(';').unwrap_or(value.len());
            params.push((key.trim(), value[..end].trim_end().to_string()));
            rest = &value[end..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What parsing `body` in pieces of `step` bytes gives: one line per
    /// event (`part name filename`, `data …` merged, `end`), and the error.
    fn parse(boundary: &str, body: &[u8], step: usize) -> (Vec<String>, Result<(), MultipartError>) {
        let mut parser = Parser::new(boundary);
        let mut events: Vec<String> = Vec::new();
        let mut outcome = Ok(());
        for piece in body.chunks(step.max(1)) {
            outcome = parser.feed(piece, |event| {
                match event {
                    Event::Part(head) => events.push(format!("part {} {:?}", head.name, head.filename)),
                    Event::Data(data) => {
                        assert!(!data.is_empty(), "empty data event");
                        let text = String::from_utf8_lossy(data);
                        match events.last_mut() {
                            Some(last) if last.starts_with("data ") => last.push_str(&text),
                            _ => events.push(format!("data {text}")),
                        }
                    }
                    Event::PartEnd => events.push("end".into()),
                }
                Ok::<(), MultipartError>(())
            });
            if outcome.is_err() {
                break;
            }
        }
        (events, outcome.and_then(|()| parser.finish()))
    }

    /// Parses `body` in every piece size from 1 to its length, which must
    /// all agree, and returns that.
    fn parse_any_split(boundary: &str, body: &[u8]) -> (Vec<String>, Result<(), MultipartError>) {
        let whole = parse(boundary, body, body.len());
        for step in 1..body.len() {
            assert_eq!(parse(boundary, body, step), whole, "split every {step} bytes");
        }
        whole
    }

    const FORM: &[u8] = b"preamble\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        line one\r\n--XyQ not a delimiter\r\n-- XyZ\r\r\n\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"mkdir\"\r\n\r\n\
        new\r\n\
        --XyZ--\r\nepilogue";

    #[test]
    fn a_form_split_anywhere_parses_the_same() {
        let (events, outcome) = parse_any_split("XyZ", FORM);
        assert_eq!(outcome, Ok(()));
        assert_eq!(
            events,
            [
                "part file Some(\"a.txt\")",
                "data line one\r\n--XyQ not a delimiter\r\n-- XyZ\r\r\n",
                "end",
                "part mkdir None",
                "data new",
                "end"
            ]
        );
    }

    #[test]
    fn empty_parts_padding_and_no_preamble() {
        let body = b"--b \t\r\nContent-Disposition: form-data; name=x; filename=\"\"\r\n\r\n\r\n--b\r\n\r\n\r\n--b--";
        let (events, outcome) = parse_any_split("b", body);
        assert_eq!(events, ["part x Some(\"\")", "end"]);
        assert_eq!(outcome, Err(MultipartError::Head), "a part without Content-Disposition");
    }

    #[test]
    fn hostile_bodies() {
        let head = |fields: &str| format!("--b\r\n{fields}\r\n\r\ndata\r\n--b--").into_bytes();
        let cases: &[(&[u8], MultipartError)] = &[
            (b"--b\r\nContent-Disposition: form-data; name=f\r\n\r\nno end", MultipartError::Truncated),
            (b"--b\r\nContent-Disposition: form-data; name=f\r\n\r\nx\r\n--b", MultipartError::Truncated),
            (b"--b\r\nContent-Disposition: form-data; name=f", MultipartError::Truncated),
            (b"no delimiter at all", MultipartError::Truncated),
            (b"", MultipartError::Truncated),
            (b"--bX\r\n", MultipartError::Delimiter),
            (b"--b-x", MultipartError::Delimiter),
            (b"--b x\r\n", MultipartError::Delimiter),
            (b"--b\n\n", MultipartError::Delimiter),
            (&head("Content-Disposition: attachment; name=f"), MultipartError::Head),
            (&head("Content-Disposition: form-data; filename=f"), MultipartError::Head),
            (&head("Content-Disposition: form-data; name=\"f"), MultipartError::Head),
            (&head("Content-Disposition form-data"), MultipartError::Head),
            (&head("Content-Type: text/plain"), MultipartError::Head),
        ];
        for (body, error) in cases {
            let (_, outcome) = parse_any_split("b", body);
            assert_eq!(outcome, Err(*error), "{:?}", String::from_utf8_lossy(body));
        }
        // A head past the bound, however it arrives.
        let huge = format!("--b\r\nX-Pad: {}\r\n", "a".repeat(MAX_PART_HEAD_BYTES));
        for step in [1, 7, 4096, huge.len()] {
            assert_eq!(parse("b", huge.as_bytes(), step).1, Err(MultipartError::HeadTooLarge), "{step}");
        }
        let many: String = (0..=MAX_PART_FIELDS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(parse("b", &head(&many), 5).1, Err(MultipartError::HeadTooLarge));
        let padded = format!("--b{}\r\n", " ".repeat(MAX_PADDING + 1));
        assert_eq!(parse("b", padded.as_bytes(), 3).1, Err(MultipartError::Delimiter));
    }

    #[test]
    fn file_names_as_clients_write_them() {
        let name = |disposition: &str| {
            let body = format!("--b\r\nContent-Disposition: {disposition}\r\n\r\n\r\n--b--");
            let (events, outcome) = parse("b", body.as_bytes(), 3);
            outcome.map(|()| events[0].clone())
        };
        assert_eq!(
            name("form-data; name=\"f\"; filename=\"dir/sub/a b.txt\""),
            Ok("part f Some(\"dir/sub/a b.txt\")".into())
        );
        assert_eq!(
            name("form-data; name=\"f\"; filename=\"q\\\"uo\\\\te\""),
            Ok("part f Some(\"q\\\"uo\\\\te\")".into())
        );
        assert_eq!(name("form-data; name=\"f\"; filename=\"a%22b\""), Ok("part f Some(\"a%22b\")".into()));
        assert_eq!(name("Form-Data;NAME=f;FileName=x.bin;"), Ok("part f Some(\"x.bin\")".into()));
        assert_eq!(
            name("form-data; name=\"f\"; filename=\"../../etc/passwd\""),
            Ok("part f Some(\"../../etc/passwd\")".into())
        );
        assert_eq!(name("form-data; name=\"f\" x"), Err(MultipartError::Head));
    }

    #[test]
    fn boundaries_from_content_type() {
        let cases: &[(&str, Option<Result<&str, MultipartError>>)] = &[
            ("multipart/form-data; boundary=----WebKitFormBoundaryA1b2", Some(Ok("----WebKitFormBoundaryA1b2"))),
            ("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\"", Some(Ok("a b:c"))),
            ("multipart/form-data", Some(Err(MultipartError::Boundary))),
            ("multipart/form-data; boundary=", Some(Err(MultipartError::Boundary))),
            ("multipart/form-data; boundary=\"ends \"", Some(Err(MultipartError::Boundary))),
            ("multipart/form-data; boundary=a\rb", Some(Err(MultipartError::Boundary))),
            ("multipart/form-data; boundary=a{b}", Some(Err(MultipartError::Boundary))),
            ("application/x-www-form-urlencoded", None),
            ("multipart/mixed; boundary=x", None),
        ];
        for (content_type, expected) in cases {
            assert_eq!(boundary_of(content_type), *expected, "{content_type}");
        }
        let long = format!("multipart/form-data; boundary={}", "x".repeat(MAX_BOUNDARY + 1));
        assert_eq!(boundary_of(&long), Some(Err(MultipartError::Boundary)));
    }

    #[test]
    fn large_data_passes_without_being_held() {
        let data: Vec<u8> = (0..200_000u32).map(|i| if i % 97 == 0 { b'\r' } else { (i % 251) as u8 }).collect();
        let mut body = b"--Bd\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n".to_vec();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n--Bd--\r\n");
        for step in [1, 13, 4096, 65536] {
            let mut parser = Parser::new("Bd");
            let mut got = Vec::new();
            for piece in body.chunks(step) {
                parser
                    .feed(piece, |event| {
                        if let Event::Data(d) = event {
                            got.extend_from_slice(d);
                        }
                        Ok::<(), MultipartError>(())
                    })
                    .unwrap();
                if matches!(parser.state, State::Data) {
                    assert!(parser.held.len() < parser.delimiter.len(), "at most a delimiter's prefix is held");
                }
            }
            assert_eq!(parser.finish(), Ok(()));
            assert!(got == data, "step {step}");
        }
    }
}
