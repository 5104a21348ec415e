//! Event attachments: `GET /api/0/projects/{org}/{project}/events/{event_id}/attachments/`
//! lists an event's files in Sentry's shape; `…/attachments/{id}/` describes
//! one and, with `?download`, sends its bytes as a download (never shown
//! inline: the bytes are whatever an SDK sent).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use faultline_protocol::EventId;
use faultline_storage::{Attachment, StorageError};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::orgs::resolve_project;
use crate::WebState;
use crate::error::{ApiError, ApiResult};
use crate::pagination::query_pairs;
use crate::scopes;
use crate::serialize::iso;

pub async fn list(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, project) = resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_READ).await?;
    let event_id: EventId = path.2.parse().map_err(|_| ApiError::NotFound)?;
    let attachments = state.meta.attachments(project.id, event_id).await?;
    let body: Vec<Value> = attachments.iter().map(attachment_json).collect();
    Ok(HttpResponse::Ok().json(body))
}

pub async fn detail(
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let (_, project) = resolve_project(&req, &state, &path.0, &path.1, scopes::EVENT_READ).await?;
    let event_id: EventId = path.2.parse().map_err(|_| ApiError::NotFound)?;
    let id: i64 = path.3.parse().map_err(|_| ApiError::NotFound)?;
    let attachment = state
        .meta
        .attachments(project.id, event_id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(ApiError::NotFound)?;
    // Sentry downloads on `download` with any value (`?download=1`).
    let wants_bytes = query_pairs(req.query_string())
        .iter()
        .any(|(k, _)| k == "download");
    if !wants_bytes {
        return Ok(HttpResponse::Ok().json(attachment_json(&attachment)));
    }
    download(&state, &attachment).await
}

/// The attachment's bytes as a download (the API's `?download` and the
/// event page's links).
pub(crate) async fn download(state: &WebState, attachment: &Attachment) -> ApiResult<HttpResponse> {
    let path = state
        .blobs
        .path(&attachment.blob_key())
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        // Retention took the file between the row and the read.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::NotFound),
        Err(e) => return Err(StorageError::Unavailable(format!("attachment file: {e}")).into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, attachment.content_type.as_str()))
        .insert_header((header::CONTENT_DISPOSITION, disposition(&attachment.name)))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        // Opened directly anyway, the file runs nothing and reaches nothing.
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// Sentry's EventAttachment serialisation.
fn attachment_json(a: &Attachment) -> Value {
    json!({
        "id": a.id.to_string(),
        "event_id": a.event_id.to_string(),
        "type": a.attachment_type,
        "name": a.name,
        "mimetype": a.content_type,
        "dateCreated": iso(a.date_created),
        "size": a.size,
        "headers": {"Content-Type": a.content_type},
        "sha1": a.sha1,
    })
}

/// What RFC 5987 lets through unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII
/// fallback without quotes, backslashes, path separators or control
/// characters, and the name itself percent-encoded.
fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | ';' | '%')) || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disposition_is_a_download_whatever_the_name() {
        assert_eq!(
            disposition("app.log"),
            "attachment; filename=\"app.log\"; filename*=UTF-8''app.log"
        );
        let hostile = disposition("a\"; filename=evil.html\r\n../é.txt");
        assert!(hostile.starts_with("attachment; filename=\"a__ filename=evil.html__.._"));
        assert!(!hostile.contains(['\r', '\n']));
        assert!(
            hostile
                .ends_with("filename*=UTF-8''a%22%3B%20filename%3Devil.html%0D%0A..%2F%C3%A9.txt")
        );
    }
}
