//! Drafts: what the agent is writing in each conversation, one per composer mode, kept in the
//! cache until sent or cleared. A reply's draft and a note's are separate rows: nothing typed as
//! a note can turn up in the reply composer.

use handoff_proto::sortable_time as ts;
use handoff_proto::ConversationId;
use serde::{Deserialize, Serialize};

use crate::cache::{Cache, DbResult};

/// The composer's two modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum DraftMode {
    Reply,
    Note,
}

impl DraftMode {
    fn as_str(self) -> &'static str {
        match self {
            DraftMode::Reply => "reply",
            DraftMode::Note => "note",
        }
    }
}

/// The draft of `mode` in a conversation (`None` when there is none).
pub async fn get(cache: &Cache, conversation_id: ConversationId, mode: DraftMode) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT body FROM drafts WHERE conversation_id = ? AND mode = ?")
        .bind(conversation_id.to_string())
        .bind(mode.as_str())
        .fetch_optional(cache.pool())
        .await
}

/// Keeps `body` as the draft of `mode`; an empty (or blank) body removes it.
pub async fn set(cache: &Cache, conversation_id: ConversationId, mode: DraftMode, body: &str) -> DbResult<()> {
    let mut tx = cache.write().await?;
    if body.trim().is_empty() {
        sqlx::query("DELETE FROM drafts WHERE conversation_id = ? AND mode = ?")
            .bind(conversation_id.to_string())
            .bind(mode.as_str())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO drafts (conversation_id, mode, body, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (conversation_id, mode) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(conversation_id.to_string())
        .bind(mode.as_str())
        .bind(body)
        .bind(ts(chrono::Utc::now()))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
