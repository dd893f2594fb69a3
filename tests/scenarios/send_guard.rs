//! The send guard for each cause, through real clients: a reply written against an older version
//! is refused with what changed, its text handed back, and nothing sent to WhatsApp — also when it
//! was queued offline. Changes that do not concern the customer (a note, a label) let it through.

use handoff_core::{Change, Client};
use handoff_proto::{ConversationChange, ConversationId, ErrorDetail, MutationId, Role, UserId};
use handoff_tests::{settled, wait_for, World};

/// Waits for the refusal of `mutation` (the test fails if none comes within the deadline).
async fn refusal(
    changes: &mut tokio::sync::broadcast::Receiver<Change>,
    mutation: MutationId,
) -> (ErrorDetail, Option<String>) {
    let wait = async {
        loop {
            match changes.recv().await.expect("change stream") {
                Change::Rejected { mutation_id, error, body, .. } if mutation_id == mutation => return (error, body),
                _ => {}
            }
        }
    };
    tokio::time::timeout(handoff_tests::DEADLINE, wait).await.expect("refused in time")
}

async fn setup() -> (World, Client, Client, ConversationId, UserId) {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ben_id = world.create_user("ben@test.local", "Ben", Role::Agent).await.id;
    let (ana, ben) = (world.client("ana@test.local").await, world.client("ben@test.local").await);
    let msg = world.inbound("+4915112345678", "Hello?", None).await;
    let id = msg.conversation_id;
    for c in [&ana, &ben] {
        wait_for("the conversation", c, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;
    }
    (world, ana, ben, id, ben_id)
}

async fn seen(c: &Client, id: ConversationId) -> i64 {
    c.thread(id).await.unwrap().unwrap().conversation.version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_customer_message_refuses_the_reply_with_what_the_customer_said() {
    let (world, ana, _ben, id, _) = setup().await;
    let looked = seen(&ana, id).await;
    world.inbound("+4915112345678", "Actually, never mind", None).await;
    let mut changes = ana.subscribe();
    let m = ana.reply(id, "Sure, let me check", Some(looked), false).await.unwrap();
    let (error, body) = refusal(&mut changes, m).await;
    assert_eq!((error.code.as_str(), body.as_deref()), ("conversation_changed", Some("Sure, let me check")));
    assert!(
        matches!(error.changes.as_deref(), Some([ConversationChange::InboundMessage { preview, .. }]) if preview == "Actually, never mind")
    );
    assert!(world.sent().await.is_empty());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reassignment_refuses_the_reply_and_says_to_whom() {
    let (world, ana, ben, id, ben_id) = setup().await;
    let looked = seen(&ana, id).await;
    ben.claim(id).await.unwrap();
    settled(&world, &ben).await;
    let mut changes = ana.subscribe();
    let m = ana.reply(id, "I'll take this", Some(looked), false).await.unwrap();
    let (error, _) = refusal(&mut changes, m).await;
    assert!(
        matches!(error.changes.as_deref(), Some([ConversationChange::Reassigned { assignee_id: Some(a), .. }]) if *a == ben_id)
    );
    // Send anyway goes through.
    ana.reply(id, "I'll take this", None, true).await.unwrap();
    settled(&world, &ana).await;
    assert_eq!(world.sent().await.len(), 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_queued_offline_still_passes_the_guard_when_it_goes_out() {
    let (world, ana, ben, id, _) = setup().await;
    ana.stop().await;
    // Offline, Ana answers what she sees; meanwhile Ben answers and the customer writes again.
    let m = ana.reply(id, "Answered from the train", None, false).await.unwrap();
    assert_eq!(ana.outbox_len().await.unwrap(), 1, "queued, sends when online");
    ben.reply(id, "Ben here, on it", None, false).await.unwrap();
    settled(&world, &ben).await;
    world.inbound("+4915112345678", "Thanks Ben", None).await;
    let mut changes = ana.subscribe();
    ana.start();
    let (error, body) = refusal(&mut changes, m).await;
    assert_eq!(body.as_deref(), Some("Answered from the train"), "the draft came back");
    let kinds: Vec<&str> = error
        .changes
        .iter()
        .flatten()
        .map(|c| match c {
            ConversationChange::Reply { .. } => "reply",
            ConversationChange::InboundMessage { .. } => "inbound",
            ConversationChange::Reassigned { .. } => "reassigned",
        })
        .collect();
    assert_eq!(kinds, ["reply", "inbound"]);
    assert_eq!(world.sent().await.iter().map(|s| s.body.as_str()).collect::<Vec<_>>(), ["Ben here, on it"]);
    world.assert_converged(&ana).await;

    // The refused reply waits in "Needs attention", also after the app restarts.
    ana.stop().await;
    drop(ana);
    let ana = handoff_core::Client::open(&world.cache_path("ana@test.local")).await.unwrap();
    let waiting = ana.attention().await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!((waiting[0].mutation_id, waiting[0].body.as_str()), (m, "Answered from the train"));
    assert_eq!(waiting[0].error.code, "conversation_changed");
    // Ana reads what changed and sends it anyway: it goes out once and leaves the list.
    let session = world.login("ana@test.local").await;
    ana.resume(&world.url, &session.token).await.unwrap();
    settled(&world, &ana).await;
    ana.reply(id, &waiting[0].body, None, true).await.unwrap();
    ana.dismiss_attention(m).await.unwrap();
    settled(&world, &ana).await;
    assert!(ana.attention().await.unwrap().is_empty());
    let sent: Vec<String> = world.sent().await.into_iter().map(|s| s.body).collect();
    assert_eq!(sent, ["Ben here, on it", "Answered from the train"]);
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_or_a_label_does_not_stop_a_reply() {
    let (world, ana, ben, id, _) = setup().await;
    let looked = seen(&ana, id).await;
    ben.note(id, "VIP, be nice").await.unwrap();
    ben.label(id, vec!["vip".into()], vec![]).await.unwrap();
    settled(&world, &ben).await;
    ana.reply(id, "Hello! How can I help?", Some(looked), false).await.unwrap();
    settled(&world, &ana).await;
    assert_eq!(world.sent().await.len(), 1);
    world.stop().await;
}
