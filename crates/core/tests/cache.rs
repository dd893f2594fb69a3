//! The cache and the outbox on a real SQLite file: events apply once, optimistic changes show at
//! once and roll back cleanly.

use chrono::{DateTime, SubsecRound, Utc};
use handoff_core::cache::Cache;
use handoff_core::{outbox, InboxView};
use handoff_proto::{
    Contact, ContactId, Conversation, ConversationId, ConversationStatus, Delivery, DeviceId, ErrorDetail, Event,
    EventBody, Message, MessageId, MessageKind, Op, TeamId, UserId,
};
use uuid::Uuid;

/// Now, at the precision the server sends (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn conversation(id: ConversationId, version: i64) -> Conversation {
    Conversation {
        id,
        device_id: DeviceId::nil(),
        contact: Contact { id: ContactId::new(), name: Some("Lena".into()), phone: "+4915112345678".into() },
        status: ConversationStatus::Open,
        assignee_id: None,
        team_id: None,
        version,
        last_message_at: now(),
        last_message_preview: "Hello".into(),
        unread_count: 0,
        assigned_at: None,
        labels: vec!["billing".into(), "vip".into()],
        snooze_until: None,
        opened_at: Some(now()),
        first_response_at: None,
        first_response_due_at: Some(now()),
        resolution_due_at: None,
        resolved_at: None,
        escalation_note_id: None,
    }
}

fn inbound(conversation_id: ConversationId, body: &str) -> Message {
    Message {
        id: MessageId::new(),
        conversation_id,
        kind: MessageKind::Inbound,
        body: body.into(),
        author_id: None,
        created_at: now(),
        delivery: None,
        wa_message_id: Some(format!("3EB0{}", Uuid::now_v7().simple())),
        mutation_id: None,
        failure: None,
        sender: None,
        media: None,
    }
}

async fn cache() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache.db"), None).await.unwrap();
    (dir, cache)
}

#[tokio::test]
async fn events_apply_once_and_move_last_seq() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let cid = ConversationId::new();
    let msg = inbound(cid, "Hello");
    let events = vec![Event {
        seq: 1,
        at: Utc::now(),
        body: EventBody::MessageCreated { message: msg.clone(), conversation: conversation(cid, 1) },
    }];
    let touched = cache.apply_events(&events, me).await.unwrap();
    assert!(touched.inbox);
    assert_eq!(touched.conversations, vec![cid]);
    // The same batch again (a replay after a reconnect) changes nothing.
    let again = cache.apply_events(&events, me).await.unwrap();
    assert!(!again.inbox && again.conversations.is_empty());
    assert_eq!(cache.last_seq().await.unwrap(), 1);
    let inbox = cache.inbox(InboxView::Unassigned, me, None, None, 10).await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].unread_count, 1);
    assert_eq!(cache.thread(cid).await.unwrap().unwrap().messages.len(), 1);
}

