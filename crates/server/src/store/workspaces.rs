//! Workspaces and who belongs to them. One installation holds many workspaces; a person has
//! one account and belongs to the workspaces they were added to (docs/decisions.md,
//! "Workspaces").

use chrono::{DateTime, Utc};
use handoff_proto::{Role, UserId, Workspace, WorkspaceEntry, WorkspaceId};
use sqlx::Row;

use super::cols::uuid_col;
use super::{ts, Conn, DbResult};

/// The workspaces `user` is an active member of, the oldest first, with their role in each.
pub async fn of_user(conn: &mut Conn, user: UserId) -> DbResult<Vec<WorkspaceEntry>> {
    let rows = sqlx::query(
        "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
         WHERE m.user_id = $1 AND m.active = $2 ORDER BY w.created_at, w.id",
    )
    .bind(user)
    .bind(true)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(WorkspaceEntry { id: uuid_col(row, "id")?, name: row.try_get("name")?, role: row.try_get("role")? })
        })
        .collect()
}

/// The installation's first workspace: where accounts go until workspaces are created.
pub async fn first(conn: &mut Conn) -> DbResult<Workspace> {
    let row =
        sqlx::query("SELECT id, name FROM workspaces ORDER BY created_at, id LIMIT 1").fetch_one(&mut *conn).await?;
    Ok(Workspace { id: uuid_col(&row, "id")?, name: row.try_get("name")? })
}

/// Adds `user` to `workspace` with `role` (nothing when they are in it already).
pub async fn add_member(
    conn: &mut Conn,
    workspace: WorkspaceId,
    user: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, created_at, role) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, user_id) DO NOTHING",
    )
    .bind(workspace)
    .bind(user)
    .bind(ts(now))
    .bind(role)
    .execute(conn)
    .await
    .map(drop)
    .map_err(Into::into)
}

/// A new workspace, created `now`.
pub async fn create(conn: &mut Conn, name: &str, now: DateTime<Utc>) -> DbResult<Workspace> {
    let id = WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(ts(now))
        .execute(conn)
        .await?;
    Ok(Workspace { id, name: name.to_string() })
}

/// A workspace, by id.
pub async fn get(conn: &mut Conn, id: WorkspaceId) -> DbResult<Option<Workspace>> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(name.map(|name| Workspace { id, name }))
}

/// Whether `user` is the installation's owner (who creates workspaces).
pub async fn is_owner(conn: &mut Conn, user: UserId) -> DbResult<bool> {
    let owner: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND owner AND active")
        .bind(user)
        .fetch_optional(conn)
        .await?;
    Ok(owner.is_some())
}

