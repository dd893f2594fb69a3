//! The notifier over real clients: what reaches the agent, what does not (rate limits, focus,
//! news replayed after an absence), with the exact summaries the desktop shows.

use handoff_core::notifications::{Notification, NotificationKind, NotificationSettings};
use handoff_core::Client;
use handoff_proto::{Activity, ConversationId, Role};
use handoff_tests::{settled, wait_for, World, DEADLINE};
use tokio::sync::mpsc::UnboundedReceiver;

async fn next(rx: &mut UnboundedReceiver<Notification>, what: &str) -> Notification {
    tokio::time::timeout(DEADLINE, rx.recv()).await.unwrap_or_else(|_| panic!("no notification: {what}")).expect("open")
}

async fn has(c: &Client, id: ConversationId) -> bool {
    c.thread(id).await.ok().flatten().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignments_mentions_typing_and_customer_messages_reach_the_agent_once() {
    let world = World::start().await;
    let ana_id = world.create_user("ana@test.local", "Ana Lima", Role::Agent).await.id;
    world.create_user("ben@test.local", "Ben Ortiz", Role::Agent).await;
    let (ana, ben) = (world.client("ana@test.local").await, world.client("ben@test.local").await);
    let (control, mut told) = ana.notifier(NotificationSettings::default());
    control.set_focused(false);

    let msg = world.inbound("+4915100000001", "Where is my order?", None).await;
    let id = msg.conversation_id;
    wait_for("the conversation", &ben, |c| async move { has(&c, id).await }).await;
    ben.assign(id, Some(ana_id), None).await.unwrap();
    let n = next(&mut told, "assigned").await;
    assert_eq!((n.kind, n.summary.as_str()), (NotificationKind::Assigned, "Assigned to you: +4915100000001"));
    assert_eq!(n.body, "by Ben Ortiz · Where is my order?");

    ben.note(id, "@ana can you check the tracking?").await.unwrap();
    let n = next(&mut told, "mentioned").await;
    assert_eq!(
        (n.summary.as_str(), n.body.as_str()),
        ("Ben Ortiz mentioned you: +4915100000001", "@ana can you check the tracking?")
    );

    world.inbound("+4915100000001", "Hello??", None).await;
    let n = next(&mut told, "customer message").await;
    assert_eq!((n.summary.as_str(), n.body.as_str()), ("New message from +4915100000001", "Hello??"));

    ben.set_presence(Some(id), Activity::ComposingReply);
    assert_eq!(next(&mut told, "typing").await.summary, "Ben Ortiz is typing a reply to +4915100000001");
    // Typing again within the minute is not told again; the window in focus hides customer messages.
    ben.set_presence(Some(id), Activity::ComposingNote);
    control.set_focused(true);
    world.inbound("+4915100000001", "Still there?", None).await;
    // Everything reaches Ana in order: the next thing told must be this later mention.
    ben.note(id, "@ana marker").await.unwrap();
    let n = next(&mut told, "the marker").await;
    assert_eq!((n.kind, n.body.as_str()), (NotificationKind::Mentioned, "@ana marker"), "nothing was told in between");

    // News from while Ana was away is not told afresh when she catches up.
    ana.stop().await;
    let other = world.inbound("+4915100000002", "Hi", None).await;
    wait_for("the second conversation", &ben, |c| async move { has(&c, other.conversation_id).await }).await;
    ben.assign(other.conversation_id, Some(ana_id), None).await.unwrap();
    settled(&world, &ben).await;
    ana.start();
    settled(&world, &ana).await;
    ben.note(other.conversation_id, "@ana this one is yours now").await.unwrap();
    let n = next(&mut told, "a live mention after catching up").await;
    assert_eq!(n.kind, NotificationKind::Mentioned, "the replayed assignment was not told: {n:?}");
    world.stop().await;
}
