//! A server that fails for a while (its database locked by someone else, as a backup or an
//! operator's `sqlite3` or `psql` can): what it could not apply is answered as transient, the client keeps
//! it in its outbox and sends it again with backoff, and it is applied exactly once when the
//! server can write again. Only a refusal (role, send guard, validation) leaves the outbox.

use std::time::Duration;

use handoff_core::Change;
use handoff_proto::Role;
use handoff_tests::{settled, wait_for, World, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_queued_across_a_failing_server_is_applied_exactly_once() {
    // A write waits 200 ms for a lock before it fails (10 s in production).
    let world = World::start_with(|c| c.busy_timeout = Duration::from_millis(200)).await;
    let ana_user = world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let msg = world.inbound("+4915112345678", "Please call me back", None).await;
    let id = msg.conversation_id;
    wait_for("the conversation", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;

    // Someone else takes the database's write lock: every write of the server now fails.
    let holder = world.lock_database().await;

    let mut changes = ana.subscribe();
    let claim = ana.claim(id).await.expect("queued");
    // The server answers transiently; the client keeps the claim and tries again, twice at least.
    let mut retried = 0;
    while retried < 2 {
        match tokio::time::timeout(DEADLINE, changes.recv()).await.expect("retries in time") {
            Ok(Change::Retrying { mutation_id, conversation_id, .. }) => {
                assert_eq!((mutation_id, conversation_id), (claim, id));
                retried += 1;
            }
            Ok(Change::Rejected { op, error, .. }) => panic!("{op} rejected for good: {error:?}"),
            _ => {}
        }
    }
    assert_eq!(ana.outbox_len().await.unwrap(), 1, "the claim is still queued");
    assert_eq!(world.conversation(id).await.assignee_id, None, "nothing applied while failing");

    // The lock goes: the next attempt is applied, once.
    holder.release().await;
    settled(&world, &ana).await;
    assert_eq!(world.conversation(id).await.assignee_id, Some(ana_user.id));
    let claims =
        world.audit().await.into_iter().filter(|e| e.conversation_id == Some(id) && e.action == "claim").count();
    assert_eq!(claims, 1, "applied exactly once");
    world.assert_converged(&ana).await;
}
