//! A client that vanishes without a goodbye (a laptop put to sleep, a network that drops every
//! packet without a reset): the server's pings go unanswered, it drops the connection at its
//! read deadline, and routing stops counting that agent. A client that is there answers the
//! pings and keeps its connection.

use std::time::Duration;

use handoff_proto::Role;
use handoff_tests::proxy::{Fault, FaultProxy};
use handoff_tests::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_client_is_dropped_at_the_read_deadline_and_a_present_one_is_kept() {
    // Pings every 100 ms, a client dropped after 500 ms of silence (10 s and 20 s in production).
    let world = World::start_with(|c| {
        c.ws_ping_every = Duration::from_millis(100);
        c.ws_read_deadline = Duration::from_millis(500);
    })
    .await;
    let ana_user = world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ben_user = world.create_user("ben@test.local", "Ben", Role::Agent).await;
    let presence = &world.server.as_ref().expect("in process").state.presence;
    let ana = world.client("ana@test.local").await;
    let proxy = FaultProxy::start(world.addr()).await;
    let ben = world.client_at("ben@test.local", &proxy.url()).await;
    world.wait_online(ben_user.id, true).await;
    let sessions = world.ws_sessions().await;

    // Ben's laptop goes silent: nothing passes, nothing is closed.
    proxy.set(Fault::Silent);
    world.wait_disconnected(ben_user.id).await;
    let ws = world.first_workspace().await;
    assert_eq!(presence.connections(ws, ben_user.id), 0, "routing no longer counts Ben");

    // Ana, connected all along (longer than the deadline by now), answered every ping: still
    // on her first connection.
    assert_eq!(presence.connections(ws, ana_user.id), 1);
    assert_eq!(world.ws_sessions().await, sessions, "nobody reconnected");
    assert_eq!(ana.connection(), handoff_core::ConnectionState::Online);
    drop(ben);
}
