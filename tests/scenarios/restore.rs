//! An operator restores a backup (`handoff-server backup`, then `restore` on the stopped
//! server; on PostgreSQL `pg_dump`, then `pg_restore` and `handoff-server new-epoch`, as
//! docs/deploy.md says): the restored database has a new epoch, and a real client that had seen
//! more than the backup holds resyncs to exactly the restored state instead of keeping what no
//! longer exists.

use handoff_proto::Role;
use std::path::Path;

use handoff_server::{maintenance, Database};
use handoff_tests::{settled, wait_for, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_makes_every_app_resync_to_it() {
    let mut world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let kept = world.inbound("+4915112345678", "Before the backup", None).await;
    settled(&world, &ana).await;

    let backup = world.dir.path().join("backup.db");
    let backed_up = world.head_seq().await;
    match world.database() {
        Database::Sqlite(_) => {
            let copied = maintenance::backup(&world.database(), &backup).await.expect("an online backup");
            assert_eq!(copied.head_seq, backed_up, "the backup holds everything acknowledged so far");
        }
        Database::Postgres(url) => postgres_tool("pg_dump", &["--format=custom", "--file", path(&backup), &url]).await,
    }

    // After the backup: a new customer, and Ana claims the first one.
    let lost = world.inbound("+4915187654321", "After the backup", None).await;
    ana.claim(kept.conversation_id).await.unwrap();
    settled(&world, &ana).await;
    assert!(ana.last_seq().await.unwrap() > backed_up);

    let addr = world.stop_server().await;
    match world.database() {
        Database::Sqlite(_) => {
            let (_epoch, kept_aside, _) =
                maintenance::restore(&world.data_dir(), &world.database(), &backup).await.expect("restored");
            assert!(kept_aside.is_some_and(|p| p.exists()), "the replaced database is kept");
        }
        Database::Postgres(url) => {
            let args = ["--clean", "--if-exists", "--single-transaction", "--dbname", &url, path(&backup)];
            postgres_tool("pg_restore", &args).await;
            maintenance::new_epoch(&world.data_dir(), &world.database()).await.expect("a new epoch");
        }
    }
    world.start_server(addr).await;
    assert_eq!(world.head_seq().await, backed_up);

    // Ana's app reconnects by itself, sees the new epoch and resyncs from scratch.
    wait_for("the resync to the restored state", &ana, |c| async move {
        c.thread(lost.conversation_id).await.ok().flatten().is_none()
            && c.thread(kept.conversation_id).await.ok().flatten().is_some_and(|t| t.conversation.assignee_id.is_none())
    })
    .await;
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

/// Runs one of PostgreSQL's own tools (on the PATH, or in Debian's versioned folder) and expects
/// it to succeed.
async fn postgres_tool(name: &str, args: &[&str]) {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|dirs| dirs.filter_map(|d| Some(d.ok()?.path().join("bin").join(name))).filter(|p| p.exists()).max())
        .unwrap_or_else(|| name.into());
    let out = tokio::process::Command::new(&bin).args(args).output().await.unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
