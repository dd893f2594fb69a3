//! Routing rules, in their order, and the team queues routing drains.

use handoff_proto::{
    ConversationId, ConversationStatus, RoutingRule, RuleAssign, RuleId, RuleMatch, TeamId, WorkspaceId,
};
use sqlx::Row;

use super::cols::{decode_err, opt_uuid_col, uuid_col};
use super::Conn;
use super::{now, ts, DbResult};

/// Every rule of the workspace, in the order routing tries them.
pub async fn rules(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<RoutingRule>> {
    let rows = sqlx::query(
        "SELECT id, name, position, match_json, team_id, user_id FROM routing_rules WHERE workspace_id = $1 \
         ORDER BY position, created_at",
    )
    .bind(ws)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let json: String = row.try_get("match_json")?;
            Ok(RoutingRule {
                id: uuid_col(row, "id")?,
                name: row.try_get("name")?,
                position: row.try_get("position")?,
                matches: serde_json::from_str(&json).map_err(|_| decode_err("match_json", &json))?,
                assign: RuleAssign { team_id: opt_uuid_col(row, "team_id")?, user_id: opt_uuid_col(row, "user_id")? },
            })
        })
        .collect()
}

/// The last rule's position (0 without rules).
pub async fn last_position(conn: &mut Conn, ws: WorkspaceId) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM routing_rules WHERE workspace_id = $1")
        .bind(ws)
        .fetch_one(conn)
        .await
        .map_err(Into::into)
}

pub struct NewRule<'a> {
    pub workspace: WorkspaceId,
    pub id: RuleId,
    pub name: &'a str,
    pub position: i64,
    pub matches: &'a RuleMatch,
    pub assign: &'a RuleAssign,
}

pub async fn insert_rule(conn: &mut Conn, r: &NewRule<'_>) -> DbResult<()> {
    let match_json = serde_json::to_string(r.matches).map_err(super::Error::from)?;
    sqlx::query(
        "INSERT INTO routing_rules (id, name, position, match_json, team_id, user_id, created_at, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.id.to_string())
    .bind(r.name)
    .bind(r.position)
    .bind(match_json)
    .bind(r.assign.team_id.map(|t| t.to_string()))
    .bind(r.assign.user_id.map(|u| u.to_string()))
    .bind(ts(now()))
    .bind(r.workspace)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a rule; its name if there was one.
pub async fn delete_rule(conn: &mut Conn, ws: WorkspaceId, id: RuleId) -> DbResult<Option<String>> {
    sqlx::query_scalar("DELETE FROM routing_rules WHERE workspace_id = $1 AND id = $2 RETURNING name")
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

/// Whether any conversation of any workspace waits in a team queue.
pub async fn any_queued(conn: &mut Conn) -> DbResult<bool> {
    let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE queued_at IS NOT NULL LIMIT 1")
        .fetch_optional(conn)
        .await?;
    Ok(any.is_some())
}

/// The conversations waiting in team queues, in every workspace, oldest first: (workspace,
/// conversation, team).
pub async fn queued(conn: &mut Conn) -> DbResult<Vec<(WorkspaceId, ConversationId, TeamId)>> {
    sqlx::query_as(
        "SELECT workspace_id, id, team_id FROM conversations \
         WHERE queued_at IS NOT NULL AND assignee_id IS NULL AND status = $1 AND team_id IS NOT NULL \
         ORDER BY queued_at, id",
    )
    .bind(ConversationStatus::Open)
    .fetch_all(conn)
    .await
    .map_err(Into::into)
}
