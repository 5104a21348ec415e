//! API errors, mapped to statuses in one place; bodies are `{"detail": …}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use faultline_storage::StorageError;

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
    #[error("{0}")]
    Name(#[from] crate::names::NameError),
    #[error("internal error")]
    Storage(#[from] StorageError),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::Name(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Storage(StorageError::NotFound) => StatusCode::NOT_FOUND,
            ApiError::Storage(StorageError::Conflict(_)) => StatusCode::CONFLICT,
            ApiError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Storage(e) = self {
            tracing::error!(error = %e, "storage error in API");
        }
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "detail": self.to_string() }))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
