//! Conversation mutations. The HTTP routes and WebSocket `mutate` frames both land here, so the
//! rules (roles, validation, the send guard, claim as compare-and-set, at-most-once) live once.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use handoff_proto::{Conversation, ConversationStatus, ErrorDetail, EventBody, Message, MessageKind, Op, Role, Seq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit;
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store;
use crate::{outbound::dispatch, send_guard, AppState};

mod change;
use change::{add_message, assign, claim, escalate, labels, mention, set_status};

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
/// same key and op again return the first answer and change nothing. Every applied mutation
/// writes one audit entry in the same transaction.
pub async fn apply(state: &AppState, actor: &Actor, op: Op, key: Option<String>) -> Result<Applied> {
    check(actor, &op, state.clock.now())?;
    let fingerprint = fingerprint(&op);
    let mut w = state.store.begin().await?;
    if let Some(key) = &key {
        if let Some(previous) = replay(w.conn(), actor, key, &fingerprint).await? {
            return Ok(previous);
        }
    }
    let conversation_id = op.conversation_id();
    let current = store::conversations::get(w.conn(), actor.ws(), conversation_id, Some(actor.id()))
        .await?
        .ok_or_else(|| Error::not_found("conversation"))?;
    // A reply is waiting for the device's worker ([`crate::outbound`]).
    let mut to_send = false;
    // Set by a read: the latest read before it (the customer's messages after it are new to WhatsApp too).
    let mut read_before: Option<Option<String>> = None;
    let action = op.name();
    let (outcome, seq, status, summary) = match op {
        Op::Reply { body, seen_version, force, .. } => {
            if seen_version > current.version {
                return Err(Error::invalid("seen_version", "seen_version is newer than the conversation itself."));
            }
            if !force && seen_version < current.version {
                let changes =
                    send_guard::changes_since(w.conn(), actor.ws(), conversation_id, seen_version, actor.id()).await?;
                if !changes.is_empty() {
                    let mut detail = ErrorDetail::new(
                        "conversation_changed",
                        "The conversation changed since you last looked: review it, then send again or send anyway.",
                    );
                    detail.changes = Some(changes);
                    detail.version = Some(current.version);
                    return Err(Error::Conflict(Box::new(detail)));
                }
            }
            let (message, seq) =
                add_message(&mut w, actor, &current, MessageKind::Outbound, &body, key.as_deref()).await?;
            to_send = true;
            let summary = if force { "Replied to the customer (sent anyway)" } else { "Replied to the customer" };
            (Outcome::Message(message), Some(seq), StatusCode::CREATED, summary.to_string())
        }
        Op::Note { body, .. } => {
            let (message, seq) = add_message(&mut w, actor, &current, MessageKind::Note, &body, key.as_deref()).await?;
            let seq = mention(&mut w, actor, &message).await?.unwrap_or(seq);
            (Outcome::Message(message), Some(seq), StatusCode::CREATED, "Wrote an internal note".to_string())
        }
        Op::Claim { .. } => claim(&mut w, actor, &current).await?,
        Op::Assign { assignee_id, team_id, .. } => assign(&mut w, actor, &current, assignee_id, team_id).await?,
        Op::Escalate { team_id, note, .. } => escalate(&mut w, actor, &current, team_id, &note, key.as_deref()).await?,
        Op::Label { add, remove, .. } => labels(&mut w, actor, &current, &add, &remove).await?,
        Op::SetStatus { status, snooze_until, .. } => set_status(&mut w, actor, &current, status, snooze_until).await?,
        Op::Retry { message_id, .. } => {
            if !store::replies::requeue_failed(w.conn(), actor.ws(), message_id, conversation_id).await? {
                return Err(Error::conflict("not_failed", "Only a failed reply can be sent again."));
            }
            let message = store::messages::get(w.conn(), actor.ws(), message_id).await?.expect("updated above");
            let seq = w.append(actor.ws(), EventBody::MessageUpdated { message: message.clone() }).await?;
            to_send = true;
            (Outcome::Message(message), Some(seq), StatusCode::OK, "Sent a failed reply again".to_string())
        }
        Op::MarkRead { .. } => {
            let read_at = store::now();
            // Only someone who may answer the customer tells WhatsApp (blue ticks): a Viewer's
            // read is theirs alone, and the customer must not think a person is on it.
            if actor.user.role != Role::Viewer {
                // Such a person's earlier read: WhatsApp has been told up to there already.
                let told = store::conversations::team_read_up_to(w.conn(), actor.ws(), conversation_id).await?;
                read_before = Some(told);
            }
            store::conversations::set_read(w.conn(), actor.ws(), conversation_id, actor.id(), read_at).await?;
            let seq = w
                .append(actor.ws(), EventBody::ConversationRead { conversation_id, user_id: actor.id(), read_at })
                .await?;
            (Outcome::Done, Some(seq), StatusCode::NO_CONTENT, "Read the conversation".to_string())
        }
    };
    audit::record(w.conn(), actor.into(), action, Some(conversation_id), &summary, seq).await?;
    if let Some(key) = &key {
        record(w.conn(), actor, key, &fingerprint, status, &outcome, seq).await?;
    }
    w.commit().await?;
    if matches!(action, "claim" | "assign" | "escalate" | "set_status") {
        state.routing.kick(); // someone may have room now
    }
    if action == "set_status" {
        state.snooze.reset();
    }
    if let Some(since) = read_before {
        dispatch::mark_read(state, actor.ws(), conversation_id, since);
    }
    if to_send {
        // Committed: the device's worker sends it (on the node that drives the device).
        state.cluster.call(state, current.device_id, crate::cluster::DeviceCall::Send).await;
    }
    Ok(Applied { outcome, seq, status })
}

