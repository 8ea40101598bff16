//! Header fields a folder adds on the user's behalf: `--header` fields on
//! every response, `Cache-Control` by path glob (`--cache-control-for`),
//! and the CORS fields that do not depend on the request.
//!
//! The values arrive checked and typed (`config::values`: a bad name,
//! value or glob never becomes a `FileOptions` field); they are compiled
//! once, when a `StaticFiles` is made, and what a library user may set by
//! hand without parsing (CORS origins, the default `Cache-Control`) is
//! checked there, with the same errors. A file's fields are
//! rendered into its cached header lines by `files` (once per file
//! version), so a cache hit adds nothing; other answers of the folder
//! (404, redirects, listings, `OPTIONS`) get them through [`FolderHeaders::decorate`],
//! which is a single branch when nothing is configured.

use std::borrow::Cow;
use std::path::Path;

use globset::{GlobSet, GlobSetBuilder};

use super::{cors, live};
use crate::config::{check_cache_control, origin_of, Cors, FileOptions, Setting, SettingError};
use crate::http::request::Request;
use crate::http::response::{write_field, Body, Preparation, Response};

/// A folder's added fields, compiled.
#[derive(Debug)]
pub struct FolderHeaders {
    /// `--header` fields, checked when they were made.
    extra: Vec<(String, String)>,
    /// With live reload: `extra` for HTML answers, each
    /// `Content-Security-Policy` amended to allow its script
    /// (`live::page::amend_policy`).
    extra_html: Option<Vec<(String, String)>>,
    cache_globs: GlobSet,
    /// The `Cache-Control` value of each glob, by the glob's index.
    cache_values: Vec<String>,
    default_cache: String,
    /// The origins as browsers send them (normalised by `config::origin_of`).
    cors: Option<Cors>,
    /// Nothing to add to any response: `decorate` returns at once.
    nothing: bool,
}

impl FolderHeaders {
    /// Compiles `options`' headers and globs, and checks what a library
    /// user may have set by hand without parsing (the default
    /// `Cache-Control`, listed CORS origins).
    pub fn new(options: &FileOptions) -> Result<FolderHeaders, SettingError> {
        let extra: Vec<(String, String)> =
            options.headers.iter().map(|f| (f.name().to_string(), f.value().to_string())).collect();
        let extra_html = options.live_reload.then(|| {
            let amend = |(name, value): &(String, String)| match name.eq_ignore_ascii_case("content-security-policy") {
                true => (name.clone(), live::page::amend_policy(value)),
                false => (name.clone(), value.clone()),
            };
            extra.iter().map(amend).collect()
        });
        check_cache_control(&options.cache_control)?;
        let mut globs = GlobSetBuilder::new();
        for rule in &options.cache_control_for {
            globs.add(rule.compiled().clone());
        }
        let cache_globs = globs.build().map_err(|e| {
            let first = options.cache_control_for.first().map_or("", |rule| rule.glob());
            SettingError::new(Setting::CacheControlFor, first, format!("and the other globs do not compile: {e}"))
        })?;
        let cache_values = options.cache_control_for.iter().map(|rule| rule.value().to_string()).collect();
        let cors = match &options.cors {
            Some(Cors::Origins(list)) => {
                Some(Cors::Origins(list.iter().map(|o| origin_of(o)).collect::<Result<_, _>>()?))
            }
            other => other.clone(),
        };
        Ok(FolderHeaders {
            nothing: options.headers.is_empty() && cors.is_none(),
            extra,
            extra_html,
            cache_globs,
            cache_values,
            default_cache: options.cache_control.clone(),
            cors,
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

    /// The user's fields for an answer that is (`html`) or is not a page
    /// that gets live reload's script.
    fn extra(&self, html: bool) -> &[(String, String)] {
        match &self.extra_html {
            Some(amended) if html => amended,
            _ => &self.extra,
        }
    }

    /// Writes the fields every response of the folder carries (the user's
    /// and the request-independent CORS ones) as header lines, for a
    /// file's cached head; `html`: the file is a page that gets live
    /// reload's script.
    pub fn write_fields(&self, out: &mut Vec<u8>, html: bool) {
        for (name, value) in self.extra(html) {
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
            let html = response.headers.iter().any(|(n, v)| n == "Content-Type" && live::is_html(v));
            for (name, value) in self.extra(html) {
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
            // A listing: its page gets the script (a JSON one has no use
            // for a policy, amended or not).
            let extra = Decorate { work, origin, extra: self.extra(true).to_vec(), cors: self.cors.clone() };
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
            o.cache_control_for = ["assets/**=max-age=31536000, immutable", "*.html=no-store", "/**/*.css=max-age=60"]
                .map(|rule| rule.parse().unwrap())
                .to_vec()
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
    fn values_set_by_hand_are_checked_too() {
        // What parsing would refuse, set on the fields directly.
        type Case = (fn(&mut FileOptions), &'static str);
        let refused: [Case; 4] = [
            (|o| o.cache_control = "a\r\nb".into(), "--cache-control `a\\r\\nb` has a control character"),
            (|o| o.cors = Some(Cors::Origins(vec!["http://a, http://b".into()])), "--cors `http://a, http://b` is not"),
            (|o| o.cors = Some(Cors::Origins(vec!["notanorigin".into()])), "--cors `notanorigin` is not an origin"),
            (|o| o.cors = Some(Cors::Origins(vec!["null".into()])), "--cors `null` is not an origin"),
        ];
        for (adjust, sentence) in refused {
            let said = FolderHeaders::new(&options(adjust)).unwrap_err().to_string();
            assert!(said.starts_with(sentence), "{said}");
        }
        // A trailing slash or a default port would never match what browsers send.
        let cors = Cors::Origins(vec!["https://a.example/".into(), "http://b.example:80".into()]);
        let headers = FolderHeaders::new(&options(|o| o.cors = Some(cors))).unwrap();
        let normalised = Cors::Origins(vec!["https://a.example".into(), "http://b.example".into()]);
        assert_eq!(headers.cors(), Some(&normalised));
        assert!(FolderHeaders::new(&options(|o| o.headers = vec!["X-Frame-Options: DENY".parse().unwrap()])).is_ok());
    }
}