#[tokio::test]
async fn a_reply_shows_at_once_and_a_refusal_takes_it_back() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let cid = ConversationId::new();
    let created = EventBody::MessageCreated { message: inbound(cid, "Hello"), conversation: conversation(cid, 1) };
    cache.apply_events(&[Event { seq: 1, at: Utc::now(), body: created }], me).await.unwrap();

    let op = Op::Reply { conversation_id: cid, body: "On it".into(), seen_version: 1, force: false };
    let mutation = outbox::enqueue(&cache, me, op).await.unwrap();
    let thread = cache.thread(cid).await.unwrap().unwrap();
    let mine = thread.messages.last().unwrap();
    assert_eq!(
        (mine.message.id, mine.queued, mine.message.delivery),
        (MessageId::from(mutation.uuid()), true, Some(Delivery::Pending))
    );
    assert_eq!(outbox::pending(&cache).await.unwrap().len(), 1);

    let error = ErrorDetail {
        code: "conversation_changed".into(),
        message: "The customer wrote again.".into(),
        field: None,
        changes: None,
        version: Some(2),
        assignee_id: None,
        claimed_at: None,
        transient: None,
    };
    let refused = outbox::rejected(&cache, mutation, &error).await.unwrap();
    assert!(matches!(refused, Some((Op::Reply { .. }, true))));
    assert_eq!(cache.thread(cid).await.unwrap().unwrap().messages.len(), 1, "the optimistic reply stayed");
    assert_eq!(outbox::len(&cache).await.unwrap(), 0);
    // The text waits in "Needs attention", through a new epoch, until it is dismissed.
    cache.wipe(false).await.unwrap();
    let waiting = outbox::attention(&cache).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        (waiting[0].mutation_id, waiting[0].op.as_str(), waiting[0].body.as_str()),
        (mutation, "reply", "On it")
    );
    assert_eq!(waiting[0].error, error);
    assert!(outbox::dismiss(&cache, mutation).await.unwrap());
    assert!(outbox::attention(&cache).await.unwrap().is_empty());
    // A refused claim has no text to keep.
    let claim = outbox::enqueue(&cache, me, Op::Claim { conversation_id: cid }).await.unwrap();
    assert!(matches!(outbox::rejected(&cache, claim, &error).await.unwrap(), Some((Op::Claim { .. }, false))));
    assert!(outbox::attention(&cache).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_servers_copy_replaces_the_optimistic_one() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let cid = ConversationId::new();
    let created = EventBody::MessageCreated { message: inbound(cid, "Hello"), conversation: conversation(cid, 1) };
    cache.apply_events(&[Event { seq: 1, at: Utc::now(), body: created }], me).await.unwrap();
    let op = Op::Note { conversation_id: cid, body: "VIP".into() };
    let mutation = outbox::enqueue(&cache, me, op).await.unwrap();
    outbox::acknowledged(&cache, mutation).await.unwrap();
    let server_copy = Message {
        id: MessageId::new(),
        kind: MessageKind::Note,
        body: "VIP".into(),
        author_id: Some(me),
        delivery: None,
        wa_message_id: None,
        mutation_id: Some(mutation),
        ..inbound(cid, "")
    };
    let body = EventBody::MessageCreated { message: server_copy.clone(), conversation: conversation(cid, 2) };
    cache.apply_events(&[Event { seq: 2, at: Utc::now(), body }], me).await.unwrap();
    let messages = cache.thread(cid).await.unwrap().unwrap().messages;
    assert_eq!(messages.len(), 2, "the note is there once");
    assert_eq!(messages[1].message, server_copy);
    assert!(!messages[1].queued);
}

#[tokio::test]
async fn wiping_for_a_new_epoch_keeps_the_outbox() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let cid = ConversationId::new();
    let created = EventBody::MessageCreated { message: inbound(cid, "Hello"), conversation: conversation(cid, 1) };
    cache.apply_events(&[Event { seq: 7, at: Utc::now(), body: created }], me).await.unwrap();
    outbox::enqueue(&cache, me, Op::Claim { conversation_id: cid }).await.unwrap();
    cache.wipe(false).await.unwrap();
    assert_eq!(cache.last_seq().await.unwrap(), 0);
    assert!(cache.inbox(InboxView::All, me, None, None, 10).await.unwrap().is_empty());
    assert_eq!(outbox::len(&cache).await.unwrap(), 1, "a queued change was lost");
}

