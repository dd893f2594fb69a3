//! Conversations: the queue's rows, with their contact, team deadlines, labels and unread count.

use chrono::{DateTime, Utc};
use handoff_proto::{
    Contact, ContactId, Conversation, ConversationId, ConversationStatus, DeviceId, MessageId, Role, TeamId, UserId,
    WorkspaceId,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::{opt_ts_col, opt_uuid_col, parse_uuid, uuid_col};
use super::sql::Sql;
use super::{parse_ts, Conn, DbResult, Dialect};

/// The conversation query with `$labels` joining its labels and `$unread` as its unread count,
/// over the table (or, given `$from`, a statement's `c`).
macro_rules! conversation_select {
    ($labels:expr, $unread:expr) => {
        conversation_select!($labels, $unread, "conversations c")
    };
    ($labels:expr, $unread:expr, $from:expr) => {
        concat!(
            "SELECT c.id, c.device_id, c.status, c.assignee_id, c.team_id, c.version, c.assigned_at, \
               c.last_message_at, c.last_message_preview, c.snooze_until, c.opened_at, c.first_response_at, \
               c.resolved_at, c.escalation_note_id, t.first_response_secs, t.resolution_secs, \
               (SELECT ",
            $labels,
            " FROM (SELECT label FROM conversation_labels WHERE conversation_id = c.id ORDER BY label) l) AS labels, \
               k.id AS contact_id, k.name AS contact_name, k.phone AS contact_phone, ",
            $unread,
            " AS unread_count FROM ",
            $from,
            " JOIN contacts k ON k.id = c.contact_id LEFT JOIN teams t ON t.id = c.team_id"
        )
    };
}

/// The labels, one per line, in each dialect.
macro_rules! labels {
    (Sqlite) => {
        "group_concat(label, char(10))"
    };
    (Postgres) => {
        "string_agg(label, chr(10))"
    };
}

/// The user whose unread count is wanted is `$1`, so a query's own parameters start at `$2`.
macro_rules! unread {
    () => {
        "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.kind = 'inbound' \
            AND m.created_at > COALESCE((SELECT r.read_at FROM reads r WHERE r.user_id = $1 AND r.conversation_id = c.id), ''))"
    };
}

/// Conversation columns with the unread count of the user bound to `$1` (see [`unread!`]).
pub fn select(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => conversation_select!(labels!(Sqlite), unread!()),
        Dialect::Postgres => conversation_select!(labels!(Postgres), unread!()),
    }
}

/// Conversation columns for no one in particular: the unread count is 0, and not counted (it
/// reads every message of the conversation: in a long one, the longest part of storing a message).
fn select_for_all(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => conversation_select!(labels!(Sqlite), "0"),
        Dialect::Postgres => conversation_select!(labels!(Postgres), "0"),
    }
}

pub fn from_row(row: &AnyRow) -> DbResult<Conversation> {
    let labels: Option<String> = row.try_get("labels")?;
    let opened_at = opt_ts_col(row, "opened_at")?;
    let due = |col: &str| -> DbResult<Option<chrono::DateTime<chrono::Utc>>> {
        let secs: Option<i64> = row.try_get(col)?;
        Ok(opened_at.zip(secs).map(|(at, secs)| at + chrono::Duration::seconds(secs)))
    };
    Ok(Conversation {
        id: uuid_col(row, "id")?,
        device_id: uuid_col(row, "device_id")?,
        contact: Contact {
            id: uuid_col(row, "contact_id")?,
            name: row.try_get("contact_name")?,
            phone: row.try_get("contact_phone")?,
        },
        status: row.try_get("status")?,
        assignee_id: opt_uuid_col(row, "assignee_id")?,
        team_id: opt_uuid_col(row, "team_id")?,
        version: row.try_get("version")?,
        last_message_at: parse_ts(&row.try_get::<String, _>("last_message_at")?)?,
        last_message_preview: row.try_get("last_message_preview")?,
        unread_count: row.try_get("unread_count")?,
        assigned_at: opt_ts_col(row, "assigned_at")?,
        labels: labels.map(|l| l.split('\n').map(str::to_string).collect()).unwrap_or_default(),
        snooze_until: opt_ts_col(row, "snooze_until")?,
        opened_at,
        first_response_at: opt_ts_col(row, "first_response_at")?,
        first_response_due_at: due("first_response_secs")?,
        resolution_due_at: due("resolution_secs")?,
        resolved_at: opt_ts_col(row, "resolved_at")?,
        escalation_note_id: opt_uuid_col(row, "escalation_note_id")?,
    })
}

