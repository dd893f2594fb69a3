//! Workspaces and who belongs to them. One installation holds many workspaces; a person has
//! one account and belongs to the workspaces they were added to (docs/decisions.md,
//! "Workspaces").

use chrono::{DateTime, Utc};
use handoff_proto::{UserId, Workspace, WorkspaceEntry, WorkspaceId};
use sqlx::Row;

use super::cols::uuid_col;
use super::{ts, Conn, DbResult};

/// The workspaces `user` belongs to, the oldest first, with their role in each.
pub async fn of_user(conn: &mut Conn, user: UserId) -> DbResult<Vec<WorkspaceEntry>> {
    let rows = sqlx::query(
        "SELECT w.id, w.name, u.role FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id JOIN users u ON u.id = m.user_id \
         WHERE m.user_id = $1 ORDER BY w.created_at, w.id",
    )
    .bind(user.to_string())
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

/// Adds `user` to `workspace` (nothing when they are in it already).
pub async fn add_member(conn: &mut Conn, workspace: WorkspaceId, user: UserId, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id, user_id) DO NOTHING",
    )
    .bind(workspace.to_string())
    .bind(user.to_string())
    .bind(ts(now))
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
        pool.close().await;

        let store =
            Store::open(&database, Hub::new(16), Durability::Full, crate::BUSY_TIMEOUT).await.expect("migrated");
        let mut conn = store.reader().await.expect("a reader");
        let first = first(&mut conn).await.expect("a first workspace");
        assert_eq!(first.name, "Main");
        for (id, role, _, _) in users {
            let user: UserId = id.parse().expect("an id");
            let entries = of_user(&mut conn, user).await.expect("read");
            assert_eq!(entries.len(), 1, "{id} is in one workspace");
            assert_eq!((entries[0].id, entries[0].role.as_str()), (first.id, role));
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
        let create = |email: &'static str, role: handoff_proto::Role| {
            let store = store.clone();
            async move {
                let req = handoff_proto::CreateUserRequest {
                    email: email.into(),
                    name: "Someone".into(),
                    password: "a long enough password".into(),
                    role,
                };
                crate::users::create_user(&store, crate::audit::Who::Server, req).await.expect("created").id
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