/// `user`'s membership of `workspace`: their role and whether they are active there.
pub async fn membership(conn: &mut Conn, workspace: WorkspaceId, user: UserId) -> DbResult<Option<(Role, bool)>> {
    let row = sqlx::query("SELECT role, active FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace)
        .bind(user)
        .fetch_optional(conn)
        .await?;
    row.map(|row| Ok((row.try_get("role")?, super::cols::flag_col(&row, "active")?))).transpose()
}

/// Makes a deactivated member active again, with `role`.
pub async fn reactivate(conn: &mut Conn, workspace: WorkspaceId, user: UserId, role: Role) -> DbResult<()> {
    sqlx::query("UPDATE memberships SET active = $1, role = $2 WHERE workspace_id = $3 AND user_id = $4")
        .bind(true)
        .bind(role)
        .bind(workspace)
        .bind(user)
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// Makes `user` the installation's owner when it has none yet (the first Admin of an empty one).
pub async fn claim_ownership(conn: &mut Conn, user: UserId) -> DbResult<()> {
    sqlx::query("UPDATE users SET owner = TRUE WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE owner)")
        .bind(user.to_string())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use crate::store::{Database, Durability, Store};
    use sqlx::migrate::MigrateDatabase;

    /// A database from before workspaces (a single team with its accounts and a session), then
    /// opened by this server: everyone is in the first workspace with the role they had, the
    /// first Admin who is a person owns the installation, and the session acts in it. On
    /// SQLite, or on the PostgreSQL server `HANDOFF_TEST_POSTGRES` names.
    #[tokio::test]
    async fn a_single_team_database_moves_into_a_first_workspace() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("a folder");
        let (database, url, mut migrator, before) =
            match std::env::var("HANDOFF_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) {
                Some(base) => {
                    let database = super::super::test_database(&base, dir.path());
                    let Database::Postgres(url) = &database else { unreachable!() };
                    let url = url.clone();
                    sqlx::Any::create_database(&url).await.expect("a database");
                    (database, url, sqlx::migrate!("./migrations-postgres"), 3)
                }
                None => {
                    let path = dir.path().join("handoff.db");
                    let url = format!("sqlite://{}?mode=rwc", path.display());
                    (Database::Sqlite(path), url, sqlx::migrate!("./migrations"), 15)
                }
            };
        migrator.migrations =
            migrator.migrations.iter().filter(|m| m.version < before).cloned().collect::<Vec<_>>().into();
        let pool = sqlx::AnyPool::connect(&url).await.expect("connected");
        migrator.run(&pool).await.expect("the schema before workspaces");
        let users = [
            // (id, role, kind, created_at): a key's identity came first, then two Admins.
            ("00000000-0000-0000-0000-00000000000a", "admin", "api_key", "2026-01-01T00:00:00.000000Z"),
            ("00000000-0000-0000-0000-0000000000a2", "admin", "person", "2026-01-01T12:00:00.000000Z"),
            ("00000000-0000-0000-0000-00000000000b", "admin", "person", "2026-01-02T00:00:00.000000Z"),
            ("00000000-0000-0000-0000-00000000000c", "admin", "person", "2026-01-03T00:00:00.000000Z"),
            ("00000000-0000-0000-0000-00000000000d", "agent", "person", "2026-01-04T00:00:00.000000Z"),
        ];
        for (id, role, kind, at) in users {
            sqlx::query(
                "INSERT INTO users (id, email, name, role, password_hash, active, created_at, kind) \
                 VALUES ($1, $2, 'Someone', $3, 'x', TRUE, $4, $5)",
            )
            .bind(id)
            .bind(format!("{id}@example.com"))
            .bind(role)
            .bind(at)
            .bind(kind)
            .execute(&pool)
            .await
            .expect("a user");
        }
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, id, last_used_at) \
             VALUES ('h', '00000000-0000-0000-0000-00000000000d', '2026-02-01T00:00:00.000000Z', \
                     '00000000-0000-0000-0000-0000000000e1', '2026-02-01T00:00:00.000000Z')",
        )
        .execute(&pool)
        .await
        .expect("a session");
        // The earliest Admin who is a person was deactivated: not the owner.
        sqlx::query("UPDATE users SET active = FALSE WHERE id = '00000000-0000-0000-0000-0000000000a2'")
            .execute(&pool)
            .await
            .expect("deactivated");
        // A team's data: a number, a customer, their conversation and message, three events, a
        // team with a member and a routing rule, an audit entry and an applied mutation.
        for sql in [
            "INSERT INTO devices (id, name, kind, status, created_at) \
             VALUES ('00000000-0000-0000-0000-0000000000d1', 'Line', 'simulator', 'connected', '2026-01-01T00:00:00.000000Z')",
            "INSERT INTO contacts (id, device_id, jid, phone) VALUES ('00000000-0000-0000-0000-0000000000c1', \
             '00000000-0000-0000-0000-0000000000d1', '4915100000001@s.whatsapp.net', '+4915100000001')",
            "INSERT INTO conversations (id, device_id, contact_id, status, version, last_message_at, \
               last_message_preview, created_at) VALUES ('00000000-0000-0000-0000-0000000000f1', \
             '00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000c1', 'open', 1, \
             '2026-01-05T00:00:00.000000Z', 'Hello', '2026-01-05T00:00:00.000000Z')",
            "INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at) \
             VALUES ('00000000-0000-0000-0000-0000000000e9', '00000000-0000-0000-0000-0000000000f1', \
             '00000000-0000-0000-0000-0000000000d1', 'inbound', 'Hello', '2026-01-05T00:00:00.000000Z')",
            "INSERT INTO events (seq, at, type, payload) VALUES (1, '2026-01-05T00:00:00.000000Z', 'x', '{}'), \
             (2, '2026-01-05T00:00:00.000000Z', 'x', '{}'), (3, '2026-01-05T00:00:00.000000Z', 'x', '{}')",
            "INSERT INTO teams (id, name, agent_cap, created_at) \
             VALUES ('00000000-0000-0000-0000-0000000000b7', 'Billing', 5, '2026-01-01T00:00:00.000000Z')",
            "INSERT INTO team_members (team_id, user_id) \
             VALUES ('00000000-0000-0000-0000-0000000000b7', '00000000-0000-0000-0000-00000000000d')",
            "INSERT INTO routing_rules (id, name, position, match_json, team_id, created_at) \
             VALUES ('00000000-0000-0000-0000-0000000000a7', 'Refunds', 1, '{}', \
             '00000000-0000-0000-0000-0000000000b7', '2026-01-01T00:00:00.000000Z')",
            "INSERT INTO audit (at, actor_name, action, summary) \
             VALUES ('2026-01-05T00:00:00.000000Z', 'Handoff', 'route', 'Routed')",
            "INSERT INTO applied (user_id, key, fingerprint, status, response, created_at) \
             VALUES ('00000000-0000-0000-0000-00000000000d', 'k', 'f', 200, '{}', '2026-01-05T00:00:00.000000Z')",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;

        let store =
            Store::open(&database, Hub::new(16), Durability::Full, crate::BUSY_TIMEOUT).await.expect("migrated");
        let mut conn = store.reader().await.expect("a reader");
        let first = first(&mut conn).await.expect("a first workspace");
        assert_eq!(first.name, "Main");
        for (id, role, _, _) in users {
            let user: UserId = id.parse().expect("an id");
            let (had, _) = membership(&mut conn, first.id, user).await.expect("read").expect("a member");
            assert_eq!(had.as_str(), role, "{id} has the role they had");
        }
        let owners: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE owner").fetch_all(&mut *conn).await.expect("read");
        assert_eq!(owners, ["00000000-0000-0000-0000-00000000000b"], "the first active Admin who is a person");
        // There is an owner: another Admin claims nothing.
        let mut w = store.begin().await.expect("the writer");
        claim_ownership(w.conn(), "00000000-0000-0000-0000-00000000000c".parse().expect("an id")).await.expect("ran");
        w.commit().await.expect("committed");
        let owners: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE owner").fetch_all(&mut *conn).await.expect("read");
        assert_eq!(owners, ["00000000-0000-0000-0000-00000000000b"], "one owner");
        let session: Option<String> = sqlx::query_scalar("SELECT workspace_id FROM sessions WHERE token_hash = 'h'")
            .fetch_one(&mut *conn)
            .await
            .expect("read");
        assert_eq!(session, Some(first.id.to_string()));

        // Every row of the team's data is the first workspace's; its events keep their numbers.
        let tables = ["devices", "contacts", "conversations", "messages", "teams", "routing_rules", "audit", "applied"];
        for table in tables.into_iter().chain(["events"]) {
            let others: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} WHERE workspace_id IS NULL OR workspace_id != $1"
            )))
            .bind(first.id)
            .fetch_one(&mut *conn)
            .await
            .expect(table);
            assert_eq!(others, 0, "{table} in the first workspace");
        }
        assert_eq!(store.head_seq(first.id).await.expect("head"), 3);
        // The team kept its member and its rule through the rebuild of its table.
        let kept: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM team_members WHERE team_id = $1), \
                    (SELECT COUNT(*) FROM routing_rules WHERE team_id = $1)",
        )
        .bind("00000000-0000-0000-0000-0000000000b7")
        .fetch_one(&mut *conn)
        .await
        .expect("read");
        assert_eq!(kept, (1, 1));
        let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM events WHERE workspace_id = $1 ORDER BY seq")
            .bind(first.id)
            .fetch_all(&mut *conn)
            .await
            .expect("events");
        assert_eq!(seqs, [1, 2, 3]);
        // The deactivated Admin is a deactivated member; the account itself is left active.
        let a2: UserId = "00000000-0000-0000-0000-0000000000a2".parse().expect("an id");
        assert_eq!(membership(&mut conn, first.id, a2).await.expect("read"), Some((Role::Admin, false)));
        assert!(of_user(&mut conn, a2).await.expect("read").is_empty(), "no workspace to sign in to");
        let active: i64 = sqlx::query_scalar("SELECT CASE WHEN active THEN 1 ELSE 0 END FROM users WHERE id = $1")
            .bind(a2)
            .fetch_one(&mut *conn)
            .await
            .expect("read");
        assert_eq!(active, 1);
    }

    /// An empty installation: its first Admin owns it; an Agent before them would not have.
    #[tokio::test]
    async fn the_first_admin_of_an_empty_installation_owns_it() {
        let dir = tempfile::tempdir().expect("a folder");
        let database = match std::env::var("HANDOFF_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) {
            Some(base) => super::super::test_database(&base, dir.path()),
            None => Database::Sqlite(dir.path().join("handoff.db")),
        };
        let store = Store::open(&database, Hub::new(16), Durability::Full, crate::BUSY_TIMEOUT).await.expect("opened");
        let owner = |store: Store| async move {
            let mut conn = store.reader().await.expect("a reader");
            sqlx::query_scalar::<_, String>("SELECT id FROM users WHERE owner")
                .fetch_all(&mut *conn)
                .await
                .expect("read")
        };
        let ws = first(&mut store.reader().await.expect("a reader")).await.expect("a first workspace").id;
        let create = |email: &'static str, role: handoff_proto::Role| {
            let store = store.clone();
            async move {
                let req = handoff_proto::CreateUserRequest {
                    email: email.into(),
                    name: "Someone".into(),
                    password: "a long enough password".into(),
                    role,
                };
                crate::users::create_user(&store, crate::audit::Who::Server(ws), req).await.expect("created").id
            }
        };
        create("agent@example.com", handoff_proto::Role::Agent).await;
        assert!(owner(store.clone()).await.is_empty(), "an Agent owns nothing");
        let admin = create("admin@example.com", handoff_proto::Role::Admin).await;
        create("second@example.com", handoff_proto::Role::Admin).await;
        assert_eq!(owner(store.clone()).await, [admin.to_string()]);
        let mut conn = store.reader().await.expect("a reader");
        assert_eq!(of_user(&mut conn, admin).await.expect("read").len(), 1, "in the first workspace");
    }
}
