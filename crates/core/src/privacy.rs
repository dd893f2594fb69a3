//! Privacy for Admins (docs/privacy.md): the workspace's retention period and offline grace, a
//! contact with every conversation, its export into a file, and its erasure. Like the rest of
//! administration these need the server.

use std::io::Write;
use std::path::{Path, PathBuf};

use handoff_proto::{ContactDetail, ContactId, Erased, PatchSettingsRequest, UserId, Wiped, WorkspaceSettings};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::{media, rest, Client, CoreError, CoreResult};

/// What a contact's export is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON file.
    Json,
    /// A zip of CSV files, one per table.
    Csv,
}

impl Client {
    pub async fn workspace_settings(&self) -> CoreResult<WorkspaceSettings> {
        self.call::<(), _>(Method::GET, "/api/v1/settings", None).await
    }

    pub async fn set_workspace_settings(&self, patch: &PatchSettingsRequest) -> CoreResult<WorkspaceSettings> {
        self.call(Method::PATCH, "/api/v1/settings", Some(patch)).await
    }

    /// A contact with every address and conversation, as the server has it.
    pub async fn contact(&self, id: ContactId) -> CoreResult<ContactDetail> {
        self.call::<(), _>(Method::GET, &format!("/api/v1/contacts/{id}"), None).await
    }

    /// Writes everything the workspace holds about a contact into a new file in `dir` (never
    /// over an existing one) and returns where. `progress` hears the bytes so far and the
    /// whole size. A download cut short leaves no file behind.
    pub async fn export_contact(
        &self,
        id: ContactId,
        format: ExportFormat,
        dir: &Path,
        progress: impl FnMut(u64, Option<u64>),
    ) -> CoreResult<PathBuf> {
        let s = self.inner.session()?;
        let (query, ext) = match format {
            ExportFormat::Json => ("", "json"),
            ExportFormat::Csv => ("?format=csv", "zip"),
        };
        let day = chrono::Local::now().format("%Y-%m-%d");
        let short = &id.uuid().simple().to_string()[..8];
        let (file, path) = media::create_new(dir, &format!("handoff-contact-{short}-{day}.{ext}"))?;
        let mut out = std::io::BufWriter::new(file);
        let path_on_server = format!("/api/v1/contacts/{id}/export{query}");
        let written = rest::download(
            &self.inner.http,
            &s.server,
            &s.token,
            &path_on_server,
            |chunk| out.write_all(chunk),
            progress,
        )
        .await
        .and_then(|_| {
            let file = out.into_inner().map_err(|e| CoreError::Disk(e.to_string()))?;
            file.sync_all().map_err(|e| CoreError::Disk(e.to_string()))
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    }

    /// Erases a contact everywhere: the server deletes and redacts it, and every app (this one
    /// at its next event) drops it.
    pub async fn erase_contact(&self, id: ContactId) -> CoreResult<Erased> {
        self.call::<(), _>(Method::POST, &format!("/api/v1/contacts/{id}/erase"), None).await
    }

    /// Signs a person out of the workspace everywhere; each of their apps deletes its copy of
    /// the workspace at its next contact. Returns how many sessions ended.
    pub async fn wipe_user(&self, id: UserId) -> CoreResult<u32> {
        let wiped: Wiped = self.call::<(), _>(Method::POST, &format!("/api/v1/users/{id}/wipe"), None).await?;
        Ok(wiped.sessions)
    }
}
