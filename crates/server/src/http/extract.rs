//! Extractors whose rejections use the API's error shape (400/413), never axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// A JSON body. Bad JSON is a 400 naming the problem; too large a body is a 413.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            // Every body the API takes is an object; serde would also read a struct from an
            // array (`[null, null]`), which the OpenAPI document does not allow.
            Ok(axum::Json(v)) if !v.is_object() => {
                Err(ApiError::bad_request("The request body must be a JSON object."))
            }
            Ok(axum::Json(mut v)) => serde_json::from_value({
                whole_numbers(&mut v);
                v
            })
            .map(Json)
            .map_err(|e| ApiError::bad_request(format!("The request body is not valid: {e}"))),
            Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large."))
            }
            Err(e) => Err(ApiError::bad_request(format!("The request body is not valid: {}", e.body_text()))),
        }
    }
}

/// JSON has one kind of number: `1.0` is the integer 1 (as JSON Schema's `integer` says), so a
/// whole number written with a fraction is read as an integer where one is expected.
fn whole_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15) {
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// A path parameter; a malformed id is a 400 rather than a 404.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Path(p.0)).map_err(
            |e: PathRejection| ApiError::invalid("path", format!("The id in the path is not valid: {}", e.body_text())),
        )
    }
}

/// Query parameters; bad ones are a 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Query(q.0)).map_err(
            |e: QueryRejection| {
                ApiError::invalid("query", format!("A query parameter is not valid: {}", e.body_text()))
            },
        )
    }
}
