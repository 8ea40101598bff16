//! Which representation of a file answers a request: the file itself, a
//! precompressed sibling (`file.br`, `file.zst`, `file.gz`) or the file
//! compressed here, from the client's `Accept-Encoding`, the siblings that
//! exist, the type and size of the file and the settings. This part
//! chooses (lighttpd's `mod_staticfile`); `answer` says it with
//! validators, ranges and a response; the module root opens and reads.

use std::path::{Path, PathBuf};

use crate::config::FileOptions;
use crate::handlers::cache::FileCache;
use crate::handlers::compress;
use crate::handlers::Site;
use crate::http::encoding::{Coding, CodingSet, Preferences, COMPRESSED, STREAMED};
use crate::http::request::{Request, Version};

/// Which representation of a file to send: the file itself, a
/// precompressed sibling (`file.br`, `file.zst`, `file.gz`) or the file
/// compressed here.
pub struct Choice<'p> {
    pub original: &'p Path,
    pub coding: Coding,
    pub sibling: Option<PathBuf>,
    /// The type is negotiable (worth compressing), so every answer, the
    /// identity one too, says `Vary: Accept-Encoding`.
    pub varies: bool,
}

impl Choice<'_> {
    pub fn path(&self) -> &Path {
        self.sibling.as_deref().unwrap_or(self.original)
    }

    /// Compressed here rather than read from a sibling.
    pub fn on_the_fly(&self) -> bool {
        self.coding != Coding::Identity && self.sibling.is_none()
    }
}

/// What a request for one file can be answered with: the client's
/// `Accept-Encoding` and the siblings that exist. Siblings are looked for
/// only beside types worth compressing (as nginx's `gzip_types`): nobody
/// ships `photo.jpg.gz`, and not looking saves a lookup per image or video
/// request; nor when the request has no `Accept-Encoding`, which can only
/// be answered with identity. Made with the lookups ([`Offer::of`]); what
/// it is answered with ([`Offer::pick`]) is decided without any.
#[derive(Debug)]
pub struct Offer<'s> {
    /// The file's type, looked up once per request.
    pub mime: &'s str,
    negotiable: bool,
    preferences: Preferences,
    siblings: CodingSet,
    version: Version,
}

impl<'s> Offer<'s> {
    pub fn of(request: &Request, path: &Path, site: &'s Site, cache: &mut FileCache) -> Offer<'s> {
        let mime = site.types.mime_of(path);
        let negotiable = compress::worth_compressing(mime);
        let header = if negotiable { request.header("accept-encoding") } else { None };
        // A precompressed page has no live-reload script: it is compressed here.
        let siblings = match header {
            Some(_) if site.live.is_some() && crate::handlers::live::is_html(mime) => CodingSet::NONE,
            Some(_) => {
                let exists = |coding| site.root.metadata(&sibling_path(path, coding)).is_ok_and(|meta| meta.is_file());
                cache.siblings(&site.root, path, exists)
            }
            None => CodingSet::NONE,
        };
        Offer { mime, negotiable, preferences: Preferences::parse(header), siblings, version: request.version() }
    }

    /// The representation of `path`, a file of `size` bytes (`None`: not
    /// known yet, taken as large enough to compress); `None` when nothing
    /// acceptable exists (406). On the fly the server makes every coding,
    /// for files at least `compress_min_bytes` long or when identity is
    /// refused; a file to be streamed (larger than `compress_max_file`)
    /// needs chunked framing, so not for HTTP/1.0 clients.
    pub fn pick<'p>(&self, path: &'p Path, size: Option<u64>, options: &FileOptions) -> Option<Choice<'p>> {
        let streamed = size.is_some_and(|n| n > options.compress_max_file);
        let small = size.is_some_and(|n| n < options.compress_min_bytes);
        let made = if options.compress.is_none()
            || !self.negotiable
            || (small && self.preferences.accepts_identity())
            || (streamed && self.version == Version::HTTP_10)
        {
            CodingSet::NONE
        } else {
            CodingSet::ALL
        };
        let order = if streamed { STREAMED } else { COMPRESSED };
        let coding = self.preferences.choose(self.siblings, made, order)?;
        let sibling = self.siblings.contains(coding).then(|| sibling_path(path, coding));
        Some(Choice { original: path, coding, sibling, varies: self.negotiable })
    }
}

