//! Commands of privacy for Admins (docs/privacy.md): the workspace's retention and offline
//! grace, a contact's detail, export (into the Downloads folder, with progress) and erasure.
//! Each is a line into handoff-core and needs the server.

use handoff_core::privacy::ExportFormat;
use handoff_proto::{ContactDetail, ContactId, Erased, PatchSettingsRequest, UserId, WorkspaceSettings};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::commands::CommandError;
use crate::AppCore;

type Result<T> = std::result::Result<T, CommandError>;

#[tauri::command]
#[specta::specta]
pub async fn workspace_settings(core: State<'_, AppCore>, workspace: String) -> Result<WorkspaceSettings> {
    Ok(core.client(&workspace)?.workspace_settings().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_workspace_settings(
    core: State<'_, AppCore>,
    workspace: String,
    patch: PatchSettingsRequest,
) -> Result<WorkspaceSettings> {
    Ok(core.client(&workspace)?.set_workspace_settings(&patch).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn contact(core: State<'_, AppCore>, workspace: String, id: ContactId) -> Result<ContactDetail> {
    Ok(core.client(&workspace)?.contact(id).await?)
}

/// How far an export's download is.
#[derive(Clone, Serialize, specta::Type)]
pub struct ExportProgress {
    /// Bytes written so far.
    pub done: u32,
    /// The whole size, when the server said it.
    pub total: Option<u32>,
}

/// Writes everything about a contact into the Downloads folder; `progress` hears how far the
/// download is (at most every 64 KiB). Returns the file's path.
#[tauri::command]
#[specta::specta]
pub async fn export_contact(
    app: AppHandle,
    core: State<'_, AppCore>,
    workspace: String,
    id: ContactId,
    format: ExportFormat,
    progress: Channel<ExportProgress>,
) -> Result<String> {
    let dir = crate::commands::downloads_dir(&app)?;
    let mut told = 0u64;
    let report = |done: u64, total: Option<u64>| {
        if done == 0 || done - told >= 64 * 1024 || Some(done) == total {
            told = done;
            let clamp = |n: u64| n.min(u64::from(u32::MAX)) as u32;
            let _ = progress.send(ExportProgress { done: clamp(done), total: total.map(clamp) });
        }
    };
    let path = core.client(&workspace)?.export_contact(id, format, &dir, report).await?;
    Ok(path.display().to_string())
}

#[tauri::command]
#[specta::specta]
pub async fn erase_contact(core: State<'_, AppCore>, workspace: String, id: ContactId) -> Result<Erased> {
    Ok(core.client(&workspace)?.erase_contact(id).await?)
}

/// Signs a person out of the workspace everywhere and has each of their apps delete its copy.
/// Returns how many sessions ended.
#[tauri::command]
#[specta::specta]
pub async fn wipe_user(core: State<'_, AppCore>, workspace: String, id: UserId) -> Result<u32> {
    Ok(core.client(&workspace)?.wipe_user(id).await?)
}
