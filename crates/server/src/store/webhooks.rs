//! Outbound webhooks: the endpoints an Admin registered and the delivery log (what the webhook
//! worker, [`crate::webhooks`], posts to them, with each delivery's latest attempt).

use chrono::{DateTime, Utc};
use handoff_proto::{
    ConversationId, DeliveryId, DeliveryStatus, Seq, UserId, Webhook, WebhookDelivery, WebhookEvent, WebhookId,
    WebhookStatus, WorkspaceId,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::{decode_err, opt_ts_col, opt_uuid_col, uuid_col};
use super::{parse_ts, ts, Conn, DbResult};

const ENDPOINT_COLUMNS: &str = "id, url, events, status, failing_since, paused_at, created_by, created_at";

fn events_col(row: &AnyRow) -> DbResult<Vec<WebhookEvent>> {
    let text: String = row.try_get("events")?;
    Ok(serde_json::from_str(&text)?)
}

fn endpoint_from_row(row: &AnyRow) -> DbResult<Webhook> {
    Ok(Webhook {
        id: uuid_col(row, "id")?,
        url: row.try_get("url")?,
        events: events_col(row)?,
        status: row.try_get("status")?,
        failing_since: opt_ts_col(row, "failing_since")?,
        paused_at: opt_ts_col(row, "paused_at")?,
        created_by: uuid_col(row, "created_by")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
    })
}

/// A new endpoint: it is given the workspace's events after `cursor_seq` (its log's head when
/// it was registered).
pub struct NewEndpoint<'a> {
    pub id: WebhookId,
    pub url: &'a str,
    pub events: &'a [WebhookEvent],
    pub secret: &'a str,
    pub cursor_seq: Seq,
    pub created_by: UserId,
}

pub async fn insert_endpoint(
    conn: &mut Conn,
    ws: WorkspaceId,
    new: &NewEndpoint<'_>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, status, cursor_seq, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(ws)
    .bind(new.url)
    .bind(serde_json::to_string(new.events)?)
    .bind(new.secret)
    .bind(WebhookStatus::Active)
    .bind(new.cursor_seq)
    .bind(new.created_by)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn endpoints(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<Webhook>> {
    let sql =
        format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).fetch_all(conn).await?;
    rows.iter().map(endpoint_from_row).collect()
}

pub async fn endpoint(conn: &mut Conn, ws: WorkspaceId, id: WebhookId) -> DbResult<Option<Webhook>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(endpoint_from_row).transpose()
}

/// Changes an endpoint's address, its events, its status. Resuming forgets its failures (a day
/// of new ones pauses it again) and, since events that happened while it was paused are not
/// delivered, moves its cursor to `head`; pausing notes when.
pub async fn update_endpoint(
    conn: &mut Conn,
    ws: WorkspaceId,
    endpoint: &Webhook,
    head: Seq,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let resumed = endpoint.status == WebhookStatus::Active;
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $3, events = $4, status = $5, \
         paused_at = CASE WHEN $5 = 'paused' THEN COALESCE(paused_at, $6) ELSE NULL END, \
         failing_since = CASE WHEN $5 = 'active' AND status = 'paused' THEN NULL ELSE failing_since END, \
         cursor_seq = CASE WHEN $5 = 'active' AND status = 'paused' THEN $7 ELSE cursor_seq END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(endpoint.id)
    .bind(&endpoint.url)
    .bind(serde_json::to_string(&endpoint.events)?)
    .bind(if resumed { "active" } else { "paused" })
    .bind(ts(now))
    .bind(head)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes an endpoint and its delivery log; `false` when there was no such endpoint.
pub async fn delete_endpoint(conn: &mut Conn, ws: WorkspaceId, id: WebhookId) -> DbResult<bool> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE workspace_id = $1 AND endpoint_id = $2")
        .bind(ws)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(gone.rows_affected() == 1)
}

/// An active endpoint as the worker sees it.
#[derive(Clone, Debug)]
pub struct Active {
    pub id: WebhookId,
    pub workspace: WorkspaceId,
    pub events: Vec<WebhookEvent>,
    pub cursor_seq: Seq,
}

