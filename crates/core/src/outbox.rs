//! The outbox: every change made here is written to it, together with its optimistic effect on
//! the cache, in one transaction, before the UI sees it. The sync loop sends the outbox in order;
//! the server applies each mutation at most once (its `mutation_id`), then acks or rejects it.

use handoff_proto::{sortable_time as ts, Delivery, Message, MessageKind, Op};
use sqlx::Row;
use uuid::Uuid;

use crate::cache::{insert_message, Cache, DbResult};

/// One queued change.
#[derive(Clone, Debug)]
pub struct Pending {
    pub mutation_id: Uuid,
    pub op: Op,
}

/// Queues `op` for `me` and applies it to the cache optimistically. Returns the mutation id.
pub async fn enqueue(cache: &Cache, me: Uuid, op: Op) -> DbResult<Uuid> {
    let mutation_id = Uuid::now_v7();
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
                id: mutation_id,
                conversation_id: *conversation_id,
                kind,
                body: body.clone(),
                author_id: Some(me),
                created_at: now,
                delivery: (kind == MessageKind::Outbound).then_some(Delivery::Pending),
                wa_message_id: None,
                mutation_id: Some(mutation_id),
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
                id: mutation_id,
                conversation_id: *conversation_id,
                kind: MessageKind::Note,
                body: note.clone(),
                author_id: Some(me),
                created_at: now,
                delivery: None,
                wa_message_id: None,
                mutation_id: Some(mutation_id),
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
                .bind(status.as_str())
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
                mutation_id: Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                op: serde_json::from_str(&op).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        })
        .collect()
}

/// The server applied it.
pub async fn acknowledged(cache: &Cache, mutation_id: Uuid) -> DbResult<Option<Op>> {
    take(cache, mutation_id, false).await
}

/// The server refused it: drop it and its optimistic message. Returns the op.
pub async fn rejected(cache: &Cache, mutation_id: Uuid) -> DbResult<Option<Op>> {
    take(cache, mutation_id, true).await
}

async fn take(cache: &Cache, mutation_id: Uuid, rollback: bool) -> DbResult<Option<Op>> {
    let mut tx = cache.write().await?;
    let op: Option<String> = sqlx::query_scalar("DELETE FROM outbox WHERE mutation_id = ? RETURNING op")
        .bind(mutation_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    if rollback {
        sqlx::query("DELETE FROM messages WHERE id = ? AND pending = 1")
            .bind(mutation_id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(op.and_then(|o| serde_json::from_str(&o).ok()))
}

pub async fn len(cache: &Cache) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(cache.pool()).await
}
