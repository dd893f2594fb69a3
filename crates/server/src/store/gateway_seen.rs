//! Gateway webhooks already processed, by device and envelope event id (the replay check of
//! `api::webhook`).

use chrono::{DateTime, Utc};
use handoff_proto::DeviceId;

use super::{ts, DbResult, Store};

/// Marks `event_id` as processed for `device`; `false` when it already was (a replay, or WAHA
/// retrying an answer it lost). Two deliveries of one id at the same moment: one gets `true`.
pub async fn first_seen(store: &Store, device: DeviceId, event_id: &str, now: DateTime<Utc>) -> DbResult<bool> {
    let mut w = store.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO webhook_seen (device_id, event_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(device.to_string())
    .bind(event_id)
    .bind(ts(now))
    .execute(w.conn())
    .await?
    .rows_affected();
    w.commit().await?;
    Ok(inserted == 1)
}

/// Forgets a mark: the webhook was not taken after all, and its retry must be processed.
pub async fn forget(store: &Store, device: DeviceId, event_id: &str) -> DbResult<()> {
    let mut w = store.begin().await?;
    sqlx::query("DELETE FROM webhook_seen WHERE device_id = $1 AND event_id = $2")
        .bind(device.to_string())
        .bind(event_id)
        .execute(w.conn())
        .await?;
    w.commit().await
}

/// Deletes the marks made before `before`; returns how many went.
pub async fn prune(conn: &mut super::Conn, before: DateTime<Utc>) -> DbResult<u64> {
    let gone = sqlx::query("DELETE FROM webhook_seen WHERE seen_at < $1").bind(ts(before)).execute(conn).await?;
    Ok(gone.rows_affected())
}
