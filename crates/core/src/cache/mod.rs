//! The local SQLite cache: the server's state as far as the event log has been applied, plus
//! optimistic rows for changes still in the outbox.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use handoff_proto::{
    sortable_time as ts, Contact, Conversation, ConversationId, Device, DeviceId, DeviceStatus, Event, EventBody,
    Message, MessageId, MessageKind, Seq, Team, TeamId, User, UserId,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::types::{InboxView, Thread, ThreadMessage, ViewCounts};

mod bulk;
pub mod file;
mod rows;

pub use bulk::SearchBacklog;
pub use file::CacheKey;
pub(crate) use rows::insert_message;
use rows::{upsert_conversation, Run};

pub type DbResult<T> = Result<T, sqlx::Error>;

#[derive(Clone)]
pub struct Cache {
    pool: SqlitePool,
}

/// What applying a batch of events touched, so the UI re-reads only that.
#[derive(Default, Debug)]
pub struct Touched {
    pub inbox: bool,
    pub directory: bool,
    pub conversations: Vec<ConversationId>,
    /// Live news (not replayed while catching up): notes that mention me (conversation, message).
    pub mentions: Vec<(ConversationId, MessageId)>,
    /// Live news: conversations that became mine by someone else's hand (conversation, by whom).
    pub assigned_to_me: Vec<(ConversationId, Option<UserId>)>,
    /// Live news: customer messages in my conversations (conversation, message).
    pub customer_messages: Vec<(ConversationId, MessageId)>,
    /// Live news: linked numbers that were connected and are not any more.
    pub devices_down: Vec<DeviceId>,
    /// Live news: outbound webhooks the server paused after a day of failures (id, host).
    pub webhooks_paused: Vec<(handoff_proto::WebhookId, String)>,
    /// The saved replies this person sees changed: read them again from the server.
    pub saved_replies: bool,
    /// Rows were erased or purged: the write-ahead log is emptied after the commit, so that no
    /// copy of them stays in the cache's files.
    pub forgotten: bool,
    /// Whether the event being applied is live (set per event).
    live: bool,
    seen: HashSet<ConversationId>,
}

impl Touched {
    fn conversation(&mut self, id: ConversationId) {
        if self.seen.insert(id) {
            self.conversations.push(id);
        }
    }
}

fn decode<E: std::error::Error + Send + Sync + 'static>(e: E) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

pub(crate) fn uuid<T: From<Uuid>>(row: &SqliteRow, col: &str) -> DbResult<T> {
    Uuid::parse_str(&row.try_get::<String, _>(col)?).map(T::from).map_err(decode)
}

pub(crate) fn opt_uuid<T: From<Uuid>>(row: &SqliteRow, col: &str) -> DbResult<Option<T>> {
    row.try_get::<Option<String>, _>(col)?.map(|s| Uuid::parse_str(&s).map(T::from).map_err(decode)).transpose()
}

pub(crate) fn time(row: &SqliteRow, col: &str) -> DbResult<DateTime<Utc>> {
    let s: String = row.try_get(col)?;
    DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(decode)
}

fn opt_time(row: &SqliteRow, col: &str) -> DbResult<Option<DateTime<Utc>>> {
    row.try_get::<Option<String>, _>(col)?.map(|_| time(row, col)).transpose()
}

pub(crate) const CONVERSATION_SELECT: &str = "\
SELECT c.*, \
  (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.kind = 'inbound' \
     AND m.created_at > COALESCE((SELECT r.read_at FROM reads r WHERE r.conversation_id = c.id), '')) AS unread_count \
FROM conversations c";

pub(crate) fn conversation_from_row(row: &SqliteRow) -> DbResult<Conversation> {
    Ok(Conversation {
        id: uuid(row, "id")?,
        device_id: uuid(row, "device_id")?,
        contact: Contact {
            id: uuid(row, "contact_id")?,
            name: row.try_get("contact_name")?,
            phone: row.try_get("contact_phone")?,
        },
        status: row.try_get("status")?,
        assignee_id: opt_uuid(row, "assignee_id")?,
        team_id: opt_uuid(row, "team_id")?,
        version: row.try_get("version")?,
        last_message_at: time(row, "last_message_at")?,
        last_message_preview: row.try_get("last_message_preview")?,
        unread_count: row.try_get("unread_count")?,
        assigned_at: opt_time(row, "assigned_at")?,
        labels: row.try_get::<String, _>("labels")?.split('\n').filter(|l| !l.is_empty()).map(str::to_string).collect(),
        snooze_until: opt_time(row, "snooze_until")?,
        opened_at: opt_time(row, "opened_at")?,
        first_response_at: opt_time(row, "first_response_at")?,
        first_response_due_at: opt_time(row, "first_response_due_at")?,
        resolution_due_at: opt_time(row, "resolution_due_at")?,
        resolved_at: opt_time(row, "resolved_at")?,
        escalation_note_id: opt_uuid(row, "escalation_note_id")?,
    })
}

