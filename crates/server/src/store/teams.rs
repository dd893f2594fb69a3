//! Teams and their members, and what routing asks of them: a team's cap, the member with room.

use handoff_proto::{ConversationStatus, Role, Team, TeamId, UserId, UserKind, WorkspaceId};
use sqlx::Row;

use super::cols::{parse_uuid, uuid_col};
use super::Conn;
use super::{now, ts, DbResult};

pub async fn get(conn: &mut Conn, ws: WorkspaceId, id: TeamId) -> DbResult<Option<Team>> {
    let row: Option<(String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT name, agent_cap, first_response_secs, resolution_secs FROM teams WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((name, agent_cap, first_response_secs, resolution_secs)) = row else { return Ok(None) };
    let members: Vec<String> = sqlx::query_scalar(
        "SELECT m.user_id FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 \
         ORDER BY lower(u.name)",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await?;
    let member_ids = members.iter().map(|m| parse_uuid("id", m)).collect::<DbResult<_>>()?;
    Ok(Some(Team { id, name, member_ids, agent_cap, first_response_secs, resolution_secs }))
}

/// Every team of the workspace, by name.
pub async fn all(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<Team>> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM teams WHERE workspace_id = $1 ORDER BY lower(name)")
        .bind(ws)
        .fetch_all(&mut *conn)
        .await?;
    let mut teams = Vec::with_capacity(ids.len());
    for id in ids {
        teams.extend(get(conn, ws, parse_uuid("id", &id)?).await?);
    }
    Ok(teams)
}

/// The workspace's team called `name` (case-insensitive), if any.
pub async fn id_by_name(conn: &mut Conn, ws: WorkspaceId, name: &str) -> DbResult<Option<TeamId>> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT id FROM teams WHERE workspace_id = $1 AND lower(name) = lower($2)")
            .bind(ws)
            .bind(name)
            .fetch_optional(conn)
            .await?;
    id.as_deref().map(|id| parse_uuid("id", id)).transpose()
}

pub struct NewTeam<'a> {
    pub workspace: WorkspaceId,
    pub id: TeamId,
    pub name: &'a str,
    pub agent_cap: i64,
    pub first_response_secs: Option<i64>,
    pub resolution_secs: Option<i64>,
}

pub async fn insert(conn: &mut Conn, t: &NewTeam<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO teams (id, name, agent_cap, first_response_secs, resolution_secs, created_at, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(t.id.to_string())
    .bind(t.name)
    .bind(t.agent_cap)
    .bind(t.first_response_secs)
    .bind(t.resolution_secs)
    .bind(ts(now()))
    .bind(t.workspace)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a team's name, cap and SLA targets (the id names it; its members stay).
pub async fn update(conn: &mut Conn, t: &NewTeam<'_>) -> DbResult<()> {
    sqlx::query(
        "UPDATE teams SET name = $1, agent_cap = $2, first_response_secs = $3, resolution_secs = $4 \
         WHERE id = $5 AND workspace_id = $6",
    )
    .bind(t.name)
    .bind(t.agent_cap)
    .bind(t.first_response_secs)
    .bind(t.resolution_secs)
    .bind(t.id)
    .bind(t.workspace)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a team's members: those of the workspace's people `user_ids` names (a team of
/// another workspace, or someone outside this one, is left alone).
pub async fn set_members(conn: &mut Conn, ws: WorkspaceId, team_id: TeamId, user_ids: &[UserId]) -> DbResult<()> {
    sqlx::query("DELETE FROM team_members WHERE team_id = (SELECT id FROM teams WHERE workspace_id = $1 AND id = $2)")
        .bind(ws)
        .bind(team_id)
        .execute(&mut *conn)
        .await?;
    for user_id in user_ids {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id) \
             SELECT t.id, m.user_id FROM teams t JOIN memberships m ON m.workspace_id = t.workspace_id \
             WHERE t.workspace_id = $1 AND t.id = $2 AND m.user_id = $3 ON CONFLICT DO NOTHING",
        )
        .bind(ws)
        .bind(team_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A team's name and routing cap.
pub async fn name_and_cap(conn: &mut Conn, ws: WorkspaceId, team_id: TeamId) -> DbResult<Option<(String, i64)>> {
    sqlx::query_as("SELECT name, agent_cap FROM teams WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(team_id)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

/// A member routing may give work to, with how many open conversations they own.
pub struct Member {
    pub id: UserId,
    pub name: String,
    pub open: i64,
}

/// The team's members who may own conversations (active persons, not Viewers), fewest open
/// conversations first (ties: by name).
pub async fn assignable_members(conn: &mut Conn, ws: WorkspaceId, team_id: TeamId) -> DbResult<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT u.id, u.name, \
           (SELECT COUNT(*) FROM conversations c WHERE c.workspace_id = $7 AND c.assignee_id = u.id \
              AND c.status IN ($1, $2)) AS open \
         FROM team_members m JOIN users u ON u.id = m.user_id \
           JOIN teams t ON t.id = m.team_id AND t.workspace_id = $7 \
           JOIN memberships w ON w.user_id = u.id AND w.workspace_id = $7 \
         WHERE m.team_id = $3 AND u.active = $4 AND w.active = $4 AND u.kind = $5 AND w.role != $6 \
         ORDER BY open, lower(u.name), u.id",
    )
    .bind(ConversationStatus::Open)
    .bind(ConversationStatus::Pending)
    .bind(team_id)
    .bind(true)
    .bind(UserKind::Person)
    .bind(Role::Viewer)
    .bind(ws)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok(Member { id: uuid_col(row, "id")?, name: row.try_get("name")?, open: row.try_get("open")? }))
        .collect()
}

/// A team's name.
pub async fn name(conn: &mut Conn, ws: WorkspaceId, team_id: TeamId) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT name FROM teams WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(team_id)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}
