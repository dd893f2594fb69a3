//! A first sync of a long history into an empty cache: a bulk import (indexes built after the
//! rows are in), then the search index filled in the background, newest first. In the end the
//! cache equals the server's state, table by table, and every message is searchable exactly once.

use handoff_core::{Change, Client};
use handoff_proto::Role;
use handoff_tests::{settled, wait_for, World, DEADLINE, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_of_a_long_history_is_a_bulk_import_that_ends_exact_and_searchable() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana Lima", Role::Agent).await;
    let mut history = Vec::new();
    for i in 0..120 {
        history.push(world.inbound(&format!("+491510000{:04}", i % 12), &format!("Parcel question {i}"), None).await);
    }

    // Ana's first sign-in on this machine. (A bulk import starts at 20,000 events; 50 here.)
    let ana = Client::open(&world.cache_path("ana@test.local")).await.unwrap();
    ana.set_bulk_import_threshold(50);
    let mut changes = ana.subscribe();
    ana.sign_in(&world.url, "ana@test.local", PASSWORD).await.unwrap();
    let mut announced = Vec::new();
    let indexed = async {
        loop {
            match changes.recv().await {
                Ok(Change::SearchIndex { left, total }) => {
                    announced.push((left, total));
                    if left == 0 {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("change stream ended: {e}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, indexed).await.expect("the search index completed in time");
    assert!(announced.iter().all(|&(_, total)| total == 120), "progress is told against the import: {announced:?}");
    wait_for("online", &ana, |c| async move { c.connection() == handoff_core::ConnectionState::Online }).await;
    assert!(!ana.cache().in_bulk().await.unwrap());

    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    let found = ana.search("parcel question", 200).await.unwrap();
    let newest_first: Vec<_> = history.iter().rev().map(|m| m.id).collect();
    assert_eq!(found.messages.iter().map(|m| m.message_id).collect::<Vec<_>>(), newest_first);
    assert_eq!(found.not_indexed, 0);
    ana.cache().verify_search_index().await.expect("the search index holds exactly the cached messages");

    // From now on events apply the ordinary way, and are searchable at once.
    let live = world.inbound("+4915100000001", "A live parcel question", None).await;
    wait_for("the live message, searchable", &ana, |c| async move {
        c.search("live parcel", 5).await.is_ok_and(|r| r.messages.first().is_some_and(|m| m.message_id == live.id))
    })
    .await;
    world.stop().await;
}
