//! The controls a listing carries when its folder takes writes: an upload
//! form (files, a folder, drag and drop, progress, cancel, errors shown;
//! the page asks before it replaces a file), a new-folder form, and with
//! `--delete` rename and delete buttons on each row. The forms work
//! without script (a plain multipart `POST`, answered with 303 back to
//! the listing); `upload.js` (inline, allowed by its hash in
//! `policy::WRITABLE_POLICY`) sends each file by itself with progress and
//! adds what needs script. Kept apart from `html` so the read-only page
//! is untouched by it. What the server does with the requests is
//! `handlers::upload`'s.

use super::policy::{UPLOAD_SCRIPT, UPLOAD_STYLE, WRITABLE_POLICY};

/// What a folder's page offers besides reading, from its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Writes {
    /// `--upload`: the upload and new-folder forms.
    pub upload: bool,
    /// `--delete`: rename and delete on the rows.
    pub changes: bool,
}

impl Writes {
    fn any(self) -> bool {
        self.upload || self.changes
    }

    /// The page's Content-Security-Policy.
    pub fn policy(self) -> &'static str {
        if self.any() {
            WRITABLE_POLICY
        } else {
            super::CONTENT_SECURITY_POLICY
        }
    }
}

/// The upload forms; the file inputs share one name, so a form posted
/// without script sends them all.
const FORMS: &str = "<form class=\"files\" method=\"post\" enctype=\"multipart/form-data\">\
    <label>Files <input type=\"file\" name=\"file\" multiple></label>\
    <label>Folder <input type=\"file\" name=\"file\" webkitdirectory></label>\
    <button>Upload</button><span class=\"hint\" hidden>or drop files and folders on the page</span></form>\n\
    <form class=\"mkdir\" method=\"post\" enctype=\"multipart/form-data\">\
    <input type=\"text\" name=\"mkdir\" placeholder=\"New folder\" aria-label=\"New folder name\" required>\
    <button>Create folder</button></form>\n\
    <ul id=\"queue\"></ul><button id=\"cancel\" type=\"button\" hidden>Cancel</button>\n";

/// The controls' style, after the page's own.
pub fn push_style(html: &mut String, writes: Writes) {
    if writes.any() {
        html.push_str("<style>");
        html.push_str(UPLOAD_STYLE);
        html.push_str("</style>\n");
    }
}

/// The section of controls, between the tools and the table.
pub fn push_section(html: &mut String, writes: Writes) {
    if !writes.any() {
        return;
    }
    html.push_str("<section id=\"upload\"");
    if writes.changes {
        html.push_str(" data-changes");
    }
    if !writes.upload {
        // Rename and delete only: nothing to show but the row buttons.
        html.push_str(" hidden></section>\n");
        return;
    }
    html.push_str(">\n");
    html.push_str(FORMS);
    html.push_str("</section>\n");
}

/// The controls' script, after the page's own.
pub fn push_script(html: &mut String, writes: Writes) {
    if writes.any() {
        html.push_str("<script>");
        html.push_str(UPLOAD_SCRIPT);
        html.push_str("</script>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::listing::fixtures::{contains, file, lacks};
    use crate::handlers::listing::page::Page;
    use crate::handlers::listing::sort::Sorted;
    use crate::handlers::listing::view::View;

    fn page(writes: Writes) -> String {
        let mut sorted = Sorted::new(View::default());
        sorted.push(file("a.txt"));
        let mut page = Page::sorted("/d/", sorted, None, writes);
        while !page.render_rows(usize::MAX) {}
        page.finish()
    }

    /// The text between the `n`th `open` and the `close` after it.
    fn between<'h>(html: &'h str, open: &str, close: &str, n: usize) -> &'h str {
        html.split(open).nth(n + 1).and_then(|rest| rest.split(close).next()).expect("present")
    }

    #[test]
    fn a_read_only_page_has_no_controls() {
        let html = page(Writes::default());
        lacks(&html, "id=\"upload\"");
        lacks(&html, UPLOAD_SCRIPT);
        assert_eq!(Writes::default().policy(), super::super::CONTENT_SECURITY_POLICY);
    }

    #[test]
    fn uploads_and_changes_add_forms_script_and_their_policy() {
        use base64::Engine;
        use sha2::Digest;
        let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()));
        let writes = Writes { upload: true, changes: true };
        let html = page(writes);
        contains(&html, "<section id=\"upload\" data-changes>");
        contains(&html, "<form class=\"files\" method=\"post\" enctype=\"multipart/form-data\">");
        contains(&html, "webkitdirectory");
        contains(&html, "name=\"mkdir\"");
        // Every inline style and script the page carries is in its policy.
        let policy = writes.policy();
        for n in 0..2 {
            let (style, script) =
                (between(&html, "<style>", "</style>", n), between(&html, "<script>", "</script>", n));
            contains(policy, &format!("'sha256-{}'", hash(style)));
            contains(policy, &format!("'sha256-{}'", hash(script)));
        }
        assert_eq!(html.matches("<script>").count(), 2);
        contains(policy, "connect-src 'self'");
        assert!(!policy.contains("unsafe-inline"));
        let changes_only = page(Writes { upload: false, changes: true });
        contains(&changes_only, "<section id=\"upload\" data-changes hidden></section>");
        lacks(&changes_only, "<form class=\"files\"");
        let uploads_only = page(Writes { upload: true, changes: false });
        contains(&uploads_only, "<section id=\"upload\">");
    }
}