/// A conversation as `viewer` sees it (with their unread count), or as an event carries it (`None`: 0 unread).
pub async fn get(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    viewer: Option<UserId>,
) -> DbResult<Option<Conversation>> {
    let row = match viewer {
        Some(viewer) => {
            let sql = format!("{} WHERE c.workspace_id = $2 AND c.id = $3", select(Dialect::of(conn)));
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(viewer).bind(ws).bind(id).fetch_optional(conn).await?
        }
        None => {
            let sql = format!("{} WHERE c.workspace_id = $1 AND c.id = $2", select_for_all(Dialect::of(conn)));
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).fetch_optional(conn).await?
        }
    };
    row.as_ref().map(from_row).transpose()
}

pub async fn exists(conn: &mut Conn, ws: WorkspaceId, id: ConversationId) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Counts a change the conversation's row does not show (a new message, a note): its version
/// goes up, so an app's stale copy is replaced.
pub async fn bump_version(conn: &mut Conn, ws: WorkspaceId, id: ConversationId) -> DbResult<()> {
    sqlx::query("UPDATE conversations SET version = version + 1 WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives a conversation its team and owner (routing). An owner starts its `assigned_at`; a
/// `queued` conversation keeps the time it joined its team's queue, any other leaves it.
pub async fn set_owner(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    team_id: Option<TeamId>,
    assignee: Option<UserId>,
    queued: bool,
) -> DbResult<()> {
    let now = super::ts(super::now());
    sqlx::query(
        "UPDATE conversations SET team_id = $1, assignee_id = $2, \
           assigned_at = CASE WHEN $3 IS NULL THEN NULL ELSE $4 END, \
           queued_at = CASE WHEN $5 THEN COALESCE(queued_at, $6) ELSE NULL END, version = version + 1 \
         WHERE workspace_id = $7 AND id = $8",
    )
    .bind(team_id)
    .bind(assignee)
    .bind(assignee)
    .bind(&now)
    .bind(queued)
    .bind(&now)
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The team's conversations that are not resolved (their SLA due times follow the team's targets).
pub async fn unresolved_of_team(conn: &mut Conn, ws: WorkspaceId, team_id: TeamId) -> DbResult<Vec<ConversationId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM conversations WHERE workspace_id = $1 AND team_id = $2 AND status != $3")
            .bind(ws)
            .bind(team_id)
            .bind(ConversationStatus::Resolved)
            .fetch_all(conn)
            .await?;
    ids.iter().map(|id| parse_uuid("id", id)).collect()
}

/// The device a conversation goes through and its customer's WhatsApp address.
pub async fn device_and_jid(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
) -> DbResult<Option<(DeviceId, String)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT c.device_id, k.jid FROM conversations c JOIN contacts k ON k.id = c.contact_id \
         WHERE c.workspace_id = $1 AND c.id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|(device, jid)| Ok((parse_uuid("device_id", &device)?, jid))).transpose()
}

/// The snoozed conversations whose snooze ends at `now` or before, soonest first, in every
/// workspace (each with its own).
pub async fn snooze_ended(conn: &mut Conn, now: DateTime<Utc>) -> DbResult<Vec<(WorkspaceId, ConversationId)>> {
    sqlx::query_as(
        "SELECT workspace_id, id FROM conversations WHERE status = $1 AND snooze_until <= $2 \
         ORDER BY snooze_until, id",
    )
    .bind(ConversationStatus::Snoozed)
    .bind(super::ts(now))
    .fetch_all(conn)
    .await
    .map_err(Into::into)
}

/// When the next snooze ends, if any conversation of any workspace is snoozed.
pub async fn next_snooze_end(conn: &mut Conn) -> DbResult<Option<DateTime<Utc>>> {
    let next: Option<String> = sqlx::query_scalar("SELECT MIN(snooze_until) FROM conversations WHERE status = $1")
        .bind(ConversationStatus::Snoozed)
        .fetch_one(conn)
        .await?;
    next.as_deref().map(parse_ts).transpose()
}