/// Every active endpoint, in every workspace.
pub async fn active(conn: &mut Conn) -> DbResult<Vec<Active>> {
    let rows =
        sqlx::query("SELECT id, workspace_id, events, cursor_seq FROM webhook_endpoints WHERE status = 'active'")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(Active {
                id: uuid_col(row, "id")?,
                workspace: uuid_col(row, "workspace_id")?,
                events: events_col(row)?,
                cursor_seq: row.try_get("cursor_seq")?,
            })
        })
        .collect()
}

/// A delivery the worker made from an event.
pub struct NewDelivery {
    pub id: DeliveryId,
    pub seq: Seq,
    /// The `type` its event had in the log when it was read.
    pub log_type: &'static str,
    pub event_type: WebhookEvent,
    pub conversation_id: Option<ConversationId>,
    pub body: String,
}

/// Records `deliveries` for `endpoint` (due at once) and moves its cursor to `cursor`, unless
/// the endpoint was deleted, paused or moved on meanwhile (then nothing is written: `false`).
/// Run in the writer's transaction: a delivery whose event was rewritten since it was read (made
/// `redacted` by an erasure, or without its message by the retention period) is left out.
pub async fn add_deliveries(
    conn: &mut Conn,
    endpoint: &Active,
    deliveries: &[NewDelivery],
    cursor: Seq,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let now_types: std::collections::HashMap<Seq, String> = sqlx::query_as::<_, (Seq, String)>(
        "SELECT seq, type FROM events WHERE workspace_id = $1 AND seq > $2 AND seq <= $3",
    )
    .bind(endpoint.workspace)
    .bind(endpoint.cursor_seq)
    .bind(cursor)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let unchanged = |d: &&NewDelivery| now_types.get(&d.seq).is_some_and(|t| t == d.log_type);
    // The endpoint as the deliveries were made for it: a change of its events meanwhile means
    // they were made for the wrong ones.
    let moved = sqlx::query(
        "UPDATE webhook_endpoints SET cursor_seq = $2 WHERE id = $1 AND cursor_seq = $3 AND status = 'active' \
         AND events = $4",
    )
    .bind(endpoint.id)
    .bind(cursor)
    .bind(endpoint.cursor_seq)
    .bind(serde_json::to_string(&endpoint.events)?)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    for d in deliveries.iter().filter(unchanged) {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, seq, type, conversation_id, body, status, \
             attempts, created_at, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
        )
        .bind(d.id)
        .bind(endpoint.workspace)
        .bind(endpoint.id)
        .bind(d.seq)
        .bind(d.event_type)
        .bind(d.conversation_id)
        .bind(&d.body)
        .bind(ts(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// A delivery whose attempt is due.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: DeliveryId,
    pub endpoint_id: WebhookId,
    pub workspace: WorkspaceId,
    pub url: String,
    pub secret: String,
    pub body: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// Up to `limit` deliveries due at `now` to active endpoints, oldest first, each the first of
/// its conversation's still pending for its endpoint (so one conversation's events arrive in
/// order): at most one per conversation and endpoint.
pub async fn due(conn: &mut Conn, now: DateTime<Utc>, limit: i64) -> DbResult<Vec<Due>> {
    let rows = sqlx::query(
        "SELECT d.id, d.endpoint_id, d.workspace_id, e.url, e.secret, d.body, d.attempts, d.created_at \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND d.next_at <= $1 AND e.status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'pending' \
             AND p.endpoint_id = d.endpoint_id AND p.conversation_id = d.conversation_id AND p.seq < d.seq) \
         ORDER BY d.next_at, d.seq LIMIT $2",
    )
    .bind(ts(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Due {
                id: uuid_col(row, "id")?,
                endpoint_id: uuid_col(row, "endpoint_id")?,
                workspace: uuid_col(row, "workspace_id")?,
                url: row.try_get("url")?,
                secret: row.try_get("secret")?,
                body: row.try_get("body")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
            })
        })
        .collect()
}

/// When the next delivery [`due`] would take is due, if any: one that waits behind an earlier
/// delivery of its conversation is not (it becomes due when that one is done).
pub async fn next_due(conn: &mut Conn) -> DbResult<Option<DateTime<Utc>>> {
    let next: Option<String> = sqlx::query_scalar(
        "SELECT MIN(d.next_at) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND e.status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'pending' \
             AND p.endpoint_id = d.endpoint_id AND p.conversation_id = d.conversation_id AND p.seq < d.seq)",
    )
    .fetch_one(conn)
    .await?;
    next.as_deref().map(parse_ts).transpose()
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    pub response: Option<String>,
    /// Delivered, or the next attempt's time, or given up (`None` with `delivered: false`).
    pub delivered: bool,
    pub next_at: Option<DateTime<Utc>>,
}

/// The longest gap between two attempts to an endpoint while it keeps failing (the backoff's
/// ceiling and its jitter): a failure after a longer quiet starts a new failing spell.
pub const SPELL_GAP: chrono::Duration = chrono::Duration::hours(3);

/// Records an attempt on its delivery (one attempt more), unless the delivery moved on since it
/// was taken (another node recorded it first, after a lease changed hands), and on its endpoint:
/// a success ends its failing spell, a failure starts one if none is running (or the last
/// failure is older than [`SPELL_GAP`]). Returns when the endpoint's failing spell began (`None`
/// after a success, or when the attempt was not recorded).
pub async fn record(conn: &mut Conn, due: &Due, attempt: &Attempt) -> DbResult<Option<DateTime<Utc>>> {
    // The endpoint's previous attempt, this delivery's own included (read before this one is
    // written): a failing spell with a quiet longer than any backoff in it ended unnoticed (its
    // last delivery given up, then nothing to send).
    let previous: Option<String> =
        sqlx::query_scalar("SELECT MAX(last_at) FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(due.endpoint_id)
            .fetch_one(&mut *conn)
            .await?;
    let quiet = match previous.as_deref().map(parse_ts).transpose()? {
        Some(at) => attempt.at - at > SPELL_GAP,
        None => true,
    };
    let status = match (attempt.delivered, attempt.next_at) {
        (true, _) => DeliveryStatus::Delivered,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let recorded = sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_at = $3, last_at = $4, \
         status_code = $5, latency_ms = $6, error = $7, response = $8, delivered_at = $9 \
         WHERE id = $1 AND status = 'pending' AND attempts = $10",
    )
    .bind(due.id)
    .bind(status)
    .bind(attempt.next_at.map(ts))
    .bind(ts(attempt.at))
    .bind(attempt.status_code.map(i64::from))
    .bind(i64::from(attempt.latency_ms))
    .bind(attempt.error.as_deref())
    .bind(attempt.response.as_deref())
    .bind(attempt.delivered.then(|| ts(attempt.at)))
    .bind(i64::from(due.attempts))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if recorded == 0 {
        return Ok(None);
    }
    if attempt.delivered {
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
            .bind(due.endpoint_id)
            .execute(conn)
            .await?;
        return Ok(None);
    }
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = CASE WHEN $3 THEN $2 ELSE COALESCE(failing_since, $2) END \
         WHERE id = $1",
    )
    .bind(due.endpoint_id)
    .bind(ts(attempt.at))
    .bind(quiet)
    .execute(&mut *conn)
    .await?;
    let since: Option<String> = sqlx::query_scalar("SELECT failing_since FROM webhook_endpoints WHERE id = $1")
        .bind(due.endpoint_id)
        .fetch_optional(conn)
        .await?
        .flatten();
    since.as_deref().map(parse_ts).transpose()
}

/// Pauses an active endpoint (its failures went on for a day); `false` when it was not active.
pub async fn pause(conn: &mut Conn, id: WebhookId, now: DateTime<Utc>) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET status = 'paused', paused_at = $2 WHERE id = $1 AND status = 'active'",
    )
    .bind(id)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, type, seq, conversation_id, status, attempts, created_at, next_at, \
     last_at, status_code, latency_ms, error, response, delivered_at, body";

fn delivery_from_row(row: &AnyRow) -> DbResult<WebhookDelivery> {
    let type_text: String = row.try_get("type")?;
    let small = |col: &str| -> DbResult<Option<i64>> { Ok(row.try_get::<Option<i64>, _>(col)?) };
    Ok(WebhookDelivery {
        id: uuid_col(row, "id")?,
        webhook_id: uuid_col(row, "endpoint_id")?,
        event_type: WebhookEvent::parse(&type_text).ok_or_else(|| decode_err("webhook event type", &type_text))?,
        seq: row.try_get("seq")?,
        conversation_id: opt_uuid_col(row, "conversation_id")?,
        status: row.try_get("status")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        next_attempt_at: opt_ts_col(row, "next_at")?,
        last_attempt_at: opt_ts_col(row, "last_at")?,
        status_code: small("status_code")?.and_then(|c| u16::try_from(c).ok()),
        latency_ms: small("latency_ms")?.and_then(|c| u32::try_from(c).ok()),
        error: row.try_get("error")?,
        response: row.try_get("response")?,
        delivered_at: opt_ts_col(row, "delivered_at")?,
        body: row.try_get("body")?,
    })
}

/// An endpoint's delivery log, newest first: `limit` deliveries made before `before` (a
/// delivery's `created_at` and id, the previous page's last).
pub async fn deliveries(
    conn: &mut Conn,
    ws: WorkspaceId,
    endpoint: WebhookId,
    before: Option<(DateTime<Utc>, DeliveryId)>,
    limit: i64,
) -> DbResult<Vec<WebhookDelivery>> {
    let (at, id) = before.map(|(at, id)| (ts(at), id.to_string())).unzip();
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND endpoint_id = $2 \
         AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ws)
        .bind(endpoint)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

pub async fn delivery(
    conn: &mut Conn,
    ws: WorkspaceId,
    endpoint: WebhookId,
    id: DeliveryId,
) -> DbResult<Option<WebhookDelivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND endpoint_id = $2 AND id = $3"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(endpoint).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(delivery_from_row).transpose()
}

