//! Every way an ingestion request can fail, mapped to its HTTP status in one
//! place. Bodies are `{"detail": "…"}` as Sentry's.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use faultline_protocol::{AuthError, DecompressError, EnvelopeError};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid project id in the URL")]
    InvalidProjectId,
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("unknown public key")]
    UnknownKey,
    #[error("this project key is disabled")]
    KeyDisabled,
    #[error("the key does not belong to project {0}")]
    WrongProject(i64),
    #[error("request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("{0} item is larger than {1} bytes")]
    ItemTooLarge(String, usize),
    #[error("the envelope's attachments add up to more than {0} bytes")]
    AttachmentsTooLarge(usize),
    #[error("unsupported Content-Encoding `{0}`")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    Decompress(DecompressError),
    #[error("invalid envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("invalid {0} payload: {1}")]
    InvalidPayload(String, String),
    #[error("failed to read the request body")]
    Payload,
    #[error("rate limit exceeded")]
    RateLimited { retry_after: u64 },
    #[error("ingestion is temporarily unavailable")]
    Unavailable,
    #[error("{0}; events are refused until space is freed")]
    DiskLow(#[from] faultline_storage::DiskLow),
}

impl RelayError {
    /// Every [`RelayError::reason`], for metrics to register up front.
    pub const REASONS: [&'static str; 16] = [
        "invalid_project_id",
        "auth",
        "unknown_key",
        "key_disabled",
        "wrong_project",
        "body_too_large",
        "item_too_large",
        "attachments_too_large",
        "unsupported_encoding",
        "decompression",
        "invalid_envelope",
        "invalid_payload",
        "unreadable_body",
        "rate_limited",
        "unavailable",
        "disk_low",
    ];

    /// Why a request was refused, as `faultline_relay_rejected_requests_total`
    /// labels it: one word per variant, nothing from the request itself.
    pub fn reason(&self) -> &'static str {
        match self {
            RelayError::InvalidProjectId => "invalid_project_id",
            RelayError::Auth(_) => "auth",
            RelayError::UnknownKey => "unknown_key",
            RelayError::KeyDisabled => "key_disabled",
            RelayError::WrongProject(_) => "wrong_project",
            RelayError::BodyTooLarge(_) => "body_too_large",
            RelayError::ItemTooLarge(..) => "item_too_large",
            RelayError::AttachmentsTooLarge(_) => "attachments_too_large",
            RelayError::UnsupportedEncoding(_) => "unsupported_encoding",
            RelayError::Decompress(DecompressError::TooLarge { .. }) => "body_too_large",
            RelayError::Decompress(_) => "decompression",
            RelayError::Envelope(_) => "invalid_envelope",
            RelayError::InvalidPayload(..) => "invalid_payload",
            RelayError::Payload => "unreadable_body",
            RelayError::RateLimited { .. } => "rate_limited",
            RelayError::Unavailable => "unavailable",
            RelayError::DiskLow(_) => "disk_low",
        }
    }
}

impl From<DecompressError> for RelayError {
    fn from(e: DecompressError) -> Self {
        RelayError::Decompress(e)
    }
}

impl ResponseError for RelayError {
    fn status_code(&self) -> StatusCode {
        match self {
            RelayError::Auth(AuthError::Missing) | RelayError::Auth(_) | RelayError::UnknownKey => {
                StatusCode::UNAUTHORIZED
            }
            RelayError::KeyDisabled | RelayError::WrongProject(_) => StatusCode::FORBIDDEN,
            RelayError::BodyTooLarge(_)
            | RelayError::ItemTooLarge(..)
            | RelayError::AttachmentsTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RelayError::Decompress(DecompressError::TooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            RelayError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RelayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            RelayError::Unavailable | RelayError::DiskLow(_) => StatusCode::SERVICE_UNAVAILABLE,
            RelayError::InvalidProjectId
            | RelayError::Decompress(_)
            | RelayError::Envelope(_)
            | RelayError::InvalidPayload(..)
            | RelayError::Payload => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let detail = self.to_string();
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                "x-sentry-error, x-sentry-rate-limits, retry-after",
            ))
            .insert_header(("X-Sentry-Error", detail.replace(['\r', '\n'], " ")));
        if let RelayError::RateLimited { retry_after } = self {
            response
                .insert_header((header::RETRY_AFTER, retry_after.to_string()))
                .insert_header(("X-Sentry-Rate-Limits", format!("{retry_after}::key")));
        }
        match self {
            RelayError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            RelayError::DiskLow(_) => {
                response.insert_header((header::RETRY_AFTER, "60"));
            }
            _ => {}
        }
        response.json(serde_json::json!({ "detail": detail }))
    }
}