#[tokio::test]
async fn views_narrow_by_team_label_status_and_mentions() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let team = TeamId::new();
    let (a, b, c) = (ConversationId::new(), ConversationId::new(), ConversationId::new());
    let mut in_team = conversation(a, 1); // labels billing, vip
    in_team.team_id = Some(team);
    let mut snoozed = conversation(b, 1);
    snoozed.status = ConversationStatus::Snoozed;
    snoozed.labels = vec!["billing-old".into()];
    let mut resolved = conversation(c, 1);
    resolved.status = ConversationStatus::Resolved;
    resolved.labels = vec![];
    let mut events: Vec<Event> = [in_team, snoozed, resolved]
        .into_iter()
        .enumerate()
        .map(|(i, conv)| Event {
            seq: i as i64 + 1,
            at: Utc::now(),
            body: EventBody::MessageCreated { message: inbound(conv.id, "Hi"), conversation: conv },
        })
        .collect();
    let mention = EventBody::Mention { conversation_id: b, message_id: MessageId::new(), user_id: me, by: None };
    events.push(Event { seq: 4, at: Utc::now(), body: mention });
    let billing = handoff_proto::Team {
        id: team,
        name: "Billing".into(),
        member_ids: vec![me],
        agent_cap: 5,
        first_response_secs: None,
        resolution_secs: None,
    };
    events.push(Event { seq: 5, at: Utc::now(), body: EventBody::TeamUpdated { team: billing.clone() } });
    let touched = cache.apply_events(&events, me).await.unwrap();
    assert_eq!(touched.mentions.len(), 1);

    let ids = |v: Vec<handoff_proto::Conversation>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let view = |v, team, label| {
        let cache = cache.clone();
        async move { ids(cache.inbox(v, me, team, label, 10).await.unwrap()) }
    };
    assert_eq!(view(InboxView::Unassigned, None, None).await, vec![a], "snoozed and resolved are out of the way");
    assert_eq!(view(InboxView::Team, Some(team), None).await, vec![a]);
    assert_eq!(view(InboxView::Snoozed, None, None).await, vec![b]);
    assert_eq!(view(InboxView::Resolved, None, None).await, vec![c]);
    assert_eq!(view(InboxView::Mentions, None, None).await, vec![b]);
    assert_eq!(view(InboxView::All, None, Some("billing")).await, vec![a], "a label matches whole, not a prefix");
    assert_eq!(view(InboxView::All, None, Some("VIP")).await, vec![a]);
    assert_eq!(cache.labels().await.unwrap(), vec!["billing", "billing-old", "vip"]);
    let counts = cache.counts(me).await.unwrap();
    assert_eq!(
        (counts.mine, counts.unassigned, counts.all, counts.mentions, counts.snoozed, counts.resolved),
        (0, 1, 3, 1, 1, 1)
    );
    assert_eq!(counts.teams, vec![(team, 1)]);
    assert_eq!(cache.teams().await.unwrap(), vec![billing]);

    // Another account on this machine starts from nothing: no teams, no mentions of the last one.
    cache.wipe(true).await.unwrap();
    assert!(cache.teams().await.unwrap().is_empty());
    assert_eq!(cache.counts(me).await.unwrap().mentions, 0);
}

