//! Conversation mutations. The HTTP routes and WebSocket `mutate` frames both land here, so the
//! rules (roles, validation, the send guard, claim as compare-and-set, at-most-once) live once.

use axum::http::StatusCode;
use chrono::Utc;
use handoff_proto::{Conversation, ConversationStatus, EventBody, Message, MessageKind, Op, Role, Seq, UpdateCause};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, conversation_by_id, message_by_id, user_by_id, Writer};
use crate::{dispatch, ingest, send_guard, AppState};

/// The longest reply or note, in characters (WhatsApp's own limit for a text).
pub const MAX_BODY_CHARS: usize = 65_536;

/// What a mutation produced; stored with its key so that a repeat returns the same answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Outcome {
    Message(Message),
    Conversation(Conversation),
    Done,
}

pub struct Applied {
    pub outcome: Outcome,
    /// The last event the mutation produced (`None` when it changed nothing).
    pub seq: Option<Seq>,
    /// HTTP status for the first answer (201 for created messages).
    pub status: StatusCode,
}

/// Applies `op` for `actor`. With a `key` (a WebSocket mutation id or an HTTP Idempotency-Key) the
/// same key and op again return the first answer and change nothing.
pub async fn apply(state: &AppState, actor: &Actor, op: Op, key: Option<String>) -> ApiResult<Applied> {
    check(actor, &op)?;
    let fingerprint = fingerprint(&op);
    let mut w = state.store.begin().await?;
    if let Some(key) = &key {
        if let Some(previous) = replay(w.conn(), actor, key, &fingerprint).await? {
            return Ok(previous);
        }
    }
    let conversation_id = op.conversation_id();
    let current = conversation_by_id(w.conn(), conversation_id, Some(actor.id()))
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let mut to_send = None;
    let (outcome, seq, status) = match op {
        Op::Reply { body, seen_version, force, .. } => {
            if seen_version > current.version {
                return Err(ApiError::invalid("seen_version", "seen_version is newer than the conversation itself."));
            }
            if !force && seen_version < current.version {
                let changes = send_guard::changes_since(w.conn(), conversation_id, seen_version, actor.id()).await?;
                if !changes.is_empty() {
                    let mut e = ApiError::conflict(
                        "conversation_changed",
                        "The conversation changed since you last looked: review it, then send again or send anyway.",
                    );
                    e.detail.changes = Some(changes);
                    e.detail.version = Some(current.version);
                    return Err(e);
                }
            }
            let (message, seq) =
                add_message(&mut w, actor, &current, MessageKind::Outbound, &body, key.as_deref()).await?;
            to_send = Some(message.id);
            (Outcome::Message(message), Some(seq), StatusCode::CREATED)
        }
        Op::Note { body, .. } => {
            let (message, seq) = add_message(&mut w, actor, &current, MessageKind::Note, &body, key.as_deref()).await?;
            (Outcome::Message(message), Some(seq), StatusCode::CREATED)
        }
        Op::Claim { .. } => claim(&mut w, actor, &current).await?,
        Op::Assign { assignee_id, .. } => assign(&mut w, actor, &current, assignee_id).await?,
        Op::SetStatus { status, snooze_until, .. } => set_status(&mut w, actor, &current, status, snooze_until).await?,
        Op::MarkRead { .. } => {
            let read_at = store::now();
            sqlx::query(
                "INSERT INTO reads (user_id, conversation_id, read_at) VALUES (?, ?, ?) \
                 ON CONFLICT (user_id, conversation_id) DO UPDATE SET read_at = excluded.read_at",
            )
            .bind(actor.id().to_string())
            .bind(conversation_id.to_string())
            .bind(store::ts(read_at))
            .execute(w.conn())
            .await?;
            let seq = w.append(EventBody::ConversationRead { conversation_id, user_id: actor.id(), read_at }).await?;
            (Outcome::Done, Some(seq), StatusCode::NO_CONTENT)
        }
    };
    if let Some(key) = &key {
        record(w.conn(), actor, key, &fingerprint, status, &outcome, seq).await?;
    }
    w.commit().await?;
    let mut applied = Applied { outcome, seq, status };
    if let Some(message_id) = to_send {
        if let Some(sent) = dispatch::send_reply(state, message_id).await? {
            applied.outcome = Outcome::Message(sent);
        }
    }
    Ok(applied)
}

