//! Uploads as sentry-cli makes them (`sourcemaps upload`):
//! `GET /api/0/organizations/{org}/chunk-upload/` says how to send (chunk
//! size, how many per request, gzip, what may be assembled), `POST` there
//! takes a multipart request of chunks each named by its SHA-1, and
//! `POST …/artifactbundle/assemble/` makes an artifact bundle of chunks
//! received, answering `missingChunks` until it has them all.

use actix_web::{HttpRequest, HttpResponse, web};
use faultline_artifacts as artifacts;
use faultline_storage::ChunkAdmission;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::WebState;
use crate::auth::member_of;
use crate::error::{ApiError, ApiResult};
use crate::ops::uploads::{
    self, AssembleRequest, CHUNK_SIZE, CHUNKS_PER_REQUEST, MAX_REQUEST_SIZE,
};
use crate::scopes;

/// `GET …/chunk-upload/`: Sentry's chunk upload options.
pub async fn options(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::RELEASES_WRITE).await?;
    Ok(HttpResponse::Ok().json(json!({
        // A path, not a URL: sentry-cli resolves it against the URL it was
        // given, so uploads work through any host name or proxy in front.
        "url": format!("/api/0/organizations/{}/chunk-upload/", member.org.slug),
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxFileSize": state.uploads.max_file_size,
        "maxRequestSize": MAX_REQUEST_SIZE,
        "concurrency": 4,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        "accept": ["artifact_bundles", "sources"],
    })))
}

/// `POST …/chunk-upload/`: multipart parts `file` (or `file_gzip`,
/// gzip-compressed), each part's file name the SHA-1 of its bytes.
pub async fn upload(
    req: HttpRequest,
    path: web::Path<String>,
    mut payload: web::Payload,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::RELEASES_WRITE).await?;
    let boundary = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| ApiError::BadRequest("expected a multipart/form-data body".into()))?;
    if req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_REQUEST_SIZE)
    {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(piece) = payload.next().await {
        let piece = piece.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if (body.len() + piece.len()) as u64 > MAX_REQUEST_SIZE {
            return Err(too_large());
        }
        body.extend_from_slice(&piece);
    }
    let chunks = read_chunks(body.freeze(), boundary).await?;
    let quota = state.uploads.quota;
    let admission =
        uploads::store_chunks(&state.artifacts, &state.blobs, &member, chunks, quota).await?;
    match admission {
        ChunkAdmission::Recorded => Ok(HttpResponse::Ok().finish()),
        ChunkAdmission::OverQuota { used } => Err(ApiError::TooLarge(format!(
            "the organization's uploads are full: it keeps {used} of {quota} bytes; delete releases' artifacts or raise limits.upload-quota"
        ))),
    }
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "a chunk upload request is at most {MAX_REQUEST_SIZE} bytes"
    ))
}

/// The request's chunks, each checked against its name: `(sha1, bytes)`.
async fn read_chunks(body: web::Bytes, boundary: String) -> ApiResult<Vec<(String, Vec<u8>)>> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut chunks = Vec::new();
    let bad = |m: String| ApiError::BadRequest(m);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("invalid multipart body: {e}")))?
    {
        let gzip = match field.name() {
            Some("file") => false,
            Some("file_gzip") => true,
            // Sentry reads only these two; anything else is not a chunk.
            _ => continue,
        };
        if chunks.len() >= CHUNKS_PER_REQUEST {
            return Err(bad(format!(
                "too many chunks: at most {CHUNKS_PER_REQUEST} per request"
            )));
        }
        let name = field
            .file_name()
            .map(str::to_ascii_lowercase)
            .filter(|n| artifacts::is_sha1_hex(n))
            .ok_or_else(|| bad("each chunk's file name must be its SHA-1 in hex".into()))?;
        let bytes = field
            .bytes()
            .await
            .map_err(|e| bad(format!("invalid multipart body: {e}")))?;
        let bytes = if gzip {
            artifacts::gunzip_bounded(&bytes, CHUNK_SIZE)
                .map_err(|e| bad(format!("chunk {name} is not valid gzip: {e}")))?
                .ok_or_else(|| bad(format!("chunk {name} is larger than {CHUNK_SIZE} bytes")))?
        } else if bytes.len() as u64 > CHUNK_SIZE {
            return Err(bad(format!(
                "chunk {name} is larger than {CHUNK_SIZE} bytes"
            )));
        } else {
            bytes.to_vec()
        };
        let actual = artifacts::sha1_hex(&bytes);
        if actual != name {
            return Err(bad(format!(
                "checksum mismatch: chunk {name} has SHA-1 {actual}"
            )));
        }
        chunks.push((name, bytes));
    }
    Ok(chunks)
}

fn state_json(state: &str, missing: &[String], detail: Option<String>) -> Value {
    json!({"state": state, "missingChunks": missing, "detail": detail})
}

/// `POST …/artifactbundle/assemble/` `{checksum, chunks, projects,
/// version?, dist?}`: `ok` once the bundle is stored (at once when it was
/// before), `not_found` with `missingChunks` while chunks are missing,
/// `error` with a `detail` for a file that is not a usable bundle.
pub async fn assemble_bundle(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<WebState>,
) -> ApiResult<HttpResponse> {
    let member = member_of(&req, &state, &path, scopes::RELEASES_WRITE).await?;
    let request: AssembleRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    let outcome = uploads::assemble_bundle(
        state.meta.as_ref(),
        &state.artifacts,
        &state.blobs,
        &member,
        request,
        state.uploads.max_file_size,
    )
    .await?;
    Ok(HttpResponse::Ok().json(match outcome {
        uploads::Assembled::Ok => state_json("ok", &[], None),
        uploads::Assembled::Missing(missing) => state_json("not_found", &missing, None),
        uploads::Assembled::Error(detail) => state_json("error", &[], Some(detail)),
    }))
}
