//! API errors, mapped to statuses in one place; bodies are `{"detail": …}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use faultline_storage::StorageError;

use crate::ops::OpError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Authentication credentials were not provided.")]
    Unauthenticated,
    #[error("Invalid token")]
    InvalidToken,
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    #[error("The requested resource does not exist")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// A body refused field by field: `{"field": ["message"]}`.
    #[error("invalid fields")]
    Fields(serde_json::Value),
    /// A body, or what it would add, past a limit (413).
    #[error("{0}")]
    TooLarge(String),
    #[error("internal error")]
    Storage(#[from] StorageError),
}

/// An operation's refusal as Sentry's API answers it: unknown and
/// forbidden-to-see are both 404, a member lacking the scope or role 403,
/// refused input 400, a name taken 409.
impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::NotFound => ApiError::NotFound,
            OpError::Forbidden { .. } | OpError::OwnersOnly(_) | OpError::NotInvited => {
                ApiError::Forbidden
            }
            OpError::Conflict(message) => ApiError::Conflict(message),
            OpError::Fields(errors) => ApiError::Fields(errors.to_json()),
            OpError::PluginConfig(errors) => ApiError::Fields(errors.to_json()),
            e @ (OpError::Invalid { .. } | OpError::LastOwner) => {
                ApiError::BadRequest(e.to_string())
            }
            OpError::Storage(e) => ApiError::Storage(e),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::Fields(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Storage(StorageError::NotFound) => StatusCode::NOT_FOUND,
            ApiError::Storage(StorageError::Conflict(_)) => StatusCode::CONFLICT,
            // A store that does not answer (ClickHouse refusing, a pool
            // timing out) is a wait, not a fault of the request.
            ApiError::Storage(StorageError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Storage(e) = self {
            tracing::error!(error = %e, "storage error in API");
        }
        let body = match self {
            ApiError::Fields(fields) => fields.clone(),
            ApiError::Storage(StorageError::Unavailable(_)) => serde_json::json!({
                "detail": "A store is temporarily unavailable; try again shortly"
            }),
            _ => serde_json::json!({ "detail": self.to_string() }),
        };
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
        }
        response.json(body)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_errors_answer_sentrys_statuses() {
        let status = |e: OpError| ApiError::from(e).status_code().as_u16();
        assert_eq!(status(OpError::NotFound), 404);
        assert_eq!(
            status(OpError::Forbidden {
                need: crate::scopes::PROJECT_WRITE
            }),
            403
        );
        assert_eq!(status(OpError::invalid("name", "too long")), 400);
        assert_eq!(status(OpError::Conflict("taken".into())), 409);
        assert_eq!(status(OpError::LastOwner), 400);
        assert_eq!(status(OpError::Storage(StorageError::Closed)), 500);
        assert_eq!(
            status(OpError::Storage(StorageError::Unavailable("down".into()))),
            503
        );
        let body = ApiError::from(OpError::invalid(
            "name",
            "a key name must be 1 to 64 characters",
        ));
        assert_eq!(body.to_string(), "a key name must be 1 to 64 characters");
    }
}
