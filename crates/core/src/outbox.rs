//! The outbox: every change made here is written to it, together with its optimistic effect on
//! the cache, in one transaction, before the UI sees it. The sync loop sends the outbox in order;
//! the server applies each mutation at most once (its `mutation_id`), then acks or rejects it.

use handoff_proto::{
    sortable_time as ts, Delivery, ErrorDetail, Message, MessageId, MessageKind, MutationId, Op, UserId,
};
use sqlx::{Row, SqliteConnection};

use crate::cache::{insert_message, Cache, DbResult};
use crate::types::Attention;

/// One queued change.
#[derive(Clone, Debug)]
pub struct Pending {
    pub mutation_id: MutationId,
    pub op: Op,
}

/// Queues `op` for `me` and applies it to the cache optimistically. Returns the mutation id.
pub async fn enqueue(cache: &Cache, me: UserId, op: Op) -> DbResult<MutationId> {
    let mutation_id = MutationId::new();
    let now = chrono::Utc::now();
    let cid = op.conversation_id().to_string();
    let mut tx = cache.write().await?;
    let json = serde_json::to_string(&op).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO outbox (mutation_id, conversation_id, op, created_at) VALUES (?, ?, ?, ?)")
        .bind(mutation_id.to_string())
        .bind(&cid)
        .bind(json)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
    match &op {
        Op::Reply { conversation_id, body, .. } | Op::Note { conversation_id, body } => {
            let kind = if matches!(op, Op::Reply { .. }) { MessageKind::Outbound } else { MessageKind::Note };
            let message = Message {
                // Shown until the server's own message replaces it: known by the change's id.
                id: MessageId::from(mutation_id.uuid()),
                conversation_id: *conversation_id,
                kind,
                body: body.clone(),
                author_id: Some(me),
                created_at: now,
                delivery: (kind == MessageKind::Outbound).then_some(Delivery::Pending),
                wa_message_id: None,
                mutation_id: Some(mutation_id),
                failure: None,
                sender: None,
                media: None,
            };
            insert_message(&mut tx, &message, true).await?;
        }
        Op::Claim { .. } => {
            sqlx::query(
                "UPDATE conversations SET assignee_id = ?, assigned_at = ? WHERE id = ? AND assignee_id IS NULL",
            )
            .bind(me.to_string())
            .bind(ts(now))
            .bind(&cid)
            .execute(&mut *tx)
            .await?;
        }
        Op::Assign { assignee_id, team_id, .. } => {
            sqlx::query(
                "UPDATE conversations SET assignee_id = ?, assigned_at = ?, team_id = COALESCE(?, team_id) WHERE id = ?",
            )
            .bind(assignee_id.map(|a| a.to_string()))
            .bind(assignee_id.map(|_| ts(now)))
            .bind(team_id.map(|t| t.to_string()))
            .bind(&cid)
            .execute(&mut *tx)
            .await?;
        }
        Op::Escalate { conversation_id, team_id, note } => {
            sqlx::query("UPDATE conversations SET assignee_id = NULL, assigned_at = NULL, team_id = ? WHERE id = ?")
                .bind(team_id.to_string())
                .bind(&cid)
                .execute(&mut *tx)
                .await?;
            let message = Message {
                // Shown until the server's own message replaces it: known by the change's id.
                id: MessageId::from(mutation_id.uuid()),
                conversation_id: *conversation_id,
                kind: MessageKind::Note,
                body: note.clone(),
                author_id: Some(me),
                created_at: now,
                delivery: None,
                wa_message_id: None,
                mutation_id: Some(mutation_id),
                failure: None,
                sender: None,
                media: None,
            };
            insert_message(&mut tx, &message, true).await?;
        }
        Op::Label { add, remove, .. } => {
            let current: Option<String> = sqlx::query_scalar("SELECT labels FROM conversations WHERE id = ?")
                .bind(&cid)
                .fetch_optional(&mut *tx)
                .await?;
            let mut labels: Vec<String> = current
                .unwrap_or_default()
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .filter(|l| !remove.iter().any(|r| r.trim().eq_ignore_ascii_case(l)))
                .collect();
            for l in add {
                let l = l.trim().to_lowercase();
                if !l.is_empty() && !labels.contains(&l) {
                    labels.push(l);
                }
            }
            labels.sort();
            sqlx::query("UPDATE conversations SET labels = ? WHERE id = ?")
                .bind(labels.join("\n"))
                .bind(&cid)
                .execute(&mut *tx)
                .await?;
        }
        Op::SetStatus { status, .. } => {
            sqlx::query("UPDATE conversations SET status = ? WHERE id = ?")
                .bind(status)
                .bind(&cid)
                .execute(&mut *tx)
                .await?;
        }
        Op::MarkRead { .. } => {
            sqlx::query(
                "INSERT INTO reads (conversation_id, read_at) VALUES (?, ?) \
                 ON CONFLICT (conversation_id) DO UPDATE SET read_at = MAX(read_at, excluded.read_at)",
            )
            .bind(&cid)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        // No optimistic change: the reply stays failed (its retry shows as queued) until the
        // server's copy, pending then sent or failed again, arrives.
        Op::Retry { .. } => {}
    }
    tx.commit().await?;
    Ok(mutation_id)
}

/// Everything still queued, in the order it was made.
pub async fn pending(cache: &Cache) -> DbResult<Vec<Pending>> {
    let rows = sqlx::query("SELECT mutation_id, op FROM outbox ORDER BY position").fetch_all(cache.pool()).await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("mutation_id")?;
            let op: String = r.try_get("op")?;
            Ok(Pending {
                mutation_id: MutationId::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                op: serde_json::from_str(&op).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        })
        .collect()
}

/// The server applied it: it leaves the outbox. Returns the op.
pub async fn acknowledged(cache: &Cache, mutation_id: MutationId) -> DbResult<Option<Op>> {
    let mut tx = cache.write().await?;
    let op = take(&mut tx, mutation_id).await?;
    tx.commit().await?;
    Ok(op)
}

/// The server refused it: drop it and its optimistic message. A change with text (reply, note,
/// escalation) moves to the "Needs attention" list in the same transaction, so the text is never
/// lost. Returns the op, and whether it needs attention.
pub async fn rejected(cache: &Cache, mutation_id: MutationId, error: &ErrorDetail) -> DbResult<Option<(Op, bool)>> {
    let mut tx = cache.write().await?;
    let Some(op) = take(&mut tx, mutation_id).await? else { return Ok(None) };
    sqlx::query("DELETE FROM messages WHERE id = ? AND pending = 1")
        .bind(mutation_id.to_string())
        .execute(&mut *tx)
        .await?;
    let attention = op_text(&op).is_some();
    if attention {
        sqlx::query(
            "INSERT OR REPLACE INTO attention (mutation_id, conversation_id, op, error, refused_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(mutation_id.to_string())
        .bind(op.conversation_id().to_string())
        .bind(serde_json::to_string(&op).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
        .bind(serde_json::to_string(error).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
        .bind(ts(chrono::Utc::now()))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some((op, attention)))
}

/// Takes a mutation out of the outbox.
async fn take(tx: &mut SqliteConnection, mutation_id: MutationId) -> DbResult<Option<Op>> {
    let op: Option<String> = sqlx::query_scalar("DELETE FROM outbox WHERE mutation_id = ? RETURNING op")
        .bind(mutation_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    // A row this version cannot read (written by another version of the app) still leaves the
    // outbox: failing here would stop the sync loop on it at every reconnect.
    Ok(op.and_then(|o| {
        serde_json::from_str(&o).map_err(|e| tracing::warn!(%mutation_id, error = %e, "unreadable outbox entry")).ok()
    }))
}

/// The text an op carries, if it is one whose refusal needs the agent's attention.
pub fn op_text(op: &Op) -> Option<(&'static str, &str)> {
    match op {
        Op::Reply { body, .. } => Some(("reply", body)),
        Op::Note { body, .. } => Some(("note", body)),
        Op::Escalate { note, .. } => Some(("escalate", note)),
        _ => None,
    }
}

/// The "Needs attention" list, oldest refusal first.
pub async fn attention(cache: &Cache) -> DbResult<Vec<Attention>> {
    let rows = sqlx::query(
        "SELECT a.mutation_id, a.conversation_id, a.op, a.error, a.refused_at, \
           COALESCE(c.contact_name, c.contact_phone, '') AS contact \
         FROM attention a LEFT JOIN conversations c ON c.id = a.conversation_id ORDER BY a.refused_at",
    )
    .fetch_all(cache.pool())
    .await?;
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        // An entry this version cannot read is left out rather than hiding the others.
        let Ok(op) = serde_json::from_str::<Op>(&r.try_get::<String, _>("op")?) else { continue };
        let Some((kind, body)) = op_text(&op) else { continue };
        out.push(Attention {
            mutation_id: crate::cache::uuid(r, "mutation_id")?,
            conversation_id: crate::cache::uuid(r, "conversation_id")?,
            contact: r.try_get("contact")?,
            op: kind.to_string(),
            body: body.to_string(),
            error: serde_json::from_str(&r.try_get::<String, _>("error")?).map_err(decode)?,
            refused_at: crate::cache::time(r, "refused_at")?,
        });
    }
    Ok(out)
}

/// The refused change behind an entry of the "Needs attention" list, as it was queued.
pub async fn refused(cache: &Cache, mutation_id: MutationId) -> DbResult<Option<Op>> {
    let op: Option<String> = sqlx::query_scalar("SELECT op FROM attention WHERE mutation_id = ?")
        .bind(mutation_id.to_string())
        .fetch_optional(cache.pool())
        .await?;
    Ok(op.and_then(|o| serde_json::from_str(&o).ok()))
}

/// The change to queue when the agent sends a refused one again, with its text as it is now
/// (edited or not): always of the refused change's own kind. A note stays a note and an
/// escalation an escalation, whatever the caller asks: nothing that was written as internal can
/// become a message to the customer on its way through "Needs attention". Only a reply takes
/// `force` (past the send guard) and the version the agent sees now. `None` for a change that
/// carries no text.
pub fn resend(refused: Op, body: String, seen_version: i64, force: bool) -> Option<Op> {
    match refused {
        Op::Reply { conversation_id, .. } => Some(Op::Reply { conversation_id, body, seen_version, force }),
        Op::Note { conversation_id, .. } => Some(Op::Note { conversation_id, body }),
        Op::Escalate { conversation_id, team_id, .. } => Some(Op::Escalate { conversation_id, team_id, note: body }),
        _ => None,
    }
}

/// Takes an entry off the "Needs attention" list (sent anyway, moved to the composer, or discarded).
pub async fn dismiss(cache: &Cache, mutation_id: MutationId) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM attention WHERE mutation_id = ?")
        .bind(mutation_id.to_string())
        .execute(cache.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn len(cache: &Cache) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(cache.pool()).await
}

#[cfg(test)]
mod tests {
    use super::resend;
    use handoff_proto::{ConversationId, Op, TeamId};

    #[test]
    fn a_refused_note_or_escalation_is_sent_again_as_itself_never_as_a_reply() {
        let (conversation_id, team_id) = (ConversationId::new(), TeamId::new());
        let note = Op::Note { conversation_id, body: "VIP, refund approved internally".into() };
        // Even asked to force it past the send guard (the reply panel's "Send anyway").
        for force in [false, true] {
            assert_eq!(
                resend(note.clone(), "edited note".into(), 9, force),
                Some(Op::Note { conversation_id, body: "edited note".into() })
            );
        }
        let escalation = Op::Escalate { conversation_id, team_id, note: "needs Billing".into() };
        assert_eq!(
            resend(escalation, "needs Billing, urgent".into(), 9, true),
            Some(Op::Escalate { conversation_id, team_id, note: "needs Billing, urgent".into() })
        );
        let reply = Op::Reply { conversation_id, body: "Hi!".into(), seen_version: 2, force: false };
        assert_eq!(
            resend(reply, "Hi again!".into(), 9, true),
            Some(Op::Reply { conversation_id, body: "Hi again!".into(), seen_version: 9, force: true })
        );
        assert_eq!(resend(Op::Claim { conversation_id }, "x".into(), 9, true), None);
    }
}
