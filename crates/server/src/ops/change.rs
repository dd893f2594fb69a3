//! The changes themselves, each inside the caller's write transaction: messages, claim, assign,
//! escalate, labels, status. Each returns what the mutation answers and a sentence for the audit log.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use handoff_proto::{
    Conversation, ConversationId, ConversationStatus, Delivery, ErrorDetail, EventBody, Message, MessageId,
    MessageKind, Role, Seq, TeamId, UpdateCause, UserId, UserKind, WorkspaceId,
};

use super::{normalize_label, Outcome, MAX_LABELS};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store::{self, Writer};
use crate::{inbound, mentions, routing};

/// What a change answers: the outcome, its last event, the HTTP status, and an audit sentence.
pub type Change = (Outcome, Option<Seq>, StatusCode, String);

pub async fn add_message(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    kind: MessageKind,
    body: &str,
    mutation_id: Option<&str>,
) -> Result<(Message, Seq)> {
    let id = MessageId::new();
    let now = store::now();
    let reply = kind == MessageKind::Outbound;
    // A reply's WhatsApp id is chosen now, before any attempt ([`crate::outbound`]).
    let send_id = reply.then(handoff_channels::new_message_id);
    let message = store::messages::NewMessage {
        workspace: actor.ws(),
        id,
        conversation_id: current.id,
        device_id: current.device_id,
        kind,
        body,
        author_id: actor.id(),
        created_at: now,
        delivery: reply.then_some(Delivery::Pending),
        // Only client mutation ids (UUIDs) are echoed back; HTTP idempotency keys are free text.
        mutation_id: mutation_id.and_then(|k| k.parse().ok()),
        send_id: send_id.as_deref(),
    };
    store::messages::insert(w.conn(), &message).await?;
    // A note does not move the conversation up the queue; a reply does, and is its first response.
    store::conversations::agent_wrote(w.conn(), actor.ws(), current.id, reply, now, &inbound::preview(body)).await?;
    let message = store::messages::get(w.conn(), actor.ws(), id).await?.expect("inserted above");
    let conversation = store::conversations::get(w.conn(), actor.ws(), current.id, None).await?.expect("exists");
    let seq = w.append(actor.ws(), EventBody::MessageCreated { message: message.clone(), conversation }).await?;
    Ok((message, seq))
}

/// Tells each teammate a note @mentions (not its author). Returns the last event, if any.
pub async fn mention(w: &mut Writer<'_>, actor: &Actor, note: &Message) -> Result<Option<Seq>> {
    let mut last = None;
    for user_id in mentions::resolve(w.conn(), actor.ws(), &note.body).await? {
        if user_id == actor.id() {
            continue;
        }
        let event = EventBody::Mention {
            conversation_id: note.conversation_id,
            message_id: note.id,
            user_id,
            by: Some(actor.id()),
        };
        last = Some(w.append(actor.ws(), event).await?);
    }
    Ok(last)
}

/// Claim is one compare-and-set: it succeeds only if nobody else holds the conversation.
pub async fn claim(w: &mut Writer<'_>, actor: &Actor, current: &Conversation) -> Result<Change> {
    if current.assignee_id == Some(actor.id()) {
        return Ok((Outcome::Conversation(current.clone()), None, StatusCode::OK, "Claimed (already theirs)".into()));
    }
    let won = store::conversations::claim(w.conn(), actor.ws(), current.id, actor.id()).await?;
    if !won {
        let holder = store::conversations::get(w.conn(), actor.ws(), current.id, None).await?.expect("exists");
        return Err(already_claimed(w.conn(), actor.ws(), &holder).await?);
    }
    updated(w, actor, current.id, UpdateCause::Claimed, "Claimed the conversation".into()).await
}

async fn already_claimed(conn: &mut store::Conn, ws: WorkspaceId, holder: &Conversation) -> Result<Error> {
    let name = match holder.assignee_id {
        Some(id) => store::people::user(conn, ws, id).await?.map(|u| u.name).unwrap_or_else(|| "Someone".into()),
        None => "Someone".into(),
    };
    let ago = holder.assigned_at.map(|t| (Utc::now() - t).num_seconds().max(0)).unwrap_or(0);
    let mut detail = ErrorDetail::new("already_claimed", format!("{name} claimed this {ago} s ago."));
    detail.assignee_id = holder.assignee_id;
    detail.claimed_at = holder.assigned_at;
    Ok(Error::Conflict(Box::new(detail)))
}

/// A team's name, or a 400 naming the field when there is no such team.
async fn team_name(conn: &mut store::Conn, ws: WorkspaceId, team_id: TeamId, field: &str) -> Result<String> {
    store::teams::name(conn, ws, team_id).await?.ok_or_else(|| Error::invalid(field, "No team has that id."))
}

