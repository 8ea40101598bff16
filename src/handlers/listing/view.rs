//! What a request asks of a listing: the column to sort by, the order and
//! the format, from the query (`?sort=name|size|date&order=asc|desc`,
//! `?format=json|html`) and the `Accept` field. Unknown values fall back to
//! the defaults rather than failing the page; nothing here reads a
//! directory or writes a page.

/// The column a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortBy {
    #[default]
    Name,
    Size,
    Date,
}

impl SortBy {
    pub(super) fn token(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Size => "size",
            SortBy::Date => "date",
        }
    }
}

/// Ascending or descending; folders stay first either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// HTML for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    #[default]
    Html,
    Json,
}

/// What a request asks of a listing. Unknown values fall back to the
/// default, as Caddy's browse does, rather than failing the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct View {
    pub sort: SortBy,
    pub order: Order,
    pub format: Format,
}

impl View {
    /// The view from the query (`?sort=…&order=…&format=json`, with its
    /// `?`) and the `Accept` field: JSON when the query says so, or when
    /// `application/json` is acceptable and the query does not say `html`.
    pub fn of(query: &str, accept: Option<&str>) -> View {
        let sort = match param(query, "sort") {
            Some("size") => SortBy::Size,
            Some("date") => SortBy::Date,
            _ => SortBy::Name,
        };
        let order = match param(query, "order") {
            Some("desc") => Order::Desc,
            _ => Order::Asc,
        };
        let format = match param(query, "format") {
            Some("json") => Format::Json,
            Some("html") => Format::Html,
            _ if accept.is_some_and(accepts_json) => Format::Json,
            _ => Format::Html,
        };
        View { sort, order, format }
    }
}

/// The value of the first `name=value` pair of a query string (with or
/// without its `?`); values are compared as sent, none of ours needs decoding.
pub fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// Whether an `Accept` field lists `application/json` with a non-zero
/// quality (a browser's `*/*` does not count: it gets the page).
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let kind = parts.next().unwrap_or("");
        let zero = parts.any(|p| {
            p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")).is_some_and(|q| q.trim_end_matches('0') == "0.")
                || p == "q=0"
        });
        kind.eq_ignore_ascii_case("application/json") && !zero
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::handlers::listing::fixtures::view;

    #[test]
    fn views_from_query_and_accept() {
        let json = |sort, order| View { sort, order, format: Format::Json };
        let cases: &[(&str, Option<&str>, View)] = &[
            ("", None, View::default()),
            ("?sort=size", None, view(SortBy::Size, Order::Asc)),
            ("?sort=date&order=desc", None, view(SortBy::Date, Order::Desc)),
            ("?order=desc&sort=name", None, view(SortBy::Name, Order::Desc)),
            ("?sort=bogus&order=sideways", None, View::default()),
            ("?format=json", None, json(SortBy::Name, Order::Asc)),
            ("?format=json&sort=size", Some("text/html"), json(SortBy::Size, Order::Asc)),
            ("", Some("application/json"), json(SortBy::Name, Order::Asc)),
            ("", Some("text/html, application/json;q=0.5"), json(SortBy::Name, Order::Asc)),
            ("", Some("Application/JSON"), json(SortBy::Name, Order::Asc)),
            ("", Some("application/json;q=0"), View::default()),
            ("", Some("application/json; q=0.00"), View::default()),
            ("", Some("text/html,*/*;q=0.8"), View::default()),
            ("?format=html", Some("application/json"), View::default()),
        ];
        for (query, accept, expected) in cases {
            assert_eq!(View::of(query, *accept), *expected, "{query:?} {accept:?}");
        }
        assert_eq!(param("?a=1&download=tar", "download"), Some("tar"));
        assert_eq!(param("?download", "download"), Some(""));
        assert_eq!(param("?xdownload=tar", "download"), None);
    }
}
