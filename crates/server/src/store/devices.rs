//! Linked devices (WhatsApp numbers) and their gateways.

use handoff_proto::{Device, DeviceKind, DeviceStatus};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::cols::{decode_err, opt_ts_col, uuid_col};
use super::DbResult;

pub const COLUMNS: &str = "id, name, kind, status, phone, last_seen_at";

pub fn from_row(row: &SqliteRow) -> DbResult<Device> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(Device {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        kind: DeviceKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        status: DeviceStatus::parse(&status).ok_or_else(|| decode_err("status", &status))?,
        phone: row.try_get("phone")?,
        last_seen_at: opt_ts_col(row, "last_seen_at")?,
    })
}

pub async fn get(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<Device>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM devices WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every linked device, oldest first.
pub async fn all(conn: &mut SqliteConnection) -> DbResult<Vec<Device>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM devices ORDER BY created_at")))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// A gateway device's WAHA session and webhook secret (`None` for other kinds of device).
pub async fn gateway_of(
    conn: &mut SqliteConnection,
    device_id: Uuid,
) -> DbResult<Option<(handoff_proto::GatewayConfig, String)>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT gateway, webhook_secret FROM devices WHERE id = ?")
            .bind(device_id.to_string())
            .fetch_optional(conn)
            .await?;
    let Some((Some(gateway), Some(secret))) = row else { return Ok(None) };
    let config = serde_json::from_str(&gateway).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some((config, secret)))
}