fn message_from_row(row: &SqliteRow) -> DbResult<ThreadMessage> {
    Ok(ThreadMessage {
        message: Message {
            id: uuid(row, "id")?,
            conversation_id: uuid(row, "conversation_id")?,
            kind: row.try_get("kind")?,
            body: row.try_get("body")?,
            author_id: opt_uuid(row, "author_id")?,
            created_at: time(row, "created_at")?,
            delivery: row.try_get("delivery")?,
            wa_message_id: row.try_get("wa_message_id")?,
            mutation_id: opt_uuid(row, "mutation_id")?,
            failure: row.try_get("failure")?,
            sender: row.try_get("sender")?,
            media: row
                .try_get::<Option<String>, _>("media")?
                .map(|m| serde_json::from_str(&m).map_err(decode))
                .transpose()?,
        },
        queued: row.try_get::<i64, _>("queued")? != 0,
        saved_to: row.try_get("saved_to")?,
    })
}

impl Cache {
    /// Opens (or creates) the cache at `path`, encrypted with `key` (a plain cache there is
    /// encrypted first; one the key does not open starts again: [`file`]). Without a key it is a
    /// plain SQLite file, as tests and the benchmark's baseline use it.
    pub async fn open(path: &Path, key: Option<&CacheKey>) -> Result<Cache, sqlx::Error> {
        let pool = file::open_pool(path, key).await?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
        let cache = Cache { pool };
        // A first sync cut short by a crash: finish its import now, so threads have their index
        // whether or not the server is reachable (catch-up then goes on the ordinary way).
        cache.end_bulk().await?;
        Ok(cache)
    }

    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`): a deferred
    /// one that reads first cannot become a writer once another connection has written since,
    /// and SQLite answers that with "database is locked" at once instead of waiting.
    pub async fn write(&self) -> DbResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn meta(&self, key: &str) -> DbResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(&self.pool).await
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> DbResult<()> {
        set_meta(&mut *self.pool.acquire().await?, key, value).await
    }

    pub async fn last_seq(&self) -> DbResult<Seq> {
        Ok(self.meta("last_seq").await?.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Forgets everything the server told us (a new epoch, or another server or user).
    /// The outbox and the "Needs attention" list are kept unless `outbox` is true.
    pub async fn wipe(&self, outbox: bool) -> DbResult<()> {
        let mut tx = self.write().await?;
        for table in ["users", "devices", "conversations", "reads", "teams", "mentions", "saved_replies"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM messages WHERE pending = 0").execute(&mut *tx).await?;
        if outbox {
            // Another account: its queued changes, refused changes and drafts go too.
            for table in ["outbox", "messages", "attention", "saved_files", "drafts"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM meta WHERE key IN ('last_seq', 'epoch')").execute(&mut *tx).await?;
        Cache::close_gap_now(&mut tx).await?;
        tx.commit().await?;
        self.checkpoint().await
    }

    /// Writes the write-ahead log into the database file and empties it: after rows are deleted
    /// for good, no earlier copy of their pages stays in the log.
    pub async fn checkpoint(&self) -> DbResult<()> {
        // A reader in the middle of a read holds the log: the checkpoint waits for it (the busy
        // timeout), then says "busy", which is not an error: said, and done at the next one.
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await?;
        if busy != 0 {
            tracing::warn!("the cache's write-ahead log could not be emptied now (a reader held it)");
        }
        Ok(())
    }

    /// Applies events in one transaction and moves `last_seq` to the last one.
    /// Events at or below `last_seq` are skipped: applying twice changes nothing.
    pub async fn apply_events(&self, events: &[Event], me: UserId) -> DbResult<Touched> {
        self.apply_events_since(events, me, 0).await
    }

    /// As [`Cache::apply_events`]; events after `live_after` also count as news for notifications
    /// (the ones before were replayed from the log while catching up).
    pub async fn apply_events_since(&self, events: &[Event], me: UserId, live_after: Seq) -> DbResult<Touched> {
        let mut touched = Touched::default();
        let mut tx = self.write().await?;
        let last: Seq = sqlx::query_scalar("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_seq'")
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
        let mut head = last;
        let mut run = Run::default();
        for event in events.iter().filter(|e| e.seq > last) {
            touched.live = event.seq > live_after;
            apply_one(&mut tx, &mut run, event, me, &mut touched).await?;
            head = head.max(event.seq);
        }
        run.write(&mut tx).await?;
        set_meta(&mut tx, "last_seq", &head.to_string()).await?;
        tx.commit().await?;
        if touched.forgotten {
            self.checkpoint().await?;
        }
        Ok(touched)
    }

    /// A slice of the queue, newest activity first. `team` is the team of [`InboxView::Team`];
    /// `label` narrows any view to conversations carrying it.
    pub async fn inbox(
        &self,
        view: InboxView,
        me: UserId,
        team: Option<TeamId>,
        label: Option<&str>,
        limit: i64,
    ) -> DbResult<Vec<Conversation>> {
        let active = "c.status NOT IN ('resolved', 'snoozed')";
        let filter = match view {
            InboxView::Mine => format!("c.assignee_id = ?1 AND {active}"),
            InboxView::Unassigned => format!("c.assignee_id IS NULL AND {active}"),
            InboxView::All => "1 = 1".to_string(),
            InboxView::Team => format!("c.team_id = ?2 AND {active}"),
            InboxView::Mentions => "c.id IN (SELECT conversation_id FROM mentions)".to_string(),
            InboxView::Snoozed => "c.status = 'snoozed'".to_string(),
            InboxView::Resolved => "c.status = 'resolved'".to_string(),
        };
        // Labels are stored newline-joined: match a whole line.
        let sql = format!(
            "{CONVERSATION_SELECT} WHERE {filter} AND ?1 IS NOT NULL \
               AND (?3 IS NULL OR instr(char(10) || c.labels || char(10), char(10) || ?3 || char(10)) > 0) \
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(me.to_string())
            .bind(team.map(|t| t.to_string()))
            .bind(label.map(|l| l.trim().to_lowercase()))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(conversation_from_row).collect()
    }

    pub async fn conversation(&self, id: ConversationId) -> DbResult<Option<Conversation>> {
        let sql = format!("{CONVERSATION_SELECT} WHERE c.id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// The whole thread, oldest first.
    pub async fn thread(&self, id: ConversationId) -> DbResult<Option<Thread>> {
        self.thread_page(id, i64::MAX, None).await
    }

    /// The newest part of a thread, oldest first: its newest `newest` messages, or, when `from`
    /// is one of its messages, every message from that one on if they are more. A view that
    /// keeps `from` at the oldest message it shows keeps showing it as new messages arrive.
    pub async fn thread_page(
        &self,
        id: ConversationId,
        newest: i64,
        from: Option<MessageId>,
    ) -> DbResult<Option<Thread>> {
        let Some(conversation) = self.conversation(id).await? else { return Ok(None) };
        let mut conn = self.pool.acquire().await?;
        let (total, since_from): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE (m.created_at, m.id) >= (f.created_at, f.id)) \
             FROM messages m LEFT JOIN (SELECT created_at, id FROM messages WHERE id = ?2 AND conversation_id = ?1) f \
             WHERE m.conversation_id = ?1",
        )
        .bind(id.to_string())
        .bind(from.map(|f| f.to_string()))
        .fetch_one(&mut *conn)
        .await?;
        let limit = newest.max(since_from).max(1);
        let columns = "m.*, (m.pending = 1 OR EXISTS (SELECT 1 FROM outbox o WHERE o.mutation_id = m.id)) AS queued, \
                       s.path AS saved_to FROM messages m LEFT JOIN saved_files s ON s.message_id = m.id";
        // Newest first through the (conversation, created_at, id) index, then put back in order.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM (SELECT {columns} WHERE m.conversation_id = ? ORDER BY m.created_at DESC, m.id DESC LIMIT ?) \
             ORDER BY created_at, id"
        )))
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let messages = rows.iter().map(message_from_row).collect::<DbResult<Vec<_>>>()?;
        let escalation_note = match conversation.escalation_note_id {
            None => None,
            Some(note) => match messages.iter().find(|m| m.message.id == note) {
                Some(shown) => Some(shown.clone()),
                None => sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {columns} WHERE m.id = ?")))
                    .bind(note.to_string())
                    .fetch_optional(&mut *conn)
                    .await?
                    .as_ref()
                    .map(message_from_row)
                    .transpose()?,
            },
        };
        let last_inbound =
            sqlx::query("SELECT MAX(created_at) AS at FROM messages WHERE conversation_id = ? AND kind = 'inbound'")
                .bind(id.to_string())
                .fetch_one(&mut *conn)
                .await?;
        Ok(Some(Thread {
            conversation,
            earlier: (total - messages.len() as i64).max(0) as u32,
            messages,
            escalation_note,
            last_inbound_at: opt_time(&last_inbound, "at")?,
        }))
    }

    pub async fn users(&self) -> DbResult<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name COLLATE NOCASE").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    id: uuid(r, "id")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    role: r.try_get("role")?,
                    active: r.try_get("active")?,
                    kind: r.try_get("kind")?,
                    must_change_password: r.try_get("must_change_password")?,
                })
            })
            .collect()
    }

    pub async fn devices(&self) -> DbResult<Vec<Device>> {
        let rows = sqlx::query("SELECT * FROM devices ORDER BY name COLLATE NOCASE").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Device {
                    id: uuid(r, "id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    phone: r.try_get("phone")?,
                    last_seen_at: opt_time(r, "last_seen_at")?,
                })
            })
            .collect()
    }

    pub async fn counts(&self, me: UserId) -> DbResult<ViewCounts> {
        let active = "status NOT IN ('resolved', 'snoozed')";
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT \
               COUNT(*) FILTER (WHERE assignee_id = ?1 AND {active}) AS mine, \
               COUNT(*) FILTER (WHERE assignee_id IS NULL AND {active}) AS unassigned, \
               COUNT(*) AS all_, \
               COUNT(*) FILTER (WHERE id IN (SELECT conversation_id FROM mentions)) AS mentions, \
               COUNT(*) FILTER (WHERE status = 'snoozed') AS snoozed, \
               COUNT(*) FILTER (WHERE status = 'resolved') AS resolved \
             FROM conversations"
        )))
        .bind(me.to_string())
        .fetch_one(&self.pool)
        .await?;
        let teams: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT team_id, COUNT(*) FROM conversations WHERE team_id IS NOT NULL AND {active} GROUP BY team_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        let n = |col: &str| -> DbResult<u32> { Ok(row.try_get::<i64, _>(col)? as u32) };
        Ok(ViewCounts {
            mine: n("mine")?,
            unassigned: n("unassigned")?,
            all: n("all_")?,
            mentions: n("mentions")?,
            snoozed: n("snoozed")?,
            resolved: n("resolved")?,
            teams: teams
                .into_iter()
                .filter_map(|(id, count)| TeamId::parse_str(&id).ok().map(|id| (id, count as u32)))
                .collect(),
        })
    }

    pub async fn labels(&self) -> DbResult<Vec<String>> {
        let joined: Vec<String> = sqlx::query_scalar("SELECT DISTINCT labels FROM conversations WHERE labels != ''")
            .fetch_all(&self.pool)
            .await?;
        let mut labels: Vec<String> =
            joined.iter().flat_map(|j| j.split('\n')).filter(|l| !l.is_empty()).map(str::to_string).collect();
        labels.sort();
        labels.dedup();
        Ok(labels)
    }

    pub async fn teams(&self) -> DbResult<Vec<Team>> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM teams ORDER BY name COLLATE NOCASE").fetch_all(&self.pool).await?;
        bodies.iter().map(|b| serde_json::from_str(b).map_err(decode)).collect()
    }

    /// Writes the server's current copy of a conversation (after a rejected change).
    pub async fn put_conversation(&self, c: &Conversation) -> DbResult<()> {
        upsert_conversation(&mut *self.pool.acquire().await?, c).await
    }
}

async fn set_meta(conn: &mut SqliteConnection, key: &str, value: &str) -> DbResult<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies one event. Runs of message events (most of any log) collect in `run` and are written
/// as multi-row statements; any other event first writes the run so far, so effects keep their order.
async fn apply_one<'a>(
    conn: &mut SqliteConnection,
    run: &mut Run<'a>,
    event: &'a Event,
    me: UserId,
    touched: &mut Touched,
) -> DbResult<()> {
    match &event.body {
        EventBody::MessageCreated { message, conversation } => {
            run.message(message);
            run.conversation(conversation);
            touched.inbox = true;
            touched.conversation(conversation.id);
            if touched.live && message.kind == MessageKind::Inbound && conversation.assignee_id == Some(me) {
                touched.customer_messages.push((conversation.id, message.id));
            }
            return Ok(());
        }
        EventBody::MessageUpdated { message } => {
            run.message(message);
            touched.conversation(message.conversation_id);
            return Ok(());
        }
        // Nothing to apply: and no reason to write the run of messages so far (a first sync
        // after the retention period reads many of these between its messages).
        EventBody::Redacted => return Ok(()),
        // The library's or mine: read again from the server (no text travels in the log).
        EventBody::SavedRepliesChanged { owner_id } => {
            if owner_id.is_none_or(|o| o == me) {
                touched.saved_replies = true;
            }
            return Ok(());
        }
        // Nothing is kept: an Admin is told (live only), the Admin screen reads the rest.
        EventBody::WebhookPaused { webhook_id, host } => {
            if touched.live {
                touched.webhooks_paused.push((*webhook_id, host.clone()));
            }
            return Ok(());
        }
        _ => run.write(conn).await?,
    }
    match &event.body {
        EventBody::MessageCreated { .. } | EventBody::MessageUpdated { .. } => {}
        EventBody::ConversationUpdated { conversation, actor_id, .. } => {
            let before: Option<Option<String>> =
                sqlx::query_scalar("SELECT assignee_id FROM conversations WHERE id = ?")
                    .bind(conversation.id.to_string())
                    .fetch_optional(&mut *conn)
                    .await?;
            let was_mine = before.flatten() == Some(me.to_string());
            upsert_conversation(conn, conversation).await?;
            touched.inbox = true;
            touched.conversation(conversation.id);
            if touched.live && conversation.assignee_id == Some(me) && !was_mine && *actor_id != Some(me) {
                touched.assigned_to_me.push((conversation.id, *actor_id));
            }
        }
        EventBody::ConversationMerged { from, conversation } => {
            // One customer after all: the other conversation's messages join this one.
            let from = from.to_string();
            sqlx::query("UPDATE messages SET conversation_id = ? WHERE conversation_id = ?")
                .bind(conversation.id.to_string())
                .bind(&from)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM reads WHERE conversation_id = ?").bind(&from).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM conversations WHERE id = ?").bind(&from).execute(&mut *conn).await?;
            upsert_conversation(conn, conversation).await?;
            touched.inbox = true;
            touched.conversation(conversation.id);
        }
        EventBody::ConversationRead { conversation_id, user_id, read_at } => {
            if *user_id == me {
                sqlx::query(
                    "INSERT INTO reads (conversation_id, read_at) VALUES (?, ?) \
                     ON CONFLICT (conversation_id) DO UPDATE SET read_at = MAX(read_at, excluded.read_at)",
                )
                .bind(conversation_id.to_string())
                .bind(ts(*read_at))
                .execute(&mut *conn)
                .await?;
                touched.inbox = true;
                touched.conversation(*conversation_id);
            }
        }
        EventBody::DeviceUpdated { device } => {
            let was: Option<String> = sqlx::query_scalar("SELECT status FROM devices WHERE id = ?")
                .bind(device.id.to_string())
                .fetch_optional(&mut *conn)
                .await?;
            if touched.live && was.as_deref() == Some("connected") && device.status != DeviceStatus::Connected {
                touched.devices_down.push(device.id);
            }
            sqlx::query("INSERT OR REPLACE INTO devices (id, name, kind, status, phone, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(device.id.to_string())
                .bind(&device.name)
                .bind(device.kind)
                .bind(device.status)
                .bind(&device.phone)
                .bind(device.last_seen_at.map(ts))
                .execute(&mut *conn)
                .await?;
            touched.directory = true;
        }
        EventBody::DeviceRemoved { device_id } => {
            let id = device_id.to_string();
            sqlx::query(
                "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE device_id = ?)",
            )
            .bind(&id)
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM conversations WHERE device_id = ?").bind(&id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM devices WHERE id = ?").bind(&id).execute(&mut *conn).await?;
            touched.directory = true;
            touched.inbox = true;
        }
        EventBody::UserUpdated { user } => {
            sqlx::query(
                "INSERT OR REPLACE INTO users (id, email, name, role, active, kind, must_change_password) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.to_string())
            .bind(&user.email)
            .bind(&user.name)
            .bind(user.role)
            .bind(user.active)
            .bind(user.kind)
            .bind(user.must_change_password)
            .execute(&mut *conn)
            .await?;
            touched.directory = true;
        }
        EventBody::TeamUpdated { team } => {
            sqlx::query("INSERT OR REPLACE INTO teams (id, name, body) VALUES (?, ?, ?)")
                .bind(team.id.to_string())
                .bind(&team.name)
                .bind(serde_json::to_string(team).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
                .execute(&mut *conn)
                .await?;
            touched.directory = true;
        }
        EventBody::ContactErased { conversation_ids, .. } => {
            // Everything about them: rows, search entries (the triggers), what I was writing
            // to them and what waits to be sent.
            for id in conversation_ids {
                let id = id.to_string();
                sqlx::query(
                    "DELETE FROM saved_files WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = ?)",
                )
                .bind(&id)
                .execute(&mut *conn)
                .await?;
                for table in ["messages", "reads", "mentions", "drafts", "attention", "outbox"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE conversation_id = ?")))
                        .bind(&id)
                        .execute(&mut *conn)
                        .await?;
                }
                sqlx::query("DELETE FROM conversations WHERE id = ?").bind(&id).execute(&mut *conn).await?;
            }
            for id in conversation_ids {
                touched.conversation(*id);
            }
            touched.inbox = true;
            touched.forgotten = true;
        }
        EventBody::MessagesPurged { before, device_id } => {
            let (before, device) = (ts(*before), device_id.map(|d| d.to_string()));
            const PURGED: &str =
                "SELECT id FROM messages WHERE pending = 0 AND created_at < ?1 AND conversation_id IN \
                 (SELECT id FROM conversations WHERE ?2 IS NULL OR device_id = ?2)";
            // The threads that lose messages are read again; what points at those messages goes
            // first, then the messages.
            let threads: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT conversation_id FROM messages WHERE id IN ({PURGED})"
            )))
            .bind(&before)
            .bind(&device)
            .fetch_all(&mut *conn)
            .await?;
            for id in threads.iter().filter_map(|id| ConversationId::parse_str(id).ok()) {
                touched.conversation(id);
            }
            for table in ["mentions", "saved_files"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE message_id IN ({PURGED})")))
                    .bind(&before)
                    .bind(&device)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM messages WHERE id IN ({PURGED})")))
                .bind(&before)
                .bind(&device)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "UPDATE conversations SET last_message_preview = '' \
                 WHERE last_message_at < ?1 AND last_message_preview != '' AND (?2 IS NULL OR device_id = ?2)",
            )
            .bind(&before)
            .bind(&device)
            .execute(&mut *conn)
            .await?;
            touched.inbox = true;
            touched.forgotten = true;
        }
        EventBody::Redacted | EventBody::WebhookPaused { .. } | EventBody::SavedRepliesChanged { .. } => {} // returned above
        EventBody::Mention { conversation_id, message_id, user_id, by } => {
            if *user_id == me {
                let new = sqlx::query(
                    "INSERT OR IGNORE INTO mentions (message_id, conversation_id, by, at) VALUES (?, ?, ?, ?)",
                )
                .bind(message_id.to_string())
                .bind(conversation_id.to_string())
                .bind(by.map(|b| b.to_string()))
                .bind(ts(event.at))
                .execute(&mut *conn)
                .await?;
                touched.inbox = true; // the Mentions view's count
                if new.rows_affected() == 1 && touched.live {
                    touched.mentions.push((*conversation_id, *message_id));
                }
            }
        }
    }
    Ok(())
}
