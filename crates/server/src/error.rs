//! The domain's error: what a change or a read refused, and why, whichever way it was asked for
//! (HTTP or the WebSocket). Each kind carries the detail a client is shown (a code, a sentence,
//! the field or the state it conflicts with); only the HTTP layer turns a kind into a status
//! (`http::error`), and the WebSocket sends the detail in its `reject` frame.

use handoff_proto::ErrorDetail;

use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong (`invalid_request`; the detail's `field` names the culprit).
    #[error("invalid request: {}", .0.message)]
    Invalid(Box<ErrorDetail>),
    /// The caller's role does not allow it.
    #[error("forbidden: {}", .0.message)]
    Forbidden(Box<ErrorDetail>),
    /// What it names does not exist (or is not the caller's to see).
    #[error("not found: {}", .0.message)]
    NotFound(Box<ErrorDetail>),
    /// It conflicts with the current state: `already_claimed`, `conversation_changed`,
    /// `last_admin`, `email_taken`, …; the detail says with what.
    #[error("conflict: {}", .0.message)]
    Conflict(Box<ErrorDetail>),
    /// The store failed: nothing was changed, and the same request may work later.
    #[error(transparent)]
    Store(#[from] store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Error {
        let mut detail = ErrorDetail::new("invalid_request", message);
        detail.field = Some(field.to_string());
        Error::Invalid(Box::new(detail))
    }

    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::Invalid(Box::new(ErrorDetail::new("invalid_request", message)))
    }

    pub fn forbidden(what: &str) -> Error {
        Error::Forbidden(Box::new(ErrorDetail::new("forbidden", format!("Your role does not allow you to {what}."))))
    }

    pub fn not_found(what: &str) -> Error {
        Error::NotFound(Box::new(ErrorDetail::new("not_found", format!("No such {what}."))))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Error {
        Error::Conflict(Box::new(ErrorDetail::new(code, message)))
    }

    /// What the client is told. A store failure is logged here and told as `internal`, marked
    /// transient (clients keep the change and try again).
    pub fn into_detail(self) -> ErrorDetail {
        match self {
            Error::Invalid(d) | Error::Forbidden(d) | Error::NotFound(d) | Error::Conflict(d) => *d,
            Error::Store(e) => {
                tracing::error!(error = %e, "the store failed");
                internal_detail()
            }
        }
    }
}

/// The server's own failure, as a client is told it: nothing was changed, try again shortly.
pub fn internal_detail() -> ErrorDetail {
    let mut detail =
        ErrorDetail::new("internal", "Something went wrong on the server; it was logged. Try again shortly.");
    detail.transient = Some(true);
    detail
}

/// A name someone typed: not blank, at most `max` characters as sent (what the OpenAPI document
/// says: `minLength`/`maxLength` and a non-blank `pattern`); kept trimmed.
pub fn check_name(field: &str, value: &str, max: usize, message: &str) -> Result<String> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(Error::invalid(field, message.to_string()));
    }
    Ok(value.trim().to_string())
}