/// Checks that need no database: role and input.
fn check(actor: &Actor, op: &Op, now: DateTime<Utc>) -> Result<()> {
    match op {
        Op::MarkRead { .. } => Ok(()), // personal: even a Viewer keeps track of what they read
        Op::Retry { .. } => actor.require_write("send replies"),
        Op::Reply { body, .. } => {
            actor.require_write("reply to customers")?;
            check_body("body", body)
        }
        Op::Note { body, .. } => {
            actor.require_write("write notes")?;
            check_body("body", body)
        }
        Op::Claim { .. } => actor.require_write("claim conversations"),
        Op::Assign { .. } => actor.require_write("assign conversations"),
        Op::Escalate { note, .. } => {
            actor.require_write("escalate conversations")?;
            if note.trim().is_empty() {
                return Err(Error::invalid(
                    "note",
                    "An escalation needs a note: tell the team what they need to know.",
                ));
            }
            check_body("note", note)
        }
        Op::Label { add, remove, .. } => {
            actor.require_write("label conversations")?;
            for label in add.iter().chain(remove) {
                normalize_label(label)?;
            }
            if add.len() + remove.len() > MAX_LABELS {
                return Err(Error::invalid("add", format!("At most {MAX_LABELS} labels at a time.")));
            }
            Ok(())
        }
        Op::SetStatus { status, snooze_until, .. } => {
            actor.require_write("change a conversation's status")?;
            match (status, snooze_until) {
                (ConversationStatus::Snoozed, None) => {
                    Err(Error::invalid("snooze_until", "Snoozing needs snooze_until: the time it wakes up."))
                }
                (ConversationStatus::Snoozed, Some(t)) if *t <= now => {
                    Err(Error::invalid("snooze_until", "snooze_until must be in the future."))
                }
                _ => Ok(()),
            }
        }
    }
}

/// The most labels a conversation carries (and a request may add or remove).
pub const MAX_LABELS: usize = 20;
/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 40;

/// Labels are stored trimmed and lower case.
pub fn normalize_label(label: &str) -> Result<String> {
    let l = label.trim().to_lowercase();
    if l.is_empty() || l.chars().count() > MAX_LABEL_CHARS || l.chars().any(|c| c.is_control() || c == ',') {
        return Err(Error::invalid(
            "add",
            format!("A label has 1 to {MAX_LABEL_CHARS} characters, without commas: {label:?} is not one."),
        ));
    }
    Ok(l)
}

fn check_body(field: &str, body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::invalid(field, "The message is empty: write something first."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(Error::invalid(field, format!("The message is longer than {MAX_BODY_CHARS} characters.")));
    }
    Ok(())
}

fn fingerprint(op: &Op) -> String {
    let json = serde_json::to_vec(op).unwrap_or_default();
    Sha256::digest(json).iter().map(|b| format!("{b:02x}")).collect()
}

async fn replay(conn: &mut store::Conn, actor: &Actor, key: &str, fingerprint: &str) -> Result<Option<Applied>> {
    let Some(stored) = store::idempotency::get(&mut *conn, actor.ws(), actor.id(), key).await? else { return Ok(None) };
    if stored.fingerprint != fingerprint {
        return Err(Error::conflict(
            "idempotency_key_reused",
            "This idempotency key was already used for a different request.",
        ));
    }
    let outcome: Outcome = serde_json::from_str(&stored.response).map_err(|e| Error::Store(e.into()))?;
    // The same answer, brought up to date (a reply's delivery state may have moved on).
    let outcome = match outcome {
        Outcome::Message(m) => Outcome::Message(store::messages::get(conn, actor.ws(), m.id).await?.unwrap_or(m)),
        Outcome::Conversation(c) => Outcome::Conversation(
            store::conversations::get(conn, actor.ws(), c.id, Some(actor.id())).await?.unwrap_or(c),
        ),
        Outcome::Done => Outcome::Done,
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    Ok(Some(Applied { outcome, seq: stored.seq, status }))
}

async fn record(
    conn: &mut store::Conn,
    actor: &Actor,
    key: &str,
    fingerprint: &str,
    status: StatusCode,
    outcome: &Outcome,
    seq: Option<Seq>,
) -> Result<()> {
    let response = serde_json::to_string(outcome).map_err(|e| Error::Store(e.into()))?;
    let applied =
        store::idempotency::Applied { fingerprint: fingerprint.to_string(), status: status.as_u16(), response, seq };
    store::idempotency::insert(conn, actor.ws(), actor.id(), key, &applied, store::now()).await?;
    Ok(())
}
