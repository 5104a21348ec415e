//! The dashboard's one error type: what stops a page, mapped to the page
//! that answers it (actix's `ResponseError`), so handlers return
//! `Result<HttpResponse, PageError>` and use `?`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use faultline_storage::StorageError;

use super::csrf::CsrfRejection;
use super::session::csrf_failure;
use super::views::{MessagePage, render_status};
use crate::error::ApiError;
use crate::ops::OpError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session: on to the sign-in page, which returns to `next`.
    #[error("sign in first")]
    SignIn { location: String },
    /// Missing, or not the user's to see or change (members trying an
    /// admin's action get this too, as strangers do).
    #[error("not found")]
    NotFound,
    /// A request the page cannot read (a bad query parameter).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A form the rules refused as a whole; the sentence says why.
    #[error("refused: {0}")]
    Refused(String),
    #[error("CSRF check failed: {0:?}")]
    Csrf(CsrfRejection),
    /// A failure of ours: logged, and the page says to try again.
    #[error("{0}")]
    Internal(String),
}

pub type PageResult = Result<HttpResponse, PageError>;

/// An error phrase (`a key name must be 1 to 64 characters`) as the
/// sentence a page shows.
pub fn sentence(phrase: &str) -> String {
    let mut chars = phrase.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

/// A form's page answers 400 when it shows a refusal, else 200.
pub fn form_status(error: &Option<String>) -> StatusCode {
    match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    }
}

impl From<OpError> for PageError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::NotFound | OpError::Forbidden { .. } => PageError::NotFound,
            OpError::Storage(e) => e.into(),
            refusal => PageError::Refused(sentence(&refusal.to_string())),
        }
    }
}

impl From<StorageError> for PageError {
    fn from(e: StorageError) -> Self {
        PageError::Internal(e.to_string())
    }
}

/// The shared issue search and cursor reading answer with API errors.
impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::BadRequest(reason) => PageError::BadRequest(reason),
            ApiError::NotFound | ApiError::Forbidden => PageError::NotFound,
            other => PageError::Internal(other.to_string()),
        }
    }
}

/// What most forms do with an operation's result: a refusal the person can
/// act on is shown on the form's own page (`Ok(Err(sentence))`), anything
/// else stops the request.
pub trait ShowRefusal<T> {
    fn or_show(self) -> Result<Result<T, String>, PageError>;
}

impl<T> ShowRefusal<T> for Result<T, OpError> {
    fn or_show(self) -> Result<Result<T, String>, PageError> {
        match self {
            Ok(value) => Ok(Ok(value)),
            Err(e) if e.is_refusal() => Ok(Err(sentence(&e.to_string()))),
            Err(e) => Err(e.into()),
        }
    }
}

fn message(status: StatusCode, title: &str, lines: Vec<String>) -> HttpResponse {
    render_status(
        status,
        &MessagePage {
            title: title.into(),
            lines,
        },
    )
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) | PageError::Refused(_) => StatusCode::BAD_REQUEST,
            PageError::Csrf(_) => StatusCode::FORBIDDEN,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn { location } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location.as_str()))
                .finish(),
            PageError::NotFound => message(
                StatusCode::NOT_FOUND,
                "Not found",
                vec!["This page does not exist, or you do not have access to it.".into()],
            ),
            PageError::BadRequest(reason) => {
                message(StatusCode::BAD_REQUEST, "Bad request", vec![reason.clone()])
            }
            PageError::Refused(reason) => message(
                StatusCode::BAD_REQUEST,
                "Nothing was changed",
                vec![reason.clone(), "Go back and try again.".into()],
            ),
            PageError::Csrf(rejection) => csrf_failure(rejection),
            PageError::Internal(e) => {
                tracing::error!(error = %e, "dashboard error");
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    vec!["The error was logged. Try again in a moment.".into()],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_become_sentences() {
        assert_eq!(
            sentence("a key name must be 1 to 64 characters"),
            "A key name must be 1 to 64 characters."
        );
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn operation_errors_answer_the_pages_of_today() {
        let status = |e: OpError| PageError::from(e).status_code().as_u16();
        // A member trying an admin's action sees what a stranger sees.
        assert_eq!(
            status(OpError::Forbidden {
                need: crate::scopes::PROJECT_WRITE
            }),
            404
        );
        assert_eq!(status(OpError::NotFound), 404);
        assert_eq!(status(OpError::LastOwner), 400);
        assert_eq!(status(OpError::Storage(StorageError::Closed)), 500);
        let shown: Result<Result<(), String>, PageError> =
            Err::<(), _>(OpError::LastOwner).or_show();
        assert_eq!(
            shown.unwrap().unwrap_err(),
            "An organization keeps at least one owner."
        );
        assert!(Err::<(), _>(OpError::NotFound).or_show().is_err());
    }
}