/// "Send again": the delivery is due at once, whatever became of it.
pub async fn send_again(conn: &mut Conn, id: DeliveryId, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query("UPDATE webhook_deliveries SET status = 'pending', next_at = $2 WHERE id = $1")
        .bind(id)
        .bind(ts(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every delivery about these conversations (an erasure: their payloads hold the
/// customer's messages and name).
pub async fn forget_conversations(conn: &mut Conn, ids: &[ConversationId]) -> DbResult<u64> {
    let mut gone = 0;
    for id in ids {
        gone += sqlx::query("DELETE FROM webhook_deliveries WHERE conversation_id = $1")
            .bind(*id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(gone)
}

/// Deletes the deliveries made before `before` that are done (delivered or given up); returns
/// how many went.
pub async fn prune(conn: &mut Conn, before: DateTime<Utc>) -> DbResult<u64> {
    let gone = sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
        .bind(ts(before))
        .execute(conn)
        .await?;
    Ok(gone.rows_affected())
}

/// Deletes every delivery of `ws` made before `before`, done or not (a retention period shorter
/// than the delivery log's: the payloads hold messages).
pub async fn prune_workspace(conn: &mut Conn, ws: WorkspaceId, before: DateTime<Utc>) -> DbResult<u64> {
    let gone = sqlx::query("DELETE FROM webhook_deliveries WHERE workspace_id = $1 AND created_at < $2")
        .bind(ws)
        .bind(ts(before))
        .execute(conn)
        .await?;
    Ok(gone.rows_affected())
}

/// Takes or renews the lease on a job one node at a time does (PostgreSQL): `true` when
/// `node` holds it until `until`.
pub async fn hold_job(
    conn: &mut Conn,
    job: &str,
    node: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> DbResult<bool> {
    let held = sqlx::query(
        "INSERT INTO job_leases (name, node_id, expires_at) VALUES ($1, $2, $4) \
         ON CONFLICT (name) DO UPDATE SET node_id = excluded.node_id, expires_at = excluded.expires_at \
         WHERE job_leases.node_id = excluded.node_id OR job_leases.expires_at < $3",
    )
    .bind(job)
    .bind(node)
    .bind(ts(now))
    .bind(ts(until))
    .execute(conn)
    .await?;
    Ok(held.rows_affected() == 1)
}

/// Gives up the lease on `job` if `node` holds it (a node stopping).
pub async fn release_job(conn: &mut Conn, job: &str, node: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM job_leases WHERE name = $1 AND node_id = $2").bind(job).bind(node).execute(conn).await?;
    Ok(())
}
