//! A desktop client core in a process of its own, for the fault test that kills a client with
//! SIGKILL while its outbox is being flushed.
//!
//! usage: outbox-agent SERVER TOKEN CACHE CONVERSATION_ID COUNT
//!
//! It resumes the session already stored in the cache file CACHE (offline if SERVER cannot be
//! reached), queues COUNT changes to the conversation (notes, replies and label changes, each
//! body numbered `#i`), prints `queued COUNT` once all are committed to the outbox, and then
//! keeps syncing until it is killed.

use handoff_proto::ConversationId;
use std::io::Write;

use handoff_core::Client;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, token, cache, conversation, count] = args.as_slice() else {
        anyhow::bail!("usage: outbox-agent SERVER TOKEN CACHE CONVERSATION_ID COUNT");
    };
    let conversation = ConversationId::parse_str(conversation)?;
    let count: usize = count.parse()?;
    let client = Client::open(std::path::Path::new(cache)).await?;
    client.resume(server, token).await?;
    for i in 0..count {
        match i % 10 {
            0..=6 => client.note(conversation, &format!("note #{i}")).await?,
            7 | 8 => client.reply(conversation, &format!("reply #{i}"), None, true).await?,
            _ => client.label(conversation, vec![format!("batch-{i}")], vec![]).await?,
        };
    }
    println!("queued {count}");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