#[tokio::test]
async fn a_batch_written_in_runs_ends_as_if_applied_one_by_one_and_is_searchable() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let (a, b) = (ConversationId::new(), ConversationId::new());
    let first = inbound(a, "Where is my refund?");
    let mut delivered = first.clone();
    delivered.delivery = Some(Delivery::Delivered);
    let mut claimed = conversation(a, 2);
    claimed.assignee_id = Some(me);
    let mut later = conversation(a, 3);
    later.assignee_id = Some(me);
    later.last_message_preview = "Any news on the refund?".into();
    let second = inbound(a, "Any news on the refund?");
    let mut bodies = vec![
        EventBody::MessageCreated { message: first.clone(), conversation: conversation(a, 1) },
        EventBody::MessageCreated { message: inbound(b, "Hello"), conversation: conversation(b, 1) },
        EventBody::MessageUpdated { message: delivered },
        // Not a message event: the run so far is written before it, and it sees the state before it.
        EventBody::ConversationUpdated {
            conversation: claimed,
            actor_id: None,
            cause: handoff_proto::UpdateCause::Assigned,
        },
        EventBody::MessageCreated { message: second.clone(), conversation: later },
    ];
    let events: Vec<Event> =
        bodies.drain(..).enumerate().map(|(i, body)| Event { seq: i as i64 + 1, at: now(), body }).collect();
    let touched = cache.apply_events(&events, me).await.unwrap();
    assert_eq!(touched.assigned_to_me, vec![(a, None)], "the assignment is news");
    assert_eq!(touched.conversations, vec![a, b]);

    let thread = cache.thread(a).await.unwrap().unwrap();
    assert_eq!(thread.conversation.version, 3, "the last state of the conversation wins");
    assert_eq!(thread.conversation.assignee_id, Some(me));
    let messages: Vec<(MessageId, Option<Delivery>)> =
        thread.messages.iter().map(|m| (m.message.id, m.message.delivery)).collect();
    assert_eq!(messages, vec![(first.id, Some(Delivery::Delivered)), (second.id, None)]);
    assert_eq!(cache.last_seq().await.unwrap(), 5);

    // Both messages are in the search index once, newest first, with the match marked.
    let found = cache.search("refu", 10).await.unwrap();
    let ids: Vec<MessageId> = found.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(ids, vec![second.id, first.id]);
    assert_eq!(found.messages[1].snippet, "Where is my \u{2}refund\u{3}?");
    assert_eq!(found.contacts.len(), 0, "no contact is called refu");
    assert_eq!(cache.search("lena", 10).await.unwrap().contacts.len(), 2);
}

async fn search_index_is_exact(cache: &Cache) {
    cache.verify_search_index().await.expect("the search index matches the messages");
}

/// The thread and queue indexes a bulk import builds at its end are there.
async fn has_thread_index(cache: &Cache) -> bool {
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' \
           AND name IN ('messages_by_conversation', 'conversations_by_activity')",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert!(found != 1, "both or neither");
    found == 2
}

fn parcels(conversation_id: ConversationId, from: i64, n: usize) -> (Vec<Message>, Vec<Event>) {
    let messages: Vec<Message> = (0..n).map(|i| inbound(conversation_id, &format!("Parcel number {i}"))).collect();
    let events = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Event {
            seq: from + i as i64,
            at: now(),
            body: EventBody::MessageCreated { message: m.clone(), conversation: conversation(conversation_id, 1) },
        })
        .collect();
    (messages, events)
}

#[tokio::test]
async fn a_bulk_import_is_usable_at_once_and_searchable_newest_first_as_it_is_indexed() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let a = ConversationId::new();
    assert!(cache.begin_bulk().await.unwrap(), "an empty cache opens a bulk import");
    let (imported, events) = parcels(a, 1, 50);
    cache.apply_events(&events[..30], me).await.unwrap();
    // A reply written during the import, then confirmed by the server: the optimistic row goes.
    let mut reply = inbound(a, "Your parcel left today");
    reply.kind = MessageKind::Outbound;
    let op = Op::Reply { conversation_id: a, body: reply.body.clone(), seen_version: 1, force: false };
    let mutation_id = outbox::enqueue(&cache, me, op).await.unwrap();
    reply.mutation_id = Some(mutation_id);
    cache.apply_events(&events[30..], me).await.unwrap();
    let confirmed = Event {
        seq: 51,
        at: now(),
        body: EventBody::MessageCreated { message: reply.clone(), conversation: conversation(a, 2) },
    };
    cache.apply_events(&[confirmed], me).await.unwrap();
    assert!(cache.begin_bulk().await.unwrap(), "an interrupted import goes on");
    let during = cache.search("parcel", 100).await.unwrap();
    assert_eq!((during.messages.len(), during.not_indexed), (0, 51), "nothing searchable yet, and said so");

    cache.end_bulk().await.unwrap();
    assert!(has_thread_index(&cache).await);
    assert_eq!(cache.thread(a).await.unwrap().unwrap().messages.len(), 51, "threads read as usual");
    let left = cache.index_search_backlog(20).await.unwrap().unwrap();
    assert_eq!((left.left, left.total), (31, 51));
    let found = cache.search("parcel", 100).await.unwrap();
    let newest: Vec<MessageId> = imported[31..].iter().rev().map(|m| m.id).collect();
    assert_eq!(found.messages.iter().skip(1).map(|m| m.message_id).collect::<Vec<_>>(), newest, "the newest first");
    assert_eq!(found.messages[0].message_id, reply.id);

    // A live message is searchable at once, backlog or not.
    let (live, events) = parcels(a, 52, 1);
    cache.apply_events(&events, me).await.unwrap();
    assert_eq!(cache.search("parcel", 1).await.unwrap().messages[0].message_id, live[0].id);

    while cache.index_search_backlog(20).await.unwrap().is_some_and(|b| b.left > 0) {}
    assert_eq!(cache.index_search_backlog(20).await.unwrap(), None, "nothing left to do");
    let all = cache.search("parcel", 100).await.unwrap();
    assert_eq!((all.messages.len(), all.not_indexed), (52, 0));
    search_index_is_exact(&cache).await;
    assert!(!cache.begin_bulk().await.unwrap(), "a cache with messages catches up the ordinary way");
}

