//! Attachments downloaded on demand: fetched from the server (which fetches them through the
//! conversation's device), saved into a folder the shell chooses (the Downloads folder), and
//! remembered so that a second click opens what is there instead of fetching it again.

use std::path::{Path, PathBuf};

use handoff_proto::{Media, MediaKind, MessageId};

use crate::{rest, Client, CoreError, CoreResult};

impl Client {
    /// Saves a message's attachment into `dir` and returns where. A file saved before, still
    /// there, is returned as it is; otherwise the server fetches it from WhatsApp and it is
    /// saved under its own name (made safe, and never over an existing file).
    pub async fn save_attachment(&self, message_id: MessageId, dir: &Path) -> CoreResult<PathBuf> {
        let cache = &self.inner.cache;
        let saved: Option<String> = sqlx::query_scalar("SELECT path FROM saved_files WHERE message_id = ?")
            .bind(message_id.to_string())
            .fetch_optional(cache.pool())
            .await?;
        if let Some(path) = saved.map(PathBuf::from).filter(|p| p.is_file()) {
            return Ok(path);
        }
        let media: Option<String> = sqlx::query_scalar("SELECT media FROM messages WHERE id = ?")
            .bind(message_id.to_string())
            .fetch_optional(cache.pool())
            .await?
            .flatten();
        let media: Media = media
            .and_then(|m| serde_json::from_str(&m).ok())
            .ok_or_else(|| CoreError::Invalid("this message has no attachment".into()))?;
        if !media.downloadable {
            return Err(CoreError::Invalid(
                "this attachment cannot be downloaded here; it is still on the phone".into(),
            ));
        }
        let s = self.inner.session()?;
        let bytes =
            rest::bytes(&self.inner.http, &s.server, &s.token, &format!("/api/v1/messages/{message_id}/media")).await?;
        let path = write_new(dir, &file_name(&media, message_id), &bytes)?;
        sqlx::query("INSERT OR REPLACE INTO saved_files (message_id, path, saved_at) VALUES (?, ?, ?)")
            .bind(message_id.to_string())
            .bind(path.to_string_lossy())
            .bind(handoff_proto::sortable_time(chrono::Utc::now()))
            .execute(cache.pool())
            .await?;
        Ok(path)
    }
}

/// The name to save an attachment under: its own, without anything that could leave the folder
/// or upset a file system; else one made of its kind and the message id, with an extension that
/// fits its type.
pub fn file_name(media: &Media, message_id: MessageId) -> String {
    let own: String = media
        .filename
        .as_deref()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { '_' } else { c })
        .collect();
    let own = own.trim().trim_start_matches('.').trim();
    if !own.is_empty() {
        return own.chars().take(120).collect();
    }
    let kind = match media.kind {
        MediaKind::Image => "photo",
        MediaKind::Video => "video",
        MediaKind::Audio => "voice",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    };
    let short = &message_id.uuid().simple().to_string()[..8];
    format!("{kind}-{short}{}", extension(media.mime.as_deref()))
}

/// A file extension for the usual WhatsApp types (empty when unknown).
fn extension(mime: Option<&str>) -> &'static str {
    let essence = mime.unwrap_or_default().split(';').next().unwrap_or_default().trim();
    match essence {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/webp" => ".webp",
        "image/gif" => ".gif",
        "video/mp4" => ".mp4",
        "video/3gpp" => ".3gp",
        "audio/ogg" => ".ogg",
        "audio/mpeg" => ".mp3",
        "audio/mp4" | "audio/aac" => ".m4a",
        "application/pdf" => ".pdf",
        "text/plain" => ".txt",
        _ => "",
    }
}

/// Writes `bytes` to `dir/name`, or `dir/name (2)`, `(3)`… if taken: never over another file.
fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> CoreResult<PathBuf> {
    use std::io::Write;
    let (mut file, path) = create_new(dir, name)?;
    let written = file.write_all(bytes).and_then(|_| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path); // no half-written file left behind
        return Err(disk(dir, e));
    }
    Ok(path)
}

fn disk(dir: &Path, e: std::io::Error) -> CoreError {
    CoreError::Disk(format!("the file could not be saved in {}: {e}", dir.display()))
}

/// A new, empty file in `dir` named `name`, or `name (2)`, `name (3)`…: never an existing file.
pub(crate) fn create_new(dir: &Path, name: &str) -> CoreResult<(std::fs::File, PathBuf)> {
    std::fs::create_dir_all(dir).map_err(|e| disk(dir, e))?;
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    for n in 1..1000 {
        let candidate = if n == 1 { dir.join(name) } else { dir.join(format!("{stem} ({n}){ext}")) };
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(file) => return Ok((file, candidate)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(disk(dir, e)),
        }
    }
    Err(CoreError::Disk(format!("{} already holds 999 files named {name}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(kind: MediaKind, filename: Option<&str>, mime: Option<&str>) -> Media {
        Media { kind, filename: filename.map(Into::into), mime: mime.map(Into::into), size: None, downloadable: true }
    }

    #[test]
    fn names_are_safe_and_fall_back_to_the_kind() {
        let id = MessageId::parse_str("0192f0c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f").unwrap();
        let doc = media(MediaKind::Document, Some("../../etc/pass:wd"), None);
        assert_eq!(file_name(&doc, id), "_.._etc_pass_wd");
        let hidden = media(MediaKind::Document, Some("..bashrc"), None);
        assert_eq!(file_name(&hidden, id), "bashrc");
        assert_eq!(file_name(&media(MediaKind::Image, None, Some("image/jpeg")), id), "photo-0192f0c4.jpg");
        assert_eq!(
            file_name(&media(MediaKind::Audio, Some("  "), Some("audio/ogg; codecs=opus")), id),
            "voice-0192f0c4.ogg"
        );
    }

    #[test]
    fn a_second_file_of_the_same_name_does_not_replace_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_new(dir.path(), "invoice.pdf", b"one").unwrap();
        let second = write_new(dir.path(), "invoice.pdf", b"two").unwrap();
        let third = write_new(dir.path(), "README", b"three").unwrap();
        let fourth = write_new(dir.path(), "README", b"four").unwrap();
        assert_eq!(first.file_name().unwrap(), "invoice.pdf");
        assert_eq!(second.file_name().unwrap(), "invoice (2).pdf");
        assert_eq!(fourth.file_name().unwrap(), "README (2)");
        assert_eq!(std::fs::read(&first).unwrap(), b"one");
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
        assert_eq!(std::fs::read(&third).unwrap(), b"three");
    }
}
