//! A scripted teammate for the app's E2E test: a real `handoff-core` client that signs in and
//! types in one conversation, renewing its typing as a person would, until its stdin closes.
//!
//! usage: scripted-agent SERVER EMAIL PASSWORD CONVERSATION_ID [reply|note]
//! It prints `online` once connected and `typing <unix ms>` when it starts typing.

use std::io::Read;
use std::time::Duration;

use handoff_core::{Client, ConnectionState};
use handoff_proto::{Activity, ConversationId};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, email, password, conversation, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: scripted-agent SERVER EMAIL PASSWORD CONVERSATION_ID [reply|note]");
    };
    let conversation = ConversationId::parse_str(conversation)?;
    let activity = match rest.first().map(String::as_str) {
        Some("note") => Activity::ComposingNote,
        _ => Activity::ComposingReply,
    };
    let dir = tempfile::tempdir()?;
    let client = Client::open(&dir.path().join("cache.db")).await?;
    client.sign_in(server, email, password).await?;
    client.wait_connection(|s| *s == ConnectionState::Online).await;
    println!("online");

    // Typing lasts until stdin closes; renewed every 3 s, well inside the server's TTL.
    let (done_tx, mut done) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = done_tx.send(());
    });
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    client.set_presence(Some(conversation), activity);
    println!("typing {started}");
    let mut renew = tokio::time::interval(Duration::from_secs(3));
    renew.tick().await;
    loop {
        tokio::select! {
            _ = renew.tick() => client.set_presence(Some(conversation), activity),
            _ = &mut done => break,
        }
    }
    client.set_presence(Some(conversation), Activity::Viewing);
    client.stop().await;
    Ok(())
}
