//! Commands of saved replies: the composer reads them from the cache (offline too); adding,
//! changing and deleting one needs the server.

use handoff_proto::{CreateSavedReplyRequest, PatchSavedReplyRequest, SavedReply, SavedReplyId};
use tauri::State;

use crate::commands::CommandError;
use crate::AppCore;

type Result<T> = std::result::Result<T, CommandError>;

#[tauri::command]
#[specta::specta]
pub async fn saved_replies(core: State<'_, AppCore>, workspace: String) -> Result<Vec<SavedReply>> {
    Ok(core.client(&workspace)?.saved_replies().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_saved_reply(
    core: State<'_, AppCore>,
    workspace: String,
    req: CreateSavedReplyRequest,
) -> Result<SavedReply> {
    Ok(core.client(&workspace)?.create_saved_reply(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn patch_saved_reply(
    core: State<'_, AppCore>,
    workspace: String,
    id: SavedReplyId,
    req: PatchSavedReplyRequest,
) -> Result<SavedReply> {
    Ok(core.client(&workspace)?.patch_saved_reply(id, req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_saved_reply(core: State<'_, AppCore>, workspace: String, id: SavedReplyId) -> Result<()> {
    Ok(core.client(&workspace)?.delete_saved_reply(id).await?)
}
