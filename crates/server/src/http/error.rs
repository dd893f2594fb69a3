//! The API's error shape: `{"error": {"code", "message", ...}}` with the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use handoff_proto::{ErrorBody, ErrorDetail};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: results stay small on the happy path.
    pub detail: Box<ErrorDetail>,
}

/// A name someone typed: not blank, at most `max` characters as sent (what the OpenAPI document
/// says: `minLength`/`maxLength` and a non-blank `pattern`); kept trimmed.
pub fn check_name(field: &str, value: &str, max: usize, message: &str) -> ApiResult<String> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(ApiError::invalid(field, message.to_string()));
    }
    Ok(value.trim().to_string())
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, detail: Box::new(ErrorDetail::new(code, message)) }
    }
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        e.detail.field = Some(field.to_string());
        e
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign in first: the token is missing, expired or revoked.",
        )
    }
    pub fn forbidden(what: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("Your role does not allow you to {what}."))
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("No such {what}."))
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }
    /// The server's own failure (a database error): nothing was changed, and the same request
    /// may work later, so it is marked transient (clients keep it and retry).
    pub fn internal() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on the server; it was logged. Try again shortly.",
        );
        e.detail.transient = Some(true);
        e
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> ApiError {
        tracing::error!(error = %e, "database error");
        ApiError::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: *self.detail })).into_response()
    }
}
