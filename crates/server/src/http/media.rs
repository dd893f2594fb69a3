//! Attachments, downloaded on demand: the server keeps each one's placeholder and the device's
//! locator; the bytes stay with WhatsApp (or the gateway) until someone asks for them, and then
//! stream through to the asker.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use handoff_channels::AdapterError;
use handoff_proto::{ErrorBody, Media, MessageId};

use crate::audit;
use crate::auth::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Path;
use crate::AppState;

/// Downloads one account may have running at once; another gets 429 until one ends.
pub const DOWNLOADS_PER_USER: usize = 4;

/// An attachment's file, fetched through the conversation's device when asked and streamed
/// through (nothing is kept on the server). Anyone who can read the conversation can download
/// it, [`DOWNLOADS_PER_USER`] at a time; each download is in the audit log.
#[utoipa::path(get, path = "/api/v1/messages/{id}/media", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The file, with its type and name", content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn download(State(state): State<AppState>, actor: Actor, Path(id): Path<MessageId>) -> ApiResult<Response> {
    let row = crate::store::messages::attachment(&mut *state.store.reader().await?, actor.ws(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let media: Media = row.media.ok_or_else(|| ApiError::not_found("attachment"))?;
    let Some(locator) = row.locator else {
        return Err(ApiError::conflict(
            "not_downloadable",
            "This attachment cannot be downloaded here: its device did not say where the file is. It is still on the phone.",
        ));
    };
    let conversation_id = Some(row.conversation_id);
    let handle = state.devices.get_in(actor.ws(), row.device_id).ok_or_else(|| {
        ApiError::new(StatusCode::GONE, "media_unavailable", "The number this came in on was removed.")
    })?;
    let Some(slot) = state.downloads.take(actor.id(), DOWNLOADS_PER_USER) else {
        let mut busy = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("You have {DOWNLOADS_PER_USER} downloads running already: try again when one has finished."),
        );
        busy.detail.transient = Some(true);
        return Err(busy);
    };
    let file = handle.adapter.download(&locator).await.map_err(|e| match e {
        AdapterError::NotConnected => ApiError::conflict(
            "device_not_connected",
            "The number this came in on is not connected; the file can be fetched once it is back.",
        ),
        AdapterError::Unavailable(reason) => ApiError::new(StatusCode::GONE, "media_unavailable", reason),
        other => {
            tracing::warn!(message = %id, error = %other, "attachment not fetched");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "device_error",
                format!("The device could not fetch the file: {other}"),
            )
        }
    })?;
    let mut w = state.store.begin().await?;
    let what = format!("Downloaded {}", media.filename.as_deref().unwrap_or("an attachment"));
    audit::record(w.conn(), (&actor).into(), "media.download", conversation_id, &what, None).await?;
    w.commit().await?;

    let mime = media.mime.as_deref().and_then(|m| HeaderValue::from_str(m).ok());
    let headers = [
        (header::CONTENT_TYPE, mime.unwrap_or(HeaderValue::from_static("application/octet-stream"))),
        (header::CONTENT_DISPOSITION, disposition(media.filename.as_deref())),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    let length = file.length;
    // A stream that fails midway (the gateway went away) cuts the response short: with its
    // length announced the asker can tell (the app reads the whole file before it writes any of
    // it, so it keeps nothing).
    // The download's place is given back with the last byte (or when the asker goes away).
    let body = futures_util::stream::unfold((file.body, slot), |(mut body, slot)| async move {
        let chunk = body.next().await?;
        Some((chunk.map_err(|e| std::io::Error::other(e.to_string())), (body, slot)))
    });
    let mut response = (headers, Body::from_stream(body)).into_response();
    if let Some(length) = length {
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}

/// `attachment; filename="…"` with an ASCII fallback and the exact name in RFC 8187 form.
fn disposition(filename: Option<&str>) -> HeaderValue {
    let Some(name) = filename.map(str::trim).filter(|n| !n.is_empty()) else {
        return HeaderValue::from_static("attachment");
    };
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn file_names_are_safe_in_the_header_and_exact_in_its_utf8_form() {
        assert_eq!(
            disposition(Some("Rechnung März \"2\".pdf")),
            "attachment; filename=\"Rechnung M_rz _2_.pdf\"; filename*=UTF-8''Rechnung%20M%C3%A4rz%20%222%22.pdf"
        );
        assert_eq!(disposition(None), "attachment");
        assert_eq!(disposition(Some("a\r\nb")), "attachment; filename=\"a__b\"; filename*=UTF-8''a%0D%0Ab");
    }
}
