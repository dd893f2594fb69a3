//! One customer, one contact: a phone-number JID, a LID and a c.us id of the same person end in
//! one contact and one conversation per device, and each merge is in the audit log.

use handoff_proto::{AuditEntry, Conversation, Message, Page, Role};
use handoff_tests::{settled, wait_for, World};
use reqwest::Method;

const PHONE: &str = "+4915112345678";
const LID: &str = "184467440737095@lid";

async fn write(world: &World, from: &str, alt: Option<&str>, body: &str) -> Message {
    let req = serde_json::json!({"from": from, "alt": alt, "name": "Lena Hoffmann", "body": body});
    world.call(Method::POST, &format!("/api/v1/devices/{}/simulator/inbound", world.device.id), Some(&req)).await
}

async fn merges(world: &World) -> Vec<AuditEntry> {
    let page: Page<AuditEntry> = world.call(Method::GET, "/api/v1/audit?action=contact.merge", None::<&()>).await;
    page.items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lid_and_a_phone_number_of_one_customer_merge_into_one_conversation() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana Lima", Role::Agent).await;
    let ana = world.client("ana@test.local").await;

    // WhatsApp first shows the customer by a LID only, then (another chat) by the phone number.
    let by_lid = write(&world, LID, None, "Hi, it's Lena").await;
    let by_phone = write(&world, PHONE, None, "Lena again, from my number").await;
    assert_ne!(by_lid.conversation_id, by_phone.conversation_id, "nothing tells they are one person yet");
    let id = by_lid.conversation_id;
    wait_for("both conversations", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;
    // Ana claims the LID one.
    ana.claim(by_lid.conversation_id).await.unwrap();
    settled(&world, &ana).await;

    // A message carries both addresses: the two contacts and conversations become one.
    let both = write(&world, LID, Some(PHONE), "Any news on my order?").await;
    let conversations: Vec<Conversation> = world.conversations().await;
    assert_eq!(conversations.len(), 1, "one conversation: {conversations:?}");
    let merged = &conversations[0];
    assert_eq!(merged.id, both.conversation_id);
    assert_eq!(merged.id, by_phone.conversation_id, "the phone-number contact stays");
    assert_eq!((merged.contact.phone.as_str(), merged.contact.name.as_deref()), (PHONE, Some("Lena Hoffmann")));
    assert!(merged.assignee_id.is_some(), "Ana's claim came along");
    assert_eq!(merged.last_message_preview, "Any news on my order?");
    let bodies: Vec<String> = world.messages(merged.id).await.into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["Hi, it's Lena", "Lena again, from my number", "Any news on my order?"]);
    let audit = merges(&world).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].summary.contains(LID) && audit[0].summary.contains("4915112345678@s.whatsapp.net"),
        "{}",
        audit[0].summary
    );

    // Every address now reaches the one conversation: the LID, the phone, its c.us form.
    for from in [LID, PHONE, "4915112345678@c.us", "4915112345678:7@s.whatsapp.net"] {
        assert_eq!(write(&world, from, None, &format!("via {from}")).await.conversation_id, merged.id, "{from}");
    }
    assert_eq!(world.conversations().await.len(), 1);
    assert_eq!(merges(&world).await.len(), 1, "nothing more to merge");

    // Ana's cache followed: one conversation with every message.
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_customer_seen_with_both_addresses_is_one_contact_and_a_later_phone_only_message_joins_it() {
    let world = World::start().await;
    let first = write(&world, LID, Some(PHONE), "Hello").await;
    let conversation = world.conversations().await.pop().unwrap();
    assert_eq!(conversation.contact.phone, PHONE, "shown by the number, not the LID");
    assert!(merges(&world).await.is_empty(), "nothing was merged: both were new");
    assert_eq!(write(&world, PHONE, None, "Me again").await.conversation_id, first.conversation_id);
    // A contact known only by its LID learns its number later: audited, and shown by the number.
    let other_lid = "99887766554433@lid";
    let lid_only = write(&world, other_lid, None, "Who am I?").await;
    let listed = world.conversations().await.into_iter().find(|c| c.id == lid_only.conversation_id).unwrap();
    assert_eq!(listed.contact.phone, "99887766554433");
    write(&world, other_lid, Some("+447700900123"), "It's Oliver").await;
    let listed = world.conversations().await.into_iter().find(|c| c.id == lid_only.conversation_id).unwrap();
    assert_eq!(listed.contact.phone, "+447700900123");
    let audit = merges(&world).await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].summary.contains("+447700900123"), "{}", audit[0].summary);
    world.stop().await;
}