#[tokio::test]
async fn a_bulk_import_cut_short_is_finished_when_the_cache_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let me = UserId::new();
    let a = ConversationId::new();
    {
        let cache = Cache::open(&path, None).await.unwrap();
        assert!(cache.begin_bulk().await.unwrap());
        cache.apply_events(&parcels(a, 1, 10).1, me).await.unwrap();
        assert!(!has_thread_index(&cache).await, "built at the end, not row by row");
        // The app stops here, mid-import.
    }
    let cache = Cache::open(&path, None).await.unwrap();
    assert!(!cache.in_bulk().await.unwrap());
    assert!(has_thread_index(&cache).await, "threads have their index again, online or not");
    assert_eq!(cache.search_backlog().await.unwrap().left, 10);
    while cache.index_search_backlog(4).await.unwrap().is_some() {}
    assert_eq!(cache.search("parcel", 100).await.unwrap().messages.len(), 10);
    search_index_is_exact(&cache).await;

    // A new epoch wipes the cache mid-backlog: the gap closes and the index stays exact.
    let b = ConversationId::new();
    let (_, events) = parcels(b, 11, 5);
    let fresh = Cache::open(&dir.path().join("other.db"), None).await.unwrap();
    assert!(fresh.begin_bulk().await.unwrap());
    fresh.apply_events(&events, me).await.unwrap();
    fresh.wipe(false).await.unwrap();
    assert!(has_thread_index(&fresh).await);
    assert_eq!(fresh.search_backlog().await.unwrap().left, 0);
    search_index_is_exact(&fresh).await;
}

