//! Presence over real connections: statuses with a grace period, typing that lapses or ends on
//! send, and a server restart that leaves nothing stale.

use handoff_core::Client;
use handoff_proto::{Activity, ConversationId, PresenceStatus, Role, UserId};
use handoff_server::presence::OFFLINE_GRACE_SECS;
use handoff_tests::{wait_for, World};

fn status_of(c: &Client, user: UserId) -> Option<PresenceStatus> {
    c.presence().statuses.into_iter().find(|s| s.user_id == user).map(|s| s.status)
}

fn activity_of(c: &Client, user: UserId) -> Option<(ConversationId, Activity)> {
    c.presence().activities.into_iter().find(|a| a.user_id == user).map(|a| (a.conversation_id, a.activity))
}

async fn wait_status(c: &Client, user: UserId, want: Option<PresenceStatus>) {
    wait_for(&format!("status {want:?}"), c, move |c| async move { status_of(&c, user) == want }).await;
}

async fn wait_activity(c: &Client, user: UserId, want: Option<(ConversationId, Activity)>) {
    wait_for(&format!("activity {want:?}"), c, move |c| async move { activity_of(&c, user) == want }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_and_offline_after_the_grace_period_and_a_restart_leaves_nothing_stale() {
    let mut world = World::start().await;
    let ana_id = world.create_user("ana@test.local", "Ana", Role::Agent).await.id;
    let cy_id = world.create_user("cy@test.local", "Cy", Role::Agent).await.id;
    let ben_id = world.create_user("ben@test.local", "Ben", Role::Agent).await.id;
    let ben = world.client("ben@test.local").await;
    let ana = world.client("ana@test.local").await;
    wait_status(&ben, ana_id, Some(PresenceStatus::Online)).await;
    wait_status(&ben, ben_id, Some(PresenceStatus::Online)).await;

    ana.set_away(true);
    wait_status(&ben, ana_id, Some(PresenceStatus::Away)).await;
    ana.set_away(false);
    wait_status(&ben, ana_id, Some(PresenceStatus::Online)).await;

    // Ana's laptop drops: she stays online through the grace period, then goes offline.
    ana.stop().await;
    world.wait_disconnected(ana_id).await;
    assert_eq!(status_of(&ben, ana_id), Some(PresenceStatus::Online), "no flap within the grace period");
    world.clock.advance(chrono::Duration::seconds(OFFLINE_GRACE_SECS));
    wait_status(&ben, ana_id, None).await;

    // Cy is typing when the server restarts and Cy's app is gone: nobody sees Cy afterwards.
    let msg = world.inbound("+4915100000001", "Hello", None).await;
    let cy = world.client("cy@test.local").await;
    cy.set_presence(Some(msg.conversation_id), Activity::ComposingReply);
    wait_activity(&ben, cy_id, Some((msg.conversation_id, Activity::ComposingReply))).await;
    cy.stop().await;
    world.restart().await;
    wait_for("reconnected with a fresh roster", &ben, |c| async move {
        c.connection() == handoff_core::ConnectionState::Online && status_of(&c, ben_id).is_some()
    })
    .await;
    assert_eq!(activity_of(&ben, cy_id), None);
    assert_eq!(status_of(&ben, cy_id), None);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_lapses_without_renewal_and_ends_when_the_reply_is_sent() {
    let world = World::start().await;
    let ana_id = world.create_user("ana@test.local", "Ana", Role::Agent).await.id;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    let (ana, ben) = (world.client("ana@test.local").await, world.client("ben@test.local").await);
    let msg = world.inbound("+4915100000001", "Hello", None).await;
    let id = msg.conversation_id;
    wait_for("the conversation", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;

    ana.set_presence(Some(id), Activity::ComposingReply);
    wait_activity(&ben, ana_id, Some((id, Activity::ComposingReply))).await;
    let typing = ben.presence().activities.into_iter().find(|a| a.user_id == ana_id).unwrap();
    let ttl = typing.expires_at.expect("composing lapses") - typing.at;
    assert_eq!(ttl.num_seconds(), handoff_proto::TYPING_TTL_SECS);

    // Without a renewal the server forgets it: someone connecting after the TTL sees no typing.
    world.clock.advance(chrono::Duration::seconds(handoff_proto::TYPING_TTL_SECS));
    let cy_id = world.create_user("cy@test.local", "Cy", Role::Agent).await.id;
    let cy = world.client("cy@test.local").await;
    wait_status(&cy, ana_id, Some(PresenceStatus::Online)).await; // the roster has arrived
    wait_status(&cy, cy_id, Some(PresenceStatus::Online)).await;
    assert_eq!(activity_of(&cy, ana_id), None);

    // Sending ends typing at once.
    ana.set_presence(Some(id), Activity::ComposingReply);
    wait_activity(&ben, ana_id, Some((id, Activity::ComposingReply))).await;
    ana.reply(id, "Hi! How can I help?", None, false).await.unwrap();
    wait_activity(&ben, ana_id, Some((id, Activity::Viewing))).await;
    world.stop().await;
}
