//! Linked devices (WhatsApp numbers) and their gateways.

use handoff_proto::{Device, DeviceId, DeviceKind, DeviceStatus, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::{opt_ts_col, uuid_col};
use super::Conn;
use super::DbResult;

pub const COLUMNS: &str = "id, name, kind, status, phone, last_seen_at";

pub fn from_row(row: &AnyRow) -> DbResult<Device> {
    Ok(Device {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        phone: row.try_get("phone")?,
        last_seen_at: opt_ts_col(row, "last_seen_at")?,
    })
}

pub async fn get(conn: &mut Conn, ws: WorkspaceId, id: DeviceId) -> DbResult<Option<Device>> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE workspace_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Every linked device of the workspace, oldest first.
pub async fn all(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<Device>> {
    let sql = format!("SELECT {COLUMNS} FROM devices WHERE workspace_id = $1 ORDER BY created_at");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Every linked device of every workspace, oldest first, with its workspace: the devices this
/// server drives.
pub async fn everywhere(conn: &mut Conn) -> DbResult<Vec<(WorkspaceId, Device)>> {
    let sql = format!("SELECT workspace_id, {COLUMNS} FROM devices ORDER BY created_at");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(conn).await?;
    rows.iter().map(|row| Ok((uuid_col(row, "workspace_id")?, from_row(row)?))).collect()
}

/// A device with its workspace, by id alone: for the node that drives it (what it receives is
/// stored in that workspace). A request names a device through [`get`], in its own workspace.
pub async fn driven(conn: &mut Conn, id: DeviceId) -> DbResult<Option<(WorkspaceId, Device)>> {
    let sql = format!("SELECT workspace_id, {COLUMNS} FROM devices WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.map(|row| Ok((uuid_col(&row, "workspace_id")?, from_row(&row)?))).transpose()
}

/// The workspace a device belongs to (a device's own messages, receipts and webhooks are stored
/// there).
pub async fn workspace_of(conn: &mut Conn, id: DeviceId) -> DbResult<Option<WorkspaceId>> {
    sqlx::query_scalar("SELECT workspace_id FROM devices WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

/// A gateway device's WAHA session and webhook secret (`None` for other kinds of device).
pub async fn gateway_of(
    conn: &mut Conn,
    device_id: DeviceId,
) -> DbResult<Option<(handoff_proto::GatewayConfig, String)>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT gateway, webhook_secret FROM devices WHERE id = $1")
            .bind(device_id.to_string())
            .fetch_optional(conn)
            .await?;
    let Some((Some(gateway), Some(secret))) = row else { return Ok(None) };
    let config = serde_json::from_str(&gateway).map_err(super::Error::from)?;
    Ok(Some((config, secret)))
}

/// A new device and what linking it needs.
pub struct NewDevice<'a> {
    pub workspace: WorkspaceId,
    pub id: DeviceId,
    pub name: &'a str,
    pub kind: DeviceKind,
    pub status: DeviceStatus,
    /// Already linked to this number (the demo's simulator).
    pub phone: Option<&'a str>,
    /// A gateway's WAHA session and the secret its webhooks are signed with.
    pub gateway: Option<(&'a handoff_proto::GatewayConfig, &'a str)>,
    /// Linked by a code typed on this phone.
    pub pair_phone: Option<&'a str>,
}

pub async fn insert(conn: &mut Conn, d: &NewDevice<'_>) -> DbResult<()> {
    let gateway = d.gateway.map(|(g, _)| serde_json::to_string(g)).transpose().map_err(super::Error::from)?;
    sqlx::query(
        "INSERT INTO devices (id, name, kind, status, phone, created_at, gateway, webhook_secret, pair_phone, \
           workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(d.id.to_string())
    .bind(d.name)
    .bind(d.kind)
    .bind(d.status)
    .bind(d.phone)
    .bind(super::ts(super::now()))
    .bind(gateway)
    .bind(d.gateway.map(|(_, secret)| secret))
    .bind(d.pair_phone)
    .bind(d.workspace)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a device (its conversations, contacts and messages go with it: the foreign keys
/// cascade). Whether there was one.
pub async fn delete(conn: &mut Conn, ws: WorkspaceId, id: DeviceId) -> DbResult<bool> {
    let deleted =
        sqlx::query("DELETE FROM devices WHERE workspace_id = $1 AND id = $2").bind(ws).bind(id).execute(conn).await?;
    Ok(deleted.rows_affected() > 0)
}

/// The phone a device is being linked by a pair code to, if it is.
pub async fn pair_phone(conn: &mut Conn, id: DeviceId) -> DbResult<Option<String>> {
    let phone: Option<Option<String>> = sqlx::query_scalar("SELECT pair_phone FROM devices WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(phone.flatten())
}

/// A connected simulated phone of the workspace, if there is one (the demo's customers write
/// through it).
pub async fn connected_simulator(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Option<DeviceId>> {
    sqlx::query_scalar("SELECT id FROM devices WHERE workspace_id = $1 AND kind = $2 AND status = $3 LIMIT 1")
        .bind(ws)
        .bind(DeviceKind::Simulator)
        .bind(DeviceStatus::Connected)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

/// A device's new link state (and the number it is linked to, when told), seen now.
pub async fn set_status(conn: &mut Conn, id: DeviceId, status: DeviceStatus, phone: Option<&str>) -> DbResult<()> {
    sqlx::query("UPDATE devices SET status = $1, phone = COALESCE($2, phone), last_seen_at = $3 WHERE id = $4")
        .bind(status)
        .bind(phone)
        .bind(super::ts(super::now()))
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