/// A long thread's newest page: the newest messages in order, how many are older, the
/// escalation note and the customer's last message wherever they are; and a page that keeps its
/// oldest message keeps everything it showed as new messages arrive.
#[tokio::test]
async fn a_thread_page_holds_the_newest_messages_and_keeps_what_it_showed() {
    let (_dir, cache) = cache().await;
    let me = UserId::new();
    let cid = ConversationId::new();
    let mut seq = 0;
    let mut apply = async |message: Message, note: Option<MessageId>| {
        seq += 1;
        let conversation = Conversation { escalation_note_id: note, ..conversation(cid, seq) };
        let event = Event { seq, at: now(), body: EventBody::MessageCreated { message, conversation } };
        cache.apply_events(&[event], me).await.unwrap();
    };
    let base = now();
    let at = |i: i64| base + chrono::Duration::milliseconds(i);
    // The customer's last message and the escalation note come first; 300 replies follow.
    let first = Message { created_at: at(0), ..inbound(cid, "Where is my order?") };
    let note = Message { kind: MessageKind::Note, created_at: at(1), ..inbound(cid, "Escalated: refund") };
    apply(first.clone(), None).await;
    apply(note.clone(), Some(note.id)).await;
    for i in 0..300 {
        let reply =
            Message { kind: MessageKind::Outbound, created_at: at(2 + i), ..inbound(cid, &format!("reply {i}")) };
        apply(reply, Some(note.id)).await;
    }

    let page = cache.thread_page(cid, 200, None).await.unwrap().unwrap();
    assert_eq!(page.messages.len(), 200);
    assert_eq!(page.earlier, 102);
    let bodies: Vec<&str> = page.messages.iter().map(|m| m.message.body.as_str()).collect();
    assert_eq!((bodies[0], bodies[199]), ("reply 100", "reply 299"), "the newest 200, oldest first");
    assert_eq!(page.escalation_note.as_ref().map(|m| m.message.id), Some(note.id), "the note, though not in the page");
    assert_eq!(page.last_inbound_at, Some(first.created_at), "the customer's message, though not in the page");

    // Five more replies: a page kept from its oldest message holds all it held, and the new ones.
    let oldest = page.messages[0].message.id;
    for i in 300..305 {
        let reply =
            Message { kind: MessageKind::Outbound, created_at: at(2 + i), ..inbound(cid, &format!("reply {i}")) };
        apply(reply, Some(note.id)).await;
    }
    let kept = cache.thread_page(cid, 200, Some(oldest)).await.unwrap().unwrap();
    assert_eq!(kept.messages.len(), 205);
    assert_eq!(kept.messages[0].message.id, oldest);
    assert_eq!(kept.earlier, 102);
    // Without it, the newest 200 only; the whole thread has everything.
    assert_eq!(cache.thread_page(cid, 200, None).await.unwrap().unwrap().earlier, 107);
    let whole = cache.thread(cid).await.unwrap().unwrap();
    assert_eq!((whole.messages.len(), whole.earlier), (307, 0));
}

#[tokio::test]
async fn drafts_are_kept_per_conversation_and_mode_and_go_with_a_wipe_for_another_account() {
    use handoff_core::drafts::{self, DraftMode};
    let (_dir, cache) = cache().await;
    let (a, b) = (ConversationId::new(), ConversationId::new());
    drafts::set(&cache, a, DraftMode::Note, "Internal: VIP").await.unwrap();
    drafts::set(&cache, a, DraftMode::Reply, "Hi Lena").await.unwrap();
    drafts::set(&cache, b, DraftMode::Reply, "Hello").await.unwrap();
    assert_eq!(drafts::get(&cache, a, DraftMode::Note).await.unwrap().as_deref(), Some("Internal: VIP"));
    assert_eq!(drafts::get(&cache, a, DraftMode::Reply).await.unwrap().as_deref(), Some("Hi Lena"));
    assert_eq!(drafts::get(&cache, b, DraftMode::Note).await.unwrap(), None, "a note draft is its own");
    drafts::set(&cache, a, DraftMode::Reply, "Hi Lena, it shipped").await.unwrap();
    assert_eq!(drafts::get(&cache, a, DraftMode::Reply).await.unwrap().as_deref(), Some("Hi Lena, it shipped"));
    drafts::set(&cache, a, DraftMode::Reply, "  ").await.unwrap();
    assert_eq!(drafts::get(&cache, a, DraftMode::Reply).await.unwrap(), None, "a blank draft is no draft");

    // A new epoch keeps the agent's words; another account on this computer does not get them.
    cache.wipe(false).await.unwrap();
    assert_eq!(drafts::get(&cache, a, DraftMode::Note).await.unwrap().as_deref(), Some("Internal: VIP"));
    cache.wipe(true).await.unwrap();
    assert_eq!(drafts::get(&cache, a, DraftMode::Note).await.unwrap(), None);
    assert_eq!(drafts::get(&cache, b, DraftMode::Reply).await.unwrap(), None);
}