pub async fn assign(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    assignee: Option<UserId>,
    team: Option<TeamId>,
) -> Result<Change> {
    let mut summary = match assignee {
        Some(id) => {
            let user = store::people::user(w.conn(), actor.ws(), id)
                .await?
                .ok_or_else(|| Error::invalid("assignee_id", "No user has that id."))?;
            if !user.active {
                return Err(Error::invalid(
                    "assignee_id",
                    format!("{} is deactivated: pick someone active.", user.name),
                ));
            }
            if user.role == Role::Viewer || user.kind == UserKind::ApiKey {
                return Err(Error::invalid(
                    "assignee_id",
                    format!(
                        "{} is a {} and cannot own conversations.",
                        user.name,
                        if user.kind == UserKind::ApiKey { "API key" } else { "Viewer" }
                    ),
                ));
            }
            format!("Assigned to {}", user.name)
        }
        None => "Unassigned".to_string(),
    };
    if let Some(team_id) = team {
        summary.push_str(&format!(" in {}", team_name(w.conn(), actor.ws(), team_id, "team_id").await?));
    }
    let team = team.or(current.team_id);
    if current.assignee_id == assignee && current.team_id == team {
        return Ok((Outcome::Conversation(current.clone()), None, StatusCode::OK, format!("{summary} (no change)")));
    }
    store::conversations::assign(w.conn(), actor.ws(), current.id, assignee, team).await?;
    updated(w, actor, current.id, UpdateCause::Assigned, summary).await
}

/// Into a team's queue (no owner) with a note on top for whoever picks it up. Escalated
/// conversations wait to be claimed: the escalating agent chose the team, its members choose who.
pub async fn escalate(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    team_id: TeamId,
    note: &str,
    mutation_id: Option<&str>,
) -> Result<Change> {
    let team = team_name(w.conn(), actor.ws(), team_id, "team_id").await?;
    store::conversations::escalate(w.conn(), actor.ws(), current.id, team_id).await?;
    let summary = format!("Escalated to {team}");
    updated(w, actor, current.id, UpdateCause::Escalated, summary.clone()).await?;
    routing::system_message(w, actor.ws(), current.id, &format!("{} escalated this to {team}.", actor.user.name))
        .await?;
    let escalated = store::conversations::get(w.conn(), actor.ws(), current.id, None).await?.expect("exists");
    let (message, _) = add_message(w, actor, &escalated, MessageKind::Note, note, mutation_id).await?;
    store::conversations::pin_note(w.conn(), actor.ws(), current.id, message.id).await?;
    let pinned = store::conversations::get(w.conn(), actor.ws(), current.id, None).await?.expect("exists");
    let cause = UpdateCause::Escalated;
    let seq = w
        .append(actor.ws(), EventBody::ConversationUpdated { conversation: pinned, actor_id: Some(actor.id()), cause })
        .await?;
    let seq = mention(w, actor, &message).await?.unwrap_or(seq);
    let mine = store::conversations::get(w.conn(), actor.ws(), current.id, Some(actor.id())).await?.expect("exists");
    Ok((Outcome::Conversation(mine), Some(seq), StatusCode::OK, summary))
}

pub async fn labels(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    add: &[String],
    remove: &[String],
) -> Result<Change> {
    let add: Vec<String> = add.iter().map(|l| normalize_label(l)).collect::<Result<_>>()?;
    let remove: Vec<String> = remove.iter().map(|l| normalize_label(l)).collect::<Result<_>>()?;
    let mut next: Vec<String> = current.labels.iter().filter(|l| !remove.contains(l)).cloned().collect();
    for l in &add {
        if !next.contains(l) {
            next.push(l.clone());
        }
    }
    next.sort();
    if next.len() > MAX_LABELS {
        return Err(Error::invalid("add", format!("A conversation carries at most {MAX_LABELS} labels.")));
    }
    let mut summary: Vec<String> = add.iter().map(|l| format!("+{l}")).collect();
    summary.extend(remove.iter().map(|l| format!("-{l}")));
    let summary = format!("Labels {}", summary.join(" "));
    if next == current.labels {
        return Ok((Outcome::Conversation(current.clone()), None, StatusCode::OK, format!("{summary} (no change)")));
    }
    store::conversations::set_labels(w.conn(), actor.ws(), current.id, &next).await?;
    updated(w, actor, current.id, UpdateCause::Labels, summary).await
}

pub async fn set_status(
    w: &mut Writer<'_>,
    actor: &Actor,
    current: &Conversation,
    status: ConversationStatus,
    snooze_until: Option<DateTime<Utc>>,
) -> Result<Change> {
    let snooze_until = (status == ConversationStatus::Snoozed).then_some(snooze_until).flatten();
    // Reopening a resolved conversation starts its SLA clocks again.
    let reopens = current.status == ConversationStatus::Resolved && status != ConversationStatus::Resolved;
    store::conversations::set_status(w.conn(), actor.ws(), current.id, status, snooze_until, reopens).await?;
    let summary = match snooze_until {
        Some(t) => format!("Snoozed until {}", t.format("%Y-%m-%d %H:%M UTC")),
        None if reopens => "Reopened".to_string(),
        None => format!("Set status to {}", status.as_str()),
    };
    updated(w, actor, current.id, UpdateCause::Status, summary).await
}

async fn updated(
    w: &mut Writer<'_>,
    actor: &Actor,
    id: ConversationId,
    cause: UpdateCause,
    summary: String,
) -> Result<Change> {
    let conversation = store::conversations::get(w.conn(), actor.ws(), id, None).await?.expect("exists");
    let seq = w
        .append(actor.ws(), EventBody::ConversationUpdated { conversation, actor_id: Some(actor.id()), cause })
        .await?;
    let mine = store::conversations::get(w.conn(), actor.ws(), id, Some(actor.id())).await?.expect("exists");
    Ok((Outcome::Conversation(mine), Some(seq), StatusCode::OK, summary))
}
