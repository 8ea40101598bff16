//! Header fields a folder adds on the user's behalf: `--header` fields on
//! every response, `Cache-Control` by path glob (`--cache-control-for`),
//! and the CORS fields that do not depend on the request.
//!
//! Everything is checked and compiled once, when a `StaticFiles` is made
//! (a bad name, value or glob is a start-up error). A file's fields are
//! rendered into its cached header lines by `files` (once per file
//! version), so a cache hit adds nothing; other answers of the folder
//! (404, redirects, listings, `OPTIONS`) get them through [`FolderHeaders::decorate`],
//! which is a single branch when nothing is configured.

use std::borrow::Cow;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::cors;
use crate::config::{Cors, FileOptions};
use crate::http::request::Request;
use crate::http::response::{check_name, check_value, write_field, Body, Preparation, Response};

/// Fields the file handler writes itself, from the file and the request:
/// a second copy would contradict it. Each has its own setting.
const SET_BY_FILES: [(&str, &str); 7] = [
    ("cache-control", "use --cache-control or --cache-control-for"),
    ("content-type", "use --mime"),
    ("content-encoding", "it follows the file that is sent"),
    ("content-range", "it follows the Range asked for"),
    ("etag", "it follows the file"),
    ("last-modified", "it follows the file"),
    ("accept-ranges", "it follows the file"),
];

/// A folder's added fields, compiled.
#[derive(Debug)]
pub struct FolderHeaders {
    /// `--header` fields, checked.
    extra: Vec<(String, String)>,
    cache_globs: GlobSet,
    /// The `Cache-Control` value of each glob, by the glob's index.
    cache_values: Vec<String>,
    default_cache: String,
    cors: Option<Cors>,
    /// Nothing to add to any response: `decorate` returns at once.
    nothing: bool,
}

impl FolderHeaders {
    /// Checks and compiles `options`' headers, globs and CORS origins;
    /// the error is one sentence for the user.
    pub fn new(options: &FileOptions) -> Result<FolderHeaders, String> {
        let mut extra = Vec::with_capacity(options.headers.len());
        for (name, value) in &options.headers {
            let (name, value) = (name.trim(), value.trim());
            check_name(name).map_err(|e| format!("--header `{name}`: {e}"))?;
            check_value(value).map_err(|e| format!("--header `{name}`: {e}"))?;
            if let Some((_, hint)) = SET_BY_FILES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(format!("--header `{name}`: the file server sets this field ({hint})"));
            }
            extra.push((name.to_string(), value.to_string()));
        }
        check_value(&options.cache_control).map_err(|e| format!("--cache-control: {e}"))?;
        let mut globs = GlobSetBuilder::new();
        let mut cache_values = Vec::with_capacity(options.cache_control_for.len());
        for (glob, value) in &options.cache_control_for {
            let glob = glob.trim_start_matches('/');
            let compiled = GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("--cache-control-for `{glob}`: {e}"))?;
            check_value(value).map_err(|e| format!("--cache-control-for `{glob}`: {e}"))?;
            globs.add(compiled);
            cache_values.push(value.trim().to_string());
        }
        let cache_globs = globs.build().map_err(|e| format!("--cache-control-for: {e}"))?;
        if let Some(Cors::Origins(list)) = &options.cors {
            for origin in list {
                if check_value(origin).is_err() || origin.is_empty() || origin.contains([',', ' ']) {
                    return Err(format!("--cors `{origin}` is not an origin such as `https://app.example`"));
                }
            }
        }
        Ok(FolderHeaders {
            nothing: extra.is_empty() && options.cors.is_none(),
            extra,
            cache_globs,
            cache_values,
            default_cache: options.cache_control.clone(),
            cors: options.cors.clone(),
        })
    }

    /// The folder's CORS setting.
    pub fn cors(&self) -> Option<&Cors> {
        self.cors.as_ref()
    }

    /// `Cache-Control` for the file at `path` (relative to the root): the
    /// first matching glob's value, else the folder's default.
    pub fn cache_control(&self, path: &Path) -> &str {
        if self.cache_values.is_empty() {
            return &self.default_cache;
        }
        match self.cache_globs.matches(path).into_iter().min() {
            Some(i) => &self.cache_values[i],
            None => &self.default_cache,
        }
    }

    /// Writes the fields every response of the folder carries (the user's
    /// and the request-independent CORS ones) as header lines, for a
    /// file's cached head.
    pub fn write_fields(&self, out: &mut Vec<u8>) {
        for (name, value) in &self.extra {
            write_field(out, name, value);
        }
        match &self.cors {
            // The same for every request: both fields go in the cached lines.
            Some(Cors::AnyOrigin) => {
                write_field(out, "Access-Control-Allow-Origin", "*");
                write_field(out, "Access-Control-Expose-Headers", cors::EXPOSE_HEADERS);
            }
            // Per request, in `decorate` (`cors::allow`), for allowed origins only.
            Some(Cors::Origins(_)) => write_field(out, "Vary", "Origin"),
            None => {}
        }
    }

    /// Adds this folder's fields to `response`. A file's response already
    /// carries the static ones in its rendered lines (`raw_headers`); only
    /// an echoed origin is per request.
    pub fn decorate(&self, request: &Request, mut response: Response) -> Response {
        if self.nothing {
            return response;
        }
        if response.raw_headers.is_none() && !matches!(response.body, Body::Later(_)) {
            let preflight = response.headers.iter().any(|(n, _)| n == "Access-Control-Allow-Methods");
            for (name, value) in &self.extra {
                response.headers.push((Cow::Owned(name.clone()), Cow::Owned(value.clone())));
            }
            if let Some(cors) = self.cors.as_ref().filter(|_| !preflight) {
                if let Some(origin) = cors::allow_origin(cors, request) {
                    response = cors::allow(response, origin);
                }
                if cors::varies(cors) {
                    response = response.header("Vary", "Origin");
                }
            }
            return response;
        }
        if let Body::Later(work) = response.body {
            // A listing still being prepared: decorate the page it becomes.
            let origin = self.cors.as_ref().and_then(|cors| cors::allow_origin(cors, request));
            let extra = Decorate { work, origin, extra: self.extra.clone(), cors: self.cors.clone() };
            return Response::later(Box::new(extra));
        }
        // A file: only an origin echoed from the list is per request.
        if let Some(cors @ Cors::Origins(_)) = &self.cors {
            if let Some(origin) = cors::allow_origin(cors, request) {
                response = cors::allow(response, origin);
            }
        }
        response
    }
}

