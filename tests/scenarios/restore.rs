//! An operator restores a backup (`handoff-server backup`, then `restore` on the stopped
//! server): the restored database has a new epoch, and a real client that had seen more than
//! the backup holds resyncs to exactly the restored state instead of keeping what no longer
//! exists.

use handoff_proto::Role;
use handoff_server::maintenance;
use handoff_tests::{settled, wait_for, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_makes_every_app_resync_to_it() {
    let mut world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let kept = world.inbound("+4915112345678", "Before the backup", None).await;
    settled(&world, &ana).await;

    let backup = world.dir.path().join("backup.db");
    let copied = maintenance::backup(&world.data_dir(), &backup).await.expect("an online backup");
    assert_eq!(copied.head_seq, world.head_seq().await, "the backup holds everything acknowledged so far");

    // After the backup: a new customer, and Ana claims the first one.
    let lost = world.inbound("+4915187654321", "After the backup", None).await;
    ana.claim(kept.conversation_id).await.unwrap();
    settled(&world, &ana).await;
    assert!(ana.last_seq().await.unwrap() > copied.head_seq);

    let addr = world.stop_server().await;
    let (_epoch, kept_aside, _) = maintenance::restore(&world.data_dir(), &backup).await.expect("restored");
    assert!(kept_aside.is_some_and(|p| p.exists()), "the replaced database is kept");
    world.start_server(addr).await;
    assert_eq!(world.head_seq().await, copied.head_seq);

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
