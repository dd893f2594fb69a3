//! The workspace's settings, and a contact: its detail, export and erasure (docs/privacy.md).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as AxumJson;
use handoff_proto::{
    ContactDetail, ContactExport, ContactId, Erased, ErrorBody, PatchSettingsRequest, UserId, Wiped, WorkspaceSettings,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::{privacy, AppState};

#[utoipa::path(get, path = "/api/v1/settings",
    responses((status = 200, body = WorkspaceSettings), (status = 403, body = ErrorBody)))]
pub async fn settings(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<WorkspaceSettings>> {
    Ok(AxumJson(privacy::settings(&state, &actor).await?))
}

/// Change the retention period (`null`: keep messages) or the offline grace. Audited.
#[utoipa::path(patch, path = "/api/v1/settings", request_body = PatchSettingsRequest,
    responses((status = 200, body = WorkspaceSettings), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "`numbers` names a linked number this workspace does not have", body = ErrorBody)))]
pub async fn patch_settings(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<PatchSettingsRequest>,
) -> ApiResult<AxumJson<WorkspaceSettings>> {
    Ok(AxumJson(privacy::patch_settings(&state, &actor, req).await?))
}

/// A contact with every address and conversation (any role).
#[utoipa::path(get, path = "/api/v1/contacts/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = ContactDetail), (status = 404, body = ErrorBody)))]
pub async fn contact(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<ContactId>,
) -> ApiResult<AxumJson<ContactDetail>> {
    Ok(AxumJson(privacy::contact(&state, &actor, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (the default) or `csv`: a zip of CSV files.
    pub format: Option<String>,
}

/// Everything about a contact (Admin): JSON, or with `?format=csv` a zip of CSV files
/// (`contact.csv`, `conversations.csv`, `messages.csv`, `audit.csv`, `attachments.csv`).
#[utoipa::path(get, path = "/api/v1/contacts/{id}/export", params(("id" = Uuid, Path), ExportParams),
    responses((status = 200, description = "The export: JSON, or a zip of CSV files",
            content((ContactExport = "application/json"), (String = "application/zip"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<ContactId>,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "format is json or csv.")),
    };
    let export = privacy::export(&state, &actor, id).await?;
    let name = format!("contact-{id}");
    let attachment = |ext: &str| {
        HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")).expect("an id is a header value")
    };
    if !csv {
        return Ok(([(header::CONTENT_DISPOSITION, attachment("json"))], AxumJson(export)).into_response());
    }
    let zip = privacy::export_zip(&export).map_err(|e| {
        tracing::error!(error = %e, "an export's zip was not written");
        ApiError::internal()
    })?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/zip")),
        (header::CONTENT_DISPOSITION, attachment("zip")),
    ];
    Ok((headers, zip).into_response())
}

/// Erase a contact (Admin): every row, message, note, address and event payload about them is
/// deleted or redacted; every app removes them at its next sync. The audit log keeps that a
/// contact was erased, and by whom, without their data.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/erase", params(("id" = Uuid, Path)),
    responses((status = 202, body = Erased), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<ContactId>,
) -> ApiResult<(StatusCode, AxumJson<Erased>)> {
    Ok((StatusCode::ACCEPTED, AxumJson(privacy::erase(&state, &actor, id).await?)))
}

/// Sign a person out of this workspace everywhere (Admin): each app that held one of their
/// sessions deletes its copy of the workspace at its next contact (401 `access_removed`). They
/// stay a member and may sign in again.
#[utoipa::path(post, path = "/api/v1/users/{id}/wipe", params(("id" = Uuid, Path)),
    responses((status = 200, body = Wiped), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn wipe_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<UserId>,
) -> ApiResult<AxumJson<Wiped>> {
    Ok(AxumJson(privacy::wipe_user(&state, &actor, id).await?))
}
