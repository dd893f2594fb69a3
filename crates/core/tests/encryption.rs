//! The cache encrypted at rest, on real files: nothing in them reads as text, only its key opens
//! it, a plain cache from before is encrypted in place with everything in it, and only the owner
//! may read the files.

use chrono::{SubsecRound, Utc};
use handoff_core::cache::Cache;
use handoff_core::CacheKey;
use handoff_proto::{
    Contact, ContactId, Conversation, ConversationId, ConversationStatus, DeviceId, Event, EventBody, Message,
    MessageId, MessageKind, UserId,
};
use std::path::Path;

const WORD: &str = "zephyrquokka";
const PHONE: &str = "+4915187654321";

fn event(seq: i64) -> Event {
    let cid = ConversationId::new();
    let at = Utc::now().trunc_subsecs(6);
    let message = Message {
        id: MessageId::new(),
        conversation_id: cid,
        kind: MessageKind::Inbound,
        body: format!("my {WORD} order {seq}"),
        author_id: None,
        created_at: at,
        delivery: None,
        wa_message_id: Some(format!("wamid-{seq}")),
        mutation_id: None,
        failure: None,
        sender: None,
        media: None,
    };
    let conversation = Conversation {
        id: cid,
        device_id: DeviceId::nil(),
        contact: Contact { id: ContactId::new(), name: Some("Quokka Customer".into()), phone: PHONE.into() },
        status: ConversationStatus::Open,
        assignee_id: None,
        team_id: None,
        version: 1,
        last_message_at: at,
        last_message_preview: message.body.clone(),
        unread_count: 1,
        assigned_at: None,
        labels: vec![],
        snooze_until: None,
        opened_at: Some(at),
        first_response_at: None,
        first_response_due_at: None,
        resolution_due_at: None,
        resolved_at: None,
        escalation_note_id: None,
    };
    Event { seq, at, body: EventBody::MessageCreated { message, conversation } }
}

/// Every byte of the cache's files (database, write-ahead log, shared memory).
fn bytes(path: &Path) -> Vec<u8> {
    ["", "-wal", "-shm"].iter().filter_map(|s| std::fs::read(format!("{}{s}", path.display())).ok()).flatten().collect()
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn found(cache: &Cache) -> usize {
    cache.search(WORD, 10).await.unwrap().messages.len()
}

#[cfg(unix)]
fn owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if let Ok(meta) = std::fs::metadata(&file) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
        }
    }
}
#[cfg(not(unix))]
fn owner_only(_: &Path) {}

#[tokio::test]
async fn an_encrypted_cache_reads_as_noise_and_opens_with_its_key_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let key = CacheKey::random();
    let me = UserId::new();
    let cache = Cache::open(&path, Some(&key)).await.unwrap();
    cache.apply_events(&[event(1), event(2)], me).await.unwrap();
    assert_eq!(found(&cache).await, 2);
    // Written, still in the write-ahead log (not checkpointed yet) and in the file: neither
    // holds the word, the number, or even SQLite's header.
    let raw = bytes(&path);
    assert!(raw.len() > 4096, "the files hold the cache");
    for text in [WORD, "Quokka Customer", &PHONE[1..], "SQLite format 3", "CREATE TABLE"] {
        assert!(!holds(&raw, text), "{text:?} readable in the encrypted cache");
    }
    owner_only(&path);
    cache.pool().close().await;

    let again = Cache::open(&path, Some(&key)).await.unwrap();
    assert_eq!((found(&again).await, again.last_seq().await.unwrap()), (2, 2), "its key opens it");
    again.pool().close().await;

    // Another key (the keyring lost this one) cannot read it: a new cache starts, empty (the
    // old one deleted: nobody can read it).
    let other_key = CacheKey::random();
    let other = Cache::open(&path, Some(&other_key)).await.unwrap();
    assert_eq!((found(&other).await, other.last_seq().await.unwrap()), (0, 0));
    other.apply_events(&[event(1)], me).await.unwrap();
    other.pool().close().await;
    // Without a key an encrypted cache does not open, and nothing is deleted or started again.
    assert!(Cache::open(&path, None).await.is_err(), "no key, no cache");
    let again = Cache::open(&path, Some(&other_key)).await.unwrap();
    assert_eq!(again.last_seq().await.unwrap(), 1, "still the cache of the other key");
}

#[tokio::test]
async fn a_plain_cache_from_before_is_encrypted_in_place_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let me = UserId::new();
    let plain = Cache::open(&path, None).await.unwrap();
    plain.apply_events(&[event(1), event(2), event(3)], me).await.unwrap();
    plain.set_meta("epoch", "e1").await.unwrap();
    assert!(holds(&bytes(&path), WORD), "a plain cache holds the word (so the check below can fail)");
    plain.pool().close().await;

    let key = CacheKey::random();
    let cache = Cache::open(&path, Some(&key)).await.unwrap();
    assert_eq!(found(&cache).await, 3, "the messages and their search index came along");
    assert_eq!(cache.last_seq().await.unwrap(), 3);
    assert_eq!(cache.meta("epoch").await.unwrap().as_deref(), Some("e1"));
    let raw = bytes(&path);
    for text in [WORD, &PHONE[1..], "SQLite format 3"] {
        assert!(!holds(&raw, text), "{text:?} still readable after encrypting");
    }
    assert!(!Path::new(&format!("{}-encrypting", path.display())).exists(), "no copy left behind");
    owner_only(&path);
    cache.apply_events(&[event(4)], me).await.unwrap();
    cache.pool().close().await;

    let again = Cache::open(&path, Some(&key)).await.unwrap();
    assert_eq!((found(&again).await, again.last_seq().await.unwrap()), (4, 4), "encrypted once, then opened");
}

/// A file another program made readable to others is closed again when the cache opens.
#[cfg(unix)]
#[tokio::test]
async fn the_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let key = CacheKey::random();
    let cache = Cache::open(&path, Some(&key)).await.unwrap();
    cache.apply_events(&[event(1)], UserId::new()).await.unwrap();
    owner_only(&path);
    cache.pool().close().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = Cache::open(&path, Some(&key)).await.unwrap();
    assert_eq!(again.last_seq().await.unwrap(), 1, "the same cache, opened again");
    owner_only(&path);
}

/// An encryption cut short (the app stopped while writing the encrypted copy) left its copy
/// behind: the next start throws it away and encrypts the plain cache again, with everything.
#[tokio::test]
async fn an_encryption_cut_short_starts_again_from_the_plain_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let plain = Cache::open(&path, None).await.unwrap();
    plain.apply_events(&[event(1), event(2)], UserId::new()).await.unwrap();
    plain.pool().close().await;
    let copy = dir.path().join("cache.db-encrypting");
    std::fs::write(&copy, vec![7u8; 10_000]).unwrap(); // half a copy

    let cache = Cache::open(&path, Some(&CacheKey::random())).await.unwrap();
    assert_eq!((found(&cache).await, cache.last_seq().await.unwrap()), (2, 2));
    assert!(!copy.exists(), "the half copy is gone");
    assert!(!holds(&bytes(&path), WORD), "encrypted");
}
