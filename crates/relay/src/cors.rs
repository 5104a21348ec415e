//! CORS so browser SDKs can post from any origin, as Sentry allows.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

const ALLOW_HEADERS: &str = "x-sentry-auth, x-requested-with, origin, accept, content-type, content-encoding, \
                             authentication, authorization, sentry-trace, baggage";
const EXPOSE_HEADERS: &str = "x-sentry-error, x-sentry-rate-limits, retry-after";

pub async fn preflight(req: HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    add_headers(&mut response, &req);
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"))
        .finish()
}

pub fn add_headers(response: &mut HttpResponseBuilder, req: &HttpRequest) {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("*"));
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS))
        .insert_header((header::VARY, "Origin"));
}