pub fn sibling_path(path: &Path, coding: Coding) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(coding.extension());
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// That `accept` (an `Accept-Encoding`, or none) gets `want` for a
    /// file of type `mime` and `size` bytes with `siblings`, from an
    /// HTTP/1.1 or 1.0 client, with on-the-fly compression `on` or off:
    /// the coding and whether it is a sibling, or `None` for a 406.
    fn picks(
        mime: &str,
        accept: Option<&str>,
        siblings: CodingSet,
        size: u64,
        http10: bool,
        on: bool,
        want: Option<(Coding, bool)>,
    ) {
        let mut options = FileOptions::new(".");
        if !on {
            options.compress = None;
        }
        let negotiable = compress::worth_compressing(mime);
        let version = if http10 { Version::HTTP_10 } else { Version::HTTP_11 };
        let offer = Offer { mime, negotiable, preferences: Preferences::parse(accept), siblings, version };
        let choice = offer.pick(Path::new("f"), Some(size), &options);
        if let Some(choice) = &choice {
            assert_eq!(choice.varies, negotiable, "Vary goes with the type");
            let sibling = siblings.contains(choice.coding) && choice.coding != Coding::Identity;
            assert_eq!(choice.sibling, sibling.then(|| sibling_path(Path::new("f"), choice.coding)));
        }
        let got = choice.map(|choice| (choice.coding, choice.sibling.is_some()));
        assert_eq!(got, want, "{mime} {accept:?} siblings {siblings:?} {size} B http10 {http10} compress {on}");
    }

    #[test]
    fn which_representation_answers() {
        use Coding::{Brotli, Gzip, Identity, Zstd};
        let none = CodingSet::NONE;
        let gz = CodingSet::NONE.with(Gzip);
        let all = CodingSet::ALL;
        let (kib, large) = (4096, 1 << 20);
        // picks(type, Accept-Encoding, siblings, size, HTTP/1.0, compress on, (coding, sibling?))
        // No header: the file itself, whatever exists.
        picks("text/css", None, all, kib, false, true, Some((Identity, false)));
        // Compressed here, brotli first among equals.
        picks("text/css", Some("gzip, br, zstd"), none, kib, false, true, Some((Brotli, false)));
        picks("text/css", Some("gzip"), none, kib, false, true, Some((Gzip, false)));
        // A sibling beats the same coding made here, and an equal one made here.
        picks("text/css", Some("gzip, br"), gz, kib, false, true, Some((Gzip, true)));
        picks("text/css", Some("gzip;q=0.5, br"), gz, kib, false, true, Some((Brotli, false)));
        // Compression off: siblings still serve, nothing is made.
        picks("text/css", Some("gzip, br"), none, kib, false, false, Some((Identity, false)));
        picks("text/css", Some("gzip, br"), gz, kib, false, false, Some((Gzip, true)));
        // Too small to be worth it, unless identity is refused.
        picks("text/css", Some("br"), none, 100, false, true, Some((Identity, false)));
        picks("text/css", Some("br, identity;q=0"), none, 100, false, true, Some((Brotli, false)));
        // Streamed (past compress_max_file): zstd first, and not for HTTP/1.0.
        picks("text/css", Some("gzip, br, zstd"), none, large, false, true, Some((Zstd, false)));
        picks("text/css", Some("gzip, br, zstd"), none, large, true, true, Some((Identity, false)));
        picks("text/css", Some("gzip"), gz, large, true, true, Some((Gzip, true)));
        // Not worth compressing: identity, and no sibling was looked for.
        picks("image/png", Some("gzip, br"), none, kib, false, true, Some((Identity, false)));
        // Nothing acceptable: 406.
        picks("text/css", Some("identity;q=0"), none, 100, false, true, None);
        picks("image/png", Some("br, identity;q=0"), none, kib, false, true, None);
        picks("text/css", Some("*;q=0"), none, kib, false, true, None);
    }
}