/// A response still being prepared, and the fields to add once it is.
#[derive(Debug)]
struct Decorate {
    work: Box<dyn Preparation>,
    origin: Option<crate::http::response::Value>,
    extra: Vec<(String, String)>,
    cors: Option<Cors>,
}

impl Preparation for Decorate {
    fn advance(&mut self) -> Option<Response> {
        let mut response = self.work.advance()?;
        for (name, value) in self.extra.drain(..) {
            response.headers.push((Cow::Owned(name), Cow::Owned(value)));
        }
        if let Some(cors) = &self.cors {
            if let Some(origin) = self.origin.take() {
                response = cors::allow(response, origin);
            }
            if cors::varies(cors) {
                response = response.header("Vary", "Origin");
            }
        }
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(adjust: impl FnOnce(&mut FileOptions)) -> FileOptions {
        let mut options = FileOptions::new("unused");
        adjust(&mut options);
        options
    }

    #[test]
    fn cache_control_by_glob_first_match_wins() {
        let headers = FolderHeaders::new(&options(|o| {
            o.cache_control_for = vec![
                ("assets/**".into(), "max-age=31536000, immutable".into()),
                ("*.html".into(), "no-store".into()),
                ("/**/*.css".into(), "max-age=60".into()),
            ]
        }))
        .unwrap();
        let cases = [
            ("assets/app.js", "max-age=31536000, immutable"),
            ("assets/deep/er/x.css", "max-age=31536000, immutable"),
            ("index.html", "no-store"),
            ("docs/index.html", "no-cache"), // `*` stays within a segment
            ("docs/site.css", "max-age=60"),
            ("site.css", "max-age=60"),
            ("other.txt", "no-cache"),
        ];
        for (path, value) in cases {
            assert_eq!(headers.cache_control(Path::new(path)), value, "{path}");
        }
    }

    #[test]
    fn bad_settings_are_start_up_errors() {
        let refused: [fn(&mut FileOptions); 9] = [
            |o| o.headers = vec![("Bad Name".into(), "v".into())],
            |o| o.headers = vec![("X-A".into(), "a\r\nSet-Cookie: x".into())],
            |o| o.headers = vec![("X-A".into(), "a\0b".into())],
            |o| o.headers = vec![("".into(), "v".into())],
            |o| o.headers = vec![("Content-Length".into(), "1".into())],
            |o| o.headers = vec![("cache-control".into(), "no-store".into())],
            |o| o.cache_control_for = vec![("a/[".into(), "no-store".into())],
            |o| o.cache_control_for = vec![("a/**".into(), "x\ny".into())],
            |o| o.cors = Some(Cors::Origins(vec!["http://a, http://b".into()])),
        ];
        for (i, adjust) in refused.iter().enumerate() {
            let mut o = FileOptions::new("unused");
            adjust(&mut o);
            assert!(FolderHeaders::new(&o).is_err(), "case {i}: {:?} {:?}", o.headers, o.cache_control_for);
        }
        assert!(FolderHeaders::new(&options(|o| o.headers = vec![("X-Frame-Options".into(), "DENY".into())])).is_ok());
    }
}
