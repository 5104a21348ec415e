//! What the dashboard tells the browser besides the page itself: the
//! security headers every page carries, and the one script file the pages
//! load. The policy allows no inline script, so markup that ever slipped
//! past escaping (an event's `<script>` or `onerror=`) still could not run.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use sha2::{Digest, Sha256};

const SCRIPT: &str = include_str!("../../static/dashboard.js");

/// Scripts only from this site, and no inline ones; inline styles stay
/// allowed (the templates use `style=` attributes, and styles cannot run
/// code). `frame-ancestors 'none'` stops other sites from framing a
/// signed-in page under a decoy to steer clicks onto its buttons.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'; object-src 'none'";

/// Adds the headers every dashboard page carries. `X-Frame-Options` is
/// `frame-ancestors` for browsers that predate it; `Referrer-Policy` keeps
/// issue URLs (which name organizations and searches) from leaking to
/// links out of the dashboard.
pub fn secure_page(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
}

/// The script's address names a digest of its content, so browsers may
/// keep it for good: a new build links a new address.
static SCRIPT_URL: LazyLock<String> = LazyLock::new(|| {
    let digest = hex::encode(Sha256::digest(SCRIPT.as_bytes()));
    format!("/_static/{}/dashboard.js", &digest[..16])
});

/// For `base.html`.
pub fn script_url() -> &'static str {
    &SCRIPT_URL
}

/// `GET /_static/{digest}/dashboard.js`. Any digest gets the current
/// script, so a page still open from before an upgrade keeps working.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_url_names_the_content() {
        let url = script_url();
        assert!(url.starts_with("/_static/") && url.ends_with("/dashboard.js"));
        assert_eq!(url.len(), "/_static/".len() + 16 + "/dashboard.js".len());
    }

    #[test]
    fn policy_forbids_inline_script_and_framing() {
        let script_src = CONTENT_SECURITY_POLICY
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert_eq!(script_src, "script-src 'self'");
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