/// Checks that need no database: role and input.
fn check(actor: &Actor, op: &Op) -> ApiResult<()> {
    match op {
        Op::MarkRead { .. } => Ok(()), // personal: even a Viewer keeps track of what they read
        Op::Reply { body, .. } => {
            actor.require_write("reply to customers")?;
            check_body(body)
        }
        Op::Note { body, .. } => {
            actor.require_write("write notes")?;
            check_body(body)
        }
        Op::Claim { .. } => actor.require_write("claim conversations"),
        Op::Assign { .. } => actor.require_write("assign conversations"),
        Op::SetStatus { status, snooze_until, .. } => {
            actor.require_write("change a conversation's status")?;
            match (status, snooze_until) {
                (ConversationStatus::Snoozed, None) => {
                    Err(ApiError::invalid("snooze_until", "Snoozing needs snooze_until: the time it wakes up."))
                }
                (ConversationStatus::Snoozed, Some(t)) if *t <= Utc::now() => {
                    Err(ApiError::invalid("snooze_until", "snooze_until must be in the future."))
                }
                _ => Ok(()),
            }
        }
    }
}

fn check_body(body: &str) -> ApiResult<()> {
    if body.trim().is_empty() {
        return Err(ApiError::invalid("body", "The message is empty: write something first."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::invalid("body", format!("The message is longer than {MAX_BODY_CHARS} characters.")));
    }
    Ok(())
}

async fn add_message(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    kind: MessageKind,
    body: &str,
    mutation_id: Option<&str>,
) -> ApiResult<(Message, Seq)> {
    let id = Uuid::now_v7();
    let now = store::now();
    let delivery = (kind == MessageKind::Outbound).then_some("pending");
    // Only client mutation ids (UUIDs) are echoed back; HTTP idempotency keys are free text.
    let mutation_id = mutation_id.and_then(|k| Uuid::parse_str(k).ok()).map(|u| u.to_string());
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, device_id, kind, body, author_id, created_at, delivery, mutation_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(current.id.to_string())
    .bind(current.device_id.to_string())
    .bind(kind.as_str())
    .bind(body)
    .bind(actor.id().to_string())
    .bind(store::ts(now))
    .bind(delivery)
    .bind(mutation_id)
    .execute(w.conn())
    .await?;
    // A note does not move the conversation up the queue; a reply does.
    let touch = kind == MessageKind::Outbound;
    sqlx::query(
        "UPDATE conversations SET version = version + 1, \
           last_message_at = CASE WHEN ?1 THEN ?2 ELSE last_message_at END, \
           last_message_preview = CASE WHEN ?1 THEN ?3 ELSE last_message_preview END \
         WHERE id = ?4",
    )
    .bind(touch)
    .bind(store::ts(now))
    .bind(ingest::preview(body))
    .bind(current.id.to_string())
    .execute(w.conn())
    .await?;
    let message = message_by_id(w.conn(), id).await?.expect("inserted above");
    let conversation = conversation_by_id(w.conn(), current.id, None).await?.expect("exists");
    let seq = w.append(EventBody::MessageCreated { message: message.clone(), conversation }).await?;
    Ok((message, seq))
}

type Change = (Outcome, Option<Seq>, StatusCode);

/// Claim is one compare-and-set: it succeeds only if nobody else holds the conversation.
async fn claim(w: &mut Writer<'_>, actor: &Actor, current: &Conversation) -> ApiResult<Change> {
    if current.assignee_id == Some(actor.id()) {
        return Ok((Outcome::Conversation(current.clone()), None, StatusCode::OK));
    }
    let now = store::ts(store::now());
    let won = sqlx::query(
        "UPDATE conversations SET assignee_id = ?, assigned_at = ?, version = version + 1 \
         WHERE id = ? AND assignee_id IS NULL",
    )
    .bind(actor.id().to_string())
    .bind(&now)
    .bind(current.id.to_string())
    .execute(w.conn())
    .await?
    .rows_affected()
        == 1;
    if !won {
        let holder = conversation_by_id(w.conn(), current.id, None).await?.expect("exists");
        return Err(already_claimed(w.conn(), &holder).await?);
    }
    updated(w, actor, current.id, UpdateCause::Claimed).await
}

async fn already_claimed(conn: &mut SqliteConnection, holder: &Conversation) -> ApiResult<ApiError> {
    let name = match holder.assignee_id {
        Some(id) => user_by_id(conn, id).await?.map(|u| u.name).unwrap_or_else(|| "Someone".into()),
        None => "Someone".into(),
    };
    let ago = holder.assigned_at.map(|t| (Utc::now() - t).num_seconds().max(0)).unwrap_or(0);
    let mut e = ApiError::conflict("already_claimed", format!("{name} claimed this {ago} s ago."));
    e.detail.assignee_id = holder.assignee_id;
    e.detail.claimed_at = holder.assigned_at;
    Ok(e)
}

async fn assign(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    assignee: Option<Uuid>,
) -> ApiResult<Change> {
    if let Some(id) = assignee {
        let user =
            user_by_id(w.conn(), id).await?.ok_or_else(|| ApiError::invalid("assignee_id", "No user has that id."))?;
        if !user.active {
            return Err(ApiError::invalid(
                "assignee_id",
                format!("{} is deactivated: pick someone active.", user.name),
            ));
        }
        if user.role == Role::Viewer {
            return Err(ApiError::invalid(
                "assignee_id",
                format!("{} is a Viewer and cannot own conversations.", user.name),
            ));
        }
    }
    if current.assignee_id == assignee {
        return Ok((Outcome::Conversation(current.clone()), None, StatusCode::OK));
    }
    sqlx::query("UPDATE conversations SET assignee_id = ?, assigned_at = ?, version = version + 1 WHERE id = ?")
        .bind(assignee.map(|a| a.to_string()))
        .bind(assignee.map(|_| store::ts(store::now())))
        .bind(current.id.to_string())
        .execute(w.conn())
        .await?;
    updated(w, actor, current.id, UpdateCause::Assigned).await
}

async fn set_status(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    status: ConversationStatus,
    snooze_until: Option<chrono::DateTime<Utc>>,
) -> ApiResult<Change> {
    let snooze_until = (status == ConversationStatus::Snoozed).then_some(snooze_until).flatten();
    sqlx::query("UPDATE conversations SET status = ?, snooze_until = ?, version = version + 1 WHERE id = ?")
        .bind(status.as_str())
        .bind(snooze_until.map(store::ts))
        .bind(current.id.to_string())
        .execute(w.conn())
        .await?;
    updated(w, actor, current.id, UpdateCause::Status).await
}

async fn updated(w: &mut Writer<'_>, actor: &Actor, id: Uuid, cause: UpdateCause) -> ApiResult<Change> {
    let conversation = conversation_by_id(w.conn(), id, None).await?.expect("exists");
    let seq = w.append(EventBody::ConversationUpdated { conversation, actor_id: Some(actor.id()), cause }).await?;
    let mine = conversation_by_id(w.conn(), id, Some(actor.id())).await?.expect("exists");
    Ok((Outcome::Conversation(mine), Some(seq), StatusCode::OK))
}

fn fingerprint(op: &Op) -> String {
    let json = serde_json::to_vec(op).unwrap_or_default();
    Sha256::digest(json).iter().map(|b| format!("{b:02x}")).collect()
}

async fn replay(
    conn: &mut SqliteConnection,
    actor: &Actor,
    key: &str,
    fingerprint: &str,
) -> ApiResult<Option<Applied>> {
    let row: Option<(String, i64, String, Option<i64>)> =
        sqlx::query_as("SELECT fingerprint, status, response, seq FROM applied WHERE user_id = ? AND key = ?")
            .bind(actor.id().to_string())
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((stored, status, response, seq)) = row else { return Ok(None) };
    if stored != fingerprint {
        return Err(ApiError::conflict(
            "idempotency_key_reused",
            "This idempotency key was already used for a different request.",
        ));
    }
    let outcome: Outcome = serde_json::from_str(&response).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    // The same answer, brought up to date (a reply's delivery state may have moved on).
    let outcome = match outcome {
        Outcome::Message(m) => Outcome::Message(message_by_id(conn, m.id).await?.unwrap_or(m)),
        Outcome::Conversation(c) => {
            Outcome::Conversation(conversation_by_id(conn, c.id, Some(actor.id())).await?.unwrap_or(c))
        }
        Outcome::Done => Outcome::Done,
    };
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    Ok(Some(Applied { outcome, seq, status }))
}

async fn record(
    conn: &mut SqliteConnection,
    actor: &Actor,
    key: &str,
    fingerprint: &str,
    status: StatusCode,
    outcome: &Outcome,
    seq: Option<Seq>,
) -> ApiResult<()> {
    let response = serde_json::to_string(outcome).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("INSERT INTO applied (user_id, key, fingerprint, status, response, seq, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(actor.id().to_string())
        .bind(key)
        .bind(fingerprint)
        .bind(status.as_u16() as i64)
        .bind(response)
        .bind(seq)
        .bind(store::ts(store::now()))
        .execute(conn)
        .await?;
    Ok(())
}
