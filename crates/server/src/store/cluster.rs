//! Several nodes on one PostgreSQL database: the nodes alive, who drives each device (leases),
//! and every node's live connections for presence. None of it is in the event log: these rows
//! are written outside the log's lock, each statement on its own ([`super::Store::unlogged`]).

use chrono::{DateTime, Utc};
use handoff_proto::{DeviceId, UserId, WorkspaceId};

use super::cols::parse_uuid;
use super::{ts, Conn, DbResult};

/// Says that `node` (reached at `url`) is alive at `now`.
pub async fn beat(conn: &mut Conn, node: &str, url: &str, started: DateTime<Utc>, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO nodes (id, url, started_at, seen_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at",
    )
    .bind(node)
    .bind(url)
    .bind(ts(started))
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the nodes not seen since `before` (stopped without a goodbye) and their connections;
/// returns them with when each was last seen.
pub async fn bury(conn: &mut Conn, before: DateTime<Utc>) -> DbResult<Vec<(String, DateTime<Utc>)>> {
    let gone: Vec<(String, String)> = sqlx::query_as("DELETE FROM nodes WHERE seen_at < $1 RETURNING id, seen_at")
        .bind(ts(before))
        .fetch_all(&mut *conn)
        .await?;
    let mut buried = Vec::with_capacity(gone.len());
    for (node, seen) in gone {
        forget_conns(&mut *conn, &node).await?;
        buried.push((node, super::parse_ts(&seen)?));
    }
    Ok(buried)
}

/// A node's goodbye: its row and its connections go.
pub async fn leave(conn: &mut Conn, node: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM nodes WHERE id = $1").bind(node).execute(&mut *conn).await?;
    forget_conns(conn, node).await
}

/// Renews every lease `node` holds until `until`; returns the devices it still holds (a lease
/// another node took, or one gone with its device, is not among them).
pub async fn renew(conn: &mut Conn, node: &str, until: DateTime<Utc>) -> DbResult<Vec<DeviceId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("UPDATE device_leases SET expires_at = $2 WHERE node_id = $1 RETURNING device_id")
            .bind(node)
            .bind(ts(until))
            .fetch_all(conn)
            .await?;
    ids.iter().map(|id| parse_uuid("device_id", id)).collect()
}

/// Takes, until `until`, every device nobody holds: those without a lease and those whose lease
/// ran out before `now`. Returns them. Of two nodes trying at once, one gets each device.
pub async fn take_free(
    conn: &mut Conn,
    node: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DbResult<Vec<DeviceId>> {
    let mut taken: Vec<String> = sqlx::query_scalar(
        "INSERT INTO device_leases (device_id, node_id, expires_at) \
         SELECT d.id, $1, $2 FROM devices d WHERE NOT EXISTS (SELECT 1 FROM device_leases l WHERE l.device_id = d.id) \
         ON CONFLICT (device_id) DO NOTHING RETURNING device_id",
    )
    .bind(node)
    .bind(ts(until))
    .fetch_all(&mut *conn)
    .await?;
    let expired: Vec<String> = sqlx::query_scalar(
        "UPDATE device_leases SET node_id = $1, expires_at = $2 WHERE expires_at < $3 RETURNING device_id",
    )
    .bind(node)
    .bind(ts(until))
    .bind(ts(now))
    .fetch_all(conn)
    .await?;
    taken.extend(expired);
    taken.iter().map(|id| parse_uuid("device_id", id)).collect()
}

/// Takes a new device's lease; `true` when `node` holds it now (taken, or already its own: its
/// lease loop may have been quicker than the request that added the device), `false` when
/// another node was quicker.
pub async fn take(conn: &mut Conn, device: DeviceId, node: &str, until: DateTime<Utc>) -> DbResult<bool> {
    let taken = sqlx::query(
        "INSERT INTO device_leases (device_id, node_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (device_id) \
         DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE device_leases.node_id = EXCLUDED.node_id",
    )
    .bind(device.to_string())
    .bind(node)
    .bind(ts(until))
    .execute(conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Gives up every lease `node` holds (a graceful stop): other nodes take them at once.
pub async fn release(conn: &mut Conn, node: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM device_leases WHERE node_id = $1").bind(node).execute(conn).await?;
    Ok(())
}

/// Who drives a device: the node, where it is reached, and until when its lease runs.
pub struct Holder {
    pub node: String,
    pub url: Option<String>,
    pub until: DateTime<Utc>,
}

pub async fn holder(conn: &mut Conn, device: DeviceId) -> DbResult<Option<Holder>> {
    let row: Option<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT l.node_id, n.url, l.expires_at FROM device_leases l LEFT JOIN nodes n ON n.id = l.node_id \
         WHERE l.device_id = $1",
    )
    .bind(device.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|(node, url, until)| Ok(Holder { node, url, until: super::parse_ts(&until)? })).transpose()
}

/// One live connection as the presence table keeps it.
pub struct ConnRow {
    pub node: String,
    pub conn_id: u64,
    /// The workspace the connection acts in.
    pub ws: WorkspaceId,
    pub user: UserId,
    pub away: bool,
    /// The activity as JSON ([`handoff_proto::ActivityEntry`]), if any.
    pub activity: Option<String>,
}

pub async fn put_conn(conn: &mut Conn, row: &ConnRow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO presence_conns (node_id, conn_id, user_id, away, activity, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (node_id, conn_id) DO UPDATE SET away = excluded.away, activity = excluded.activity",
    )
    .bind(&row.node)
    .bind(row.conn_id as i64)
    .bind(row.user.to_string())
    .bind(row.away)
    .bind(row.activity.as_deref())
    .bind(row.ws)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn drop_conn(conn: &mut Conn, node: &str, conn_id: u64) -> DbResult<()> {
    sqlx::query("DELETE FROM presence_conns WHERE node_id = $1 AND conn_id = $2")
        .bind(node)
        .bind(conn_id as i64)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn forget_conns(conn: &mut Conn, node: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM presence_conns WHERE node_id = $1").bind(node).execute(conn).await?;
    Ok(())
}

/// Every other node's live connections.
pub async fn conns_of_others(conn: &mut Conn, node: &str) -> DbResult<Vec<ConnRow>> {
    let rows: Vec<(String, i64, WorkspaceId, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT node_id, conn_id, workspace_id, user_id, away, activity FROM presence_conns WHERE node_id != $1 \
         ORDER BY node_id, conn_id",
    )
    .bind(node)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(node, conn_id, ws, user, away, activity)| {
            Ok(ConnRow { node, conn_id: conn_id as u64, ws, user: parse_uuid("user_id", &user)?, away, activity })
        })
        .collect()
}

/// Tells every node listening on `channel` (PostgreSQL's NOTIFY; at most 8,000 bytes).
pub async fn notify(conn: &mut Conn, channel: &str, payload: &str) -> DbResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(conn).await?;
    Ok(())
}