/// Ends a conversation's snooze: open again.
pub async fn wake(conn: &mut Conn, ws: WorkspaceId, id: ConversationId) -> DbResult<()> {
    sqlx::query(
        "UPDATE conversations SET status = $1, snooze_until = NULL, version = version + 1 \
         WHERE workspace_id = $2 AND id = $3",
    )
    .bind(ConversationStatus::Open)
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An agent's message in a conversation: its version goes up; a reply (not a note) also moves
/// it up the queue (at `at`, with `preview`) and is its first response.
pub async fn agent_wrote(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    reply: bool,
    at: DateTime<Utc>,
    preview: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE conversations SET version = version + 1, \
           last_message_at = CASE WHEN $1 THEN $2 ELSE last_message_at END, \
           last_message_preview = CASE WHEN $1 THEN $3 ELSE last_message_preview END, \
           first_response_at = CASE WHEN $1 THEN COALESCE(first_response_at, $2) ELSE first_response_at END \
         WHERE workspace_id = $4 AND id = $5",
    )
    .bind(reply)
    .bind(super::ts(at))
    .bind(preview)
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives an unowned conversation to `user`; `false` when someone owns it already.
pub async fn claim(conn: &mut Conn, ws: WorkspaceId, id: ConversationId, user: UserId) -> DbResult<bool> {
    let won = sqlx::query(
        "UPDATE conversations SET assignee_id = $1, assigned_at = $2, queued_at = NULL, version = version + 1 \
         WHERE workspace_id = $3 AND id = $4 AND assignee_id IS NULL",
    )
    .bind(user)
    .bind(super::ts(super::now()))
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(won.rows_affected() == 1)
}

/// Sets a conversation's owner and team by hand (out of any queue).
pub async fn assign(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    assignee: Option<UserId>,
    team: Option<TeamId>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE conversations SET assignee_id = $1, assigned_at = $2, team_id = $3, queued_at = NULL, \
           version = version + 1 WHERE workspace_id = $4 AND id = $5",
    )
    .bind(assignee)
    .bind(assignee.map(|_| super::ts(super::now())))
    .bind(team)
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Escalates a conversation to a team: open, without an owner, waiting to be claimed.
pub async fn escalate(conn: &mut Conn, ws: WorkspaceId, id: ConversationId, team_id: TeamId) -> DbResult<()> {
    sqlx::query(
        "UPDATE conversations SET team_id = $1, assignee_id = NULL, assigned_at = NULL, queued_at = NULL, \
           status = $2, snooze_until = NULL, resolved_at = NULL, \
           version = version + 1 WHERE workspace_id = $3 AND id = $4",
    )
    .bind(team_id)
    .bind(ConversationStatus::Open)
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Pins a note on top of the conversation (the escalation note).
pub async fn pin_note(conn: &mut Conn, ws: WorkspaceId, id: ConversationId, note_id: MessageId) -> DbResult<()> {
    sqlx::query(
        "UPDATE conversations SET escalation_note_id = $1, version = version + 1 WHERE workspace_id = $2 AND id = $3",
    )
    .bind(note_id)
    .bind(ws)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a conversation's labels.
pub async fn set_labels(conn: &mut Conn, ws: WorkspaceId, id: ConversationId, labels: &[String]) -> DbResult<()> {
    if !exists(&mut *conn, ws, id).await? {
        return Ok(());
    }
    sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    for label in labels {
        sqlx::query("INSERT INTO conversation_labels (conversation_id, label) VALUES ($1, $2)")
            .bind(id.to_string())
            .bind(label)
            .execute(&mut *conn)
            .await?;
    }
    bump_version(conn, ws, id).await
}

/// Sets a conversation's status (`snooze_until` for a snoozed one). Leaving `open` leaves the
/// team queue; `reopens` (a resolved conversation opened again) starts its SLA clocks again;
/// resolving unpins its escalation note.
pub async fn set_status(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    status: ConversationStatus,
    snooze_until: Option<DateTime<Utc>>,
    reopens: bool,
) -> DbResult<()> {
    let now = super::ts(super::now());
    sqlx::query(
        "UPDATE conversations SET status = $1, snooze_until = $2, version = version + 1, \
           queued_at = CASE WHEN $6 THEN queued_at ELSE NULL END, \
           opened_at = CASE WHEN $3 THEN $4 ELSE opened_at END, \
           first_response_at = CASE WHEN $3 THEN NULL ELSE first_response_at END, \
           resolved_at = CASE WHEN $7 THEN COALESCE(resolved_at, $4) ELSE NULL END, \
           escalation_note_id = CASE WHEN $7 THEN NULL ELSE escalation_note_id END \
         WHERE id = $5 AND workspace_id = $8",
    )
    .bind(status)
    .bind(snooze_until.map(super::ts))
    .bind(reopens)
    .bind(now)
    .bind(id)
    .bind(status == ConversationStatus::Open)
    .bind(status == ConversationStatus::Resolved)
    .bind(ws)
    .execute(conn)
    .await?;
    Ok(())
}

/// How far the team (anyone but Viewers) has read a conversation: the latest of their reads, as
/// stored, if anyone has.
pub async fn team_read_up_to(conn: &mut Conn, ws: WorkspaceId, id: ConversationId) -> DbResult<Option<String>> {
    sqlx::query_scalar(
        "SELECT MAX(r.read_at) FROM reads r \
           JOIN memberships m ON m.user_id = r.user_id AND m.workspace_id = $1 \
           JOIN conversations c ON c.id = r.conversation_id AND c.workspace_id = $1 \
         WHERE r.conversation_id = $2 AND m.role != $3",
    )
    .bind(ws)
    .bind(id)
    .bind(Role::Viewer)
    .fetch_one(conn)
    .await
    .map_err(Into::into)
}

/// Records how far `user` has read a conversation.
pub async fn set_read(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    user: UserId,
    read_at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO reads (user_id, conversation_id, read_at) \
         SELECT $1, id, $3 FROM conversations WHERE workspace_id = $4 AND id = $2 \
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET read_at = excluded.read_at",
    )
    .bind(user)
    .bind(id)
    .bind(super::ts(read_at))
    .bind(ws)
    .execute(conn)
    .await?;
    Ok(())
}

/// A contact's conversation (each contact has at most one).
pub async fn of_contact(conn: &mut Conn, contact_id: ContactId) -> DbResult<Option<ConversationId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM conversations WHERE contact_id = $1")
        .bind(contact_id.to_string())
        .fetch_optional(conn)
        .await?;
    id.map(|id| parse_uuid("id", &id)).transpose()
}

/// A new, open conversation with a contact, opened `at`.
pub async fn insert(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    device_id: DeviceId,
    contact_id: ContactId,
    at: DateTime<Utc>,
) -> DbResult<()> {
    let at = super::ts(at);
    sqlx::query(
        "INSERT INTO conversations (id, device_id, contact_id, status, version, last_message_at, last_message_preview, \
           created_at, opened_at, workspace_id) VALUES ($1, $2, $3, $5, 0, $4, '', $4, $4, $6)",
    )
    .bind(id)
    .bind(device_id)
    .bind(contact_id)
    .bind(at)
    .bind(ConversationStatus::Open)
    .bind(ws)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn status(conn: &mut Conn, ws: WorkspaceId, id: ConversationId) -> DbResult<ConversationStatus> {
    Ok(sqlx::query_scalar("SELECT status FROM conversations WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .fetch_one(conn)
        .await?)
}

/// What a message from the chat does to its conversation (the `SET` of [`chat_wrote`], and of
/// [`POSTGRES_STORE_FROM_CHAT`]'s update), with the placeholders each statement binds: the
/// message's time, the preview, whether it reopens, whether it is the customer's, whether the SLA
/// clocks start again, and the open status.
macro_rules! chat_wrote_set {
    ($at:literal, $preview:literal, $reopens:literal, $inbound:literal, $restart_sla:literal, $open:literal) => {
        concat!(
            "version = version + 1, last_message_at = ",
            $at,
            ", last_message_preview = ",
            $preview,
            ", \
             status = CASE WHEN ",
            $reopens,
            " THEN ",
            $open,
            " ELSE status END, \
             resolved_at = CASE WHEN ",
            $reopens,
            " THEN NULL ELSE resolved_at END, \
             snooze_until = CASE WHEN ",
            $inbound,
            " THEN NULL ELSE snooze_until END, \
             opened_at = CASE WHEN ",
            $restart_sla,
            " THEN ",
            $at,
            " ELSE opened_at END, \
             first_response_at = CASE WHEN ",
            $restart_sla,
            " THEN NULL WHEN ",
            $inbound,
            " THEN first_response_at \
                                      ELSE COALESCE(first_response_at, ",
            $at,
            ") END"
        )
    };
}

/// On PostgreSQL: a customer's message stored and its conversation moved on and read back, in
/// one statement ([`super::messages::store_from_chat`], which binds the values): the message's
/// insert (`$1`-`$11`, its workspace `$17`) and [`chat_wrote`]'s update (`$12`-`$16`,
/// its time being the message's `$6` and its conversation `$2`) as data-modifying CTEs, the read
/// over the updated row.
pub(super) const POSTGRES_STORE_FROM_CHAT: &str = concat!(
    "WITH m AS (INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at, delivery, wa_message_id, \
       media, sender, media_locator, workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $17)), \
     c AS (UPDATE conversations SET ",
    chat_wrote_set!("$6", "$12", "$13", "$14", "$15", "$16"),
    " WHERE id = $2 AND workspace_id = $17 RETURNING *) ",
    conversation_select!(labels!(Postgres), "0", "c")
);

/// A message from the chat, at `at` (`inbound`: the customer's; else one typed on the phone):
/// it leads the queue row. A customer's message `reopens` a resolved or snoozed conversation
/// and ends a snooze; `restart_sla` (after resolved) starts the SLA clocks again. A message
/// typed on the phone is a first response.
pub async fn chat_wrote(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: ConversationId,
    at: DateTime<Utc>,
    moves: &super::messages::Moves<'_>,
) -> DbResult<()> {
    let super::messages::Moves { preview, inbound, reopens, restart_sla } = *moves;
    sqlx::query(concat!(
        "UPDATE conversations SET ",
        chat_wrote_set!("$1", "$2", "$3", "$4", "$5", "$7"),
        " WHERE id = $6 AND workspace_id = $8"
    ))
    .bind(super::ts(at))
    .bind(preview)
    .bind(reopens)
    .bind(inbound)
    .bind(restart_sla)
    .bind(id)
    .bind(ConversationStatus::Open)
    .bind(ws)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whose conversations a list shows.
pub enum Owner {
    Nobody,
    User(UserId),
}

/// What a queue list is narrowed to; every condition given must hold.
#[derive(Default)]
pub struct Filter {
    pub status: Option<ConversationStatus>,
    pub owner: Option<Owner>,
    pub team: Option<TeamId>,
    /// A label, normalised.
    pub label: Option<String>,
    /// Words in the contact's name or phone or the last message (a substring, case-insensitive).
    pub text: Option<String>,
}

/// The queue as `viewer` sees it, newest activity first, at most `limit`; with `before` (a
/// conversation's `last_message_at` as stored, and its id), only those that come after it.
pub async fn list(
    conn: &mut Conn,
    ws: WorkspaceId,
    viewer: UserId,
    filter: &Filter,
    before: Option<(&str, &str)>,
    limit: i64,
) -> DbResult<Vec<Conversation>> {
    // SELECT's one parameter ($1) is the viewer (their unread count).
    let mut q = Sql::new(select(Dialect::of(conn)));
    q.value(viewer.to_string());
    q.push(" WHERE c.workspace_id = ").bind(ws);
    if let Some(status) = filter.status {
        q.push(" AND c.status = ").bind(status);
    }
    match &filter.owner {
        None => {}
        Some(Owner::Nobody) => {
            q.push(" AND c.assignee_id IS NULL");
        }
        Some(Owner::User(id)) => {
            q.push(" AND c.assignee_id = ").bind(id.to_string());
        }
    }
    if let Some(team) = filter.team {
        q.push(" AND c.team_id = ").bind(team.to_string());
    }
    if let Some(label) = &filter.label {
        q.push(" AND EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id AND l.label = ")
            .bind(label.clone())
            .push(")");
    }
    if let Some(text) = &filter.text {
        // Case-insensitive on both backends (PostgreSQL's LIKE is not): both sides lowered.
        let like = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        q.push(" AND (lower(k.name) LIKE lower(").bind(like.clone());
        q.push(") ESCAPE '\\' OR lower(k.phone) LIKE lower(").bind(like.clone());
        q.push(") ESCAPE '\\' OR lower(c.last_message_preview) LIKE lower(").bind(like).push(") ESCAPE '\\')");
    }
    if let Some((at, id)) = before {
        q.push(" AND (c.last_message_at, c.id) < (").bind(at.to_string());
        q.push(", ").bind(id.to_string()).push(")");
    }
    q.push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ").bind(limit);
    let rows = q.query()?.fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}
