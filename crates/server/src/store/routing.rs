//! Routing rules, in their order, and the team queues routing drains.

use handoff_proto::{ConversationId, ConversationStatus, RoutingRule, RuleAssign, RuleId, RuleMatch, TeamId};
use sqlx::Row;

use super::cols::{decode_err, opt_uuid_col, parse_uuid, uuid_col};
use super::Conn;
use super::{now, ts, DbResult};

/// Every rule, in the order routing tries them.
pub async fn rules(conn: &mut Conn) -> DbResult<Vec<RoutingRule>> {
    let rows = sqlx::query(
        "SELECT id, name, position, match_json, team_id, user_id FROM routing_rules ORDER BY position, created_at",
    )
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
pub async fn last_position(conn: &mut Conn) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM routing_rules").fetch_one(conn).await.map_err(Into::into)
}

pub struct NewRule<'a> {
    pub id: RuleId,
    pub name: &'a str,
    pub position: i64,
    pub matches: &'a RuleMatch,
    pub assign: &'a RuleAssign,
}

pub async fn insert_rule(conn: &mut Conn, r: &NewRule<'_>) -> DbResult<()> {
    let match_json = serde_json::to_string(r.matches).map_err(super::Error::from)?;
    sqlx::query(
        "INSERT INTO routing_rules (id, name, position, match_json, team_id, user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.id.to_string())
    .bind(r.name)
    .bind(r.position)
    .bind(match_json)
    .bind(r.assign.team_id.map(|t| t.to_string()))
    .bind(r.assign.user_id.map(|u| u.to_string()))
    .bind(ts(now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a rule; its name if there was one.
pub async fn delete_rule(conn: &mut Conn, id: RuleId) -> DbResult<Option<String>> {
    sqlx::query_scalar("DELETE FROM routing_rules WHERE id = $1 RETURNING name")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

/// Whether any conversation waits in a team queue.
pub async fn any_queued(conn: &mut Conn) -> DbResult<bool> {
    let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE queued_at IS NOT NULL LIMIT 1")
        .fetch_optional(conn)
        .await?;
    Ok(any.is_some())
}

/// The conversations waiting in team queues, oldest first: (conversation, team).
pub async fn queued(conn: &mut Conn) -> DbResult<Vec<(ConversationId, TeamId)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, team_id FROM conversations \
         WHERE queued_at IS NOT NULL AND assignee_id IS NULL AND status = $1 AND team_id IS NOT NULL \
         ORDER BY queued_at, id",
    )
    .bind(ConversationStatus::Open)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|(id, team)| {
            let id = parse_uuid("id", id)?;
            let team = parse_uuid("team_id", team)?;
            Ok((id, team))
        })
        .collect()
}
