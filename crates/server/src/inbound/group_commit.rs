//! Group commit: customer messages that arrive together are written in one transaction.
//!
//! Every device's messages go through one queue to one writer. It takes everything waiting,
//! up to [`BATCH_MAX`], writes each message under its own savepoint (one that fails is rolled
//! back alone and its sender gets the error), commits once, and only then answers each sender
//! and lets the hub fan the events out. Nothing is acknowledged before it is committed, exactly
//! as with a transaction per message; what is saved is a commit (and its fsync) per message, and
//! the fan-out of a batch's events reaches each connection in one write.
//!
//! Under a light load every batch holds one message and nothing changes. Under a burst the
//! batches grow by themselves: the longer a commit takes, the more messages wait for the next.
//! The queue holds at most [`QUEUE_DEPTH`] messages: past that, devices wait to hand over more
//! (their deliveries are not acknowledged yet, so WhatsApp keeps them), and memory stays bounded.
//!
//! On SQLite the writer runs on a thread of its own ([`spawn`]): a batch is dozens of short
//! waits on SQLite's own worker thread, and on the server's runtime each of those waits queued
//! behind the fan-out's tasks (200 connections writing a burst's frames), so that writing six
//! messages took 4-6 ms instead of 1.

use handoff_proto::{DeviceId, MessageId, MessageKind, WorkspaceId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{store_message, Incoming, Stored};
use crate::store::{self, DbResult};
use crate::AppState;

/// Messages a batch takes at most: bounds how long the first one waits for the commit.
pub const BATCH_MAX: usize = 64;
/// Messages waiting for the writer at most.
pub const QUEUE_DEPTH: usize = 1024;

/// One message handed over by a device, and where its outcome goes.
pub struct Job {
    /// When the device handed it over.
    queued: std::time::Instant,
    /// The device's workspace.
    ws: WorkspaceId,
    device_id: DeviceId,
    incoming: Incoming,
    kind: MessageKind,
    done: oneshot::Sender<DbResult<Option<MessageId>>>,
}

/// The front of the queue: what devices hand messages to.
pub struct Queue {
    tx: mpsc::Sender<Job>,
}

impl Queue {
    /// The queue, and its receiving end for [`spawn`].
    pub fn new() -> (Queue, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        (Queue { tx }, rx)
    }

    /// Stores a chat message once, returning when it is committed: the new message's id, or
    /// `None` for a redelivery.
    pub async fn message(
        &self,
        ws: WorkspaceId,
        device_id: DeviceId,
        incoming: Incoming,
        kind: MessageKind,
    ) -> DbResult<Option<MessageId>> {
        let (done, outcome) = oneshot::channel();
        let stopped = || store::Error::Stopped;
        let job = Job { queued: std::time::Instant::now(), ws, device_id, incoming, kind, done };
        self.tx.send(job).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Starts the writer: on SQLite on a thread and runtime of its own (see the module's
/// documentation), on PostgreSQL as a task like the others (its connections' sockets belong to
/// the runtime that opened them: a second runtime would tie the two together). The task returned
/// stands for the writer on the server's runtime: aborting it, or that runtime ending, stops the
/// writer, as it stops a task.
pub async fn spawn(state: AppState, rx: mpsc::Receiver<Job>) -> std::io::Result<JoinHandle<()>> {
    if state.store.dialect() == store::Dialect::Postgres {
        return Ok(tokio::spawn(run(state, rx)));
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let (ended, ends) = oneshot::channel::<()>();
    let (built, ready) = oneshot::channel::<std::io::Result<()>>();
    // The runtime is built (and dropped) on the thread: a runtime may not be dropped on another's.
    std::thread::Builder::new().name("handoff-ingest".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return drop(built.send(Err(e))),
        };
        let _ = built.send(Ok(()));
        runtime.block_on(async {
            tokio::select! {
                () = run(state, rx) => {}
                _ = stopped => {}
            }
        });
        let _ = ended.send(());
    })?;
    ready.await.map_err(std::io::Error::other)??;
    Ok(tokio::spawn(async move {
        let _stop = stop; // dropped when this task is: the writer then stops
        let _ = ends.await;
    }))
}

/// The writer's side: batches until the server stops.
async fn run(state: AppState, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    while rx.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        commit(&state, std::mem::take(&mut jobs)).await;
    }
}

/// Writes and commits one batch, then answers every sender.
async fn commit(state: &AppState, jobs: Vec<Job>) {
    let taken = std::time::Instant::now();
    for job in &jobs {
        state.metrics.ingest_wait.observe(taken - job.queued);
    }
    let outcomes = match write(state, &jobs).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            // Nothing was committed: every sender hears why (each adapter retries or redelivers).
            tracing::warn!(error = %e, messages = jobs.len(), "customer messages not stored");
            let reason = e.to_string();
            for job in jobs {
                let _ = job.done.send(Err(store::Error::NotStored(reason.clone())));
            }
            return;
        }
    };
    state.metrics.message_commit();
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        let answer = outcome.map(|stored| {
            stored.as_ref().inspect(|s| s.committed(state));
            stored.map(|s| s.id)
        });
        let _ = job.done.send(answer);
    }
}

/// Each message's outcome, once the batch is committed. Most batches store every message: they
/// are written straight, in one transaction. One message that fails (rare: its device removed
/// meanwhile, a row that breaks a constraint) takes that attempt down, and the batch is written
/// again with a savepoint per message, so that it alone fails.
async fn write(state: &AppState, jobs: &[Job]) -> DbResult<Vec<DbResult<Option<Stored>>>> {
    if jobs.len() > 1 {
        match write_straight(state, jobs).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(e) => tracing::debug!(error = %e, "a batch of customer messages failed: again, one at a time"),
        }
    }
    write_each(state, jobs).await
}

/// The batch in one transaction, all or nothing.
async fn write_straight(state: &AppState, jobs: &[Job]) -> DbResult<Vec<DbResult<Option<Stored>>>> {
    let started = std::time::Instant::now();
    let mut w = state.store.begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(Ok(store_message(&mut w, state, job.ws, job.device_id, &job.incoming, job.kind).await?));
    }
    commit_timed(state, w, started).await?;
    Ok(outcomes)
}

/// The batch in one transaction, each message under its own savepoint (a lone message needs
/// none: its failure is the transaction's).
async fn write_each(state: &AppState, jobs: &[Job]) -> DbResult<Vec<DbResult<Option<Stored>>>> {
    let started = std::time::Instant::now();
    let mut w = state.store.begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    if let [job] = jobs {
        outcomes.push(Ok(store_message(&mut w, state, job.ws, job.device_id, &job.incoming, job.kind).await?));
    } else {
        for job in jobs {
            let point = w.savepoint().await?;
            match store_message(&mut w, state, job.ws, job.device_id, &job.incoming, job.kind).await {
                Ok(stored) => {
                    w.release(point).await?;
                    outcomes.push(Ok(stored));
                }
                Err(e) => {
                    tracing::warn!(error = %e, device_id = %job.device_id, "customer message not stored");
                    w.rollback_to(point).await?;
                    outcomes.push(Err(e));
                }
            }
        }
    }
    commit_timed(state, w, started).await?;
    Ok(outcomes)
}

/// Commits, measuring the writing (since `started`) and the commit apart.
async fn commit_timed(state: &AppState, w: store::Writer<'_>, started: std::time::Instant) -> DbResult<()> {
    let written = std::time::Instant::now();
    state.metrics.ingest_write.observe(written - started);
    w.commit().await?;
    state.metrics.ingest_commit.observe(written.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use handoff_channels::Jid;

    use super::*;
    use crate::hub::HubMsg;

    fn job(
        ws: WorkspaceId,
        device_id: DeviceId,
        wa_message_id: &str,
    ) -> (Job, oneshot::Receiver<DbResult<Option<MessageId>>>) {
        let (done, outcome) = oneshot::channel();
        let incoming = Incoming {
            wa_message_id: wa_message_id.into(),
            chat: Jid::parse("+4915100000001").expect("a phone number"),
            alt: None,
            push_name: None,
            body: format!("message {wa_message_id}"),
            media: None,
            sender: None,
        };
        let queued = std::time::Instant::now();
        (Job { queued, ws, device_id, incoming, kind: MessageKind::Inbound, done }, outcome)
    }

    /// One batch: two messages, one that cannot be stored (its device does not exist), and a
    /// redelivery of the first inside the same batch. The failure is its own; the rest is
    /// committed once, and the hub gets exactly the committed events, in order.
    #[tokio::test]
    async fn a_failing_message_fails_alone_and_the_batch_commits_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = crate::start(crate::Config::for_tests(dir.path())).await.expect("server");
        let state = server.state.clone();
        let device = DeviceId::new();
        let ws =
            crate::store::workspaces::first(&mut state.store.reader().await.expect("reader")).await.expect("one").id;
        let mut w = state.store.begin().await.expect("writer");
        sqlx::query(
            "INSERT INTO devices (id, name, kind, status, created_at, workspace_id) \
             VALUES ($1, 'Line', 'simulator', 'connected', $2, $3)",
        )
        .bind(device.to_string())
        .bind(crate::store::ts(crate::store::now()))
        .bind(ws)
        .execute(w.conn())
        .await
        .expect("device");
        w.commit().await.expect("committed");
        let head = state.store.head_seq(ws).await.expect("head");
        let mut live = state.store.hub().subscribe(ws);

        let (first, first_out) = job(ws, device, "a");
        let (orphan, orphan_out) = job(ws, DeviceId::new(), "b");
        let (second, second_out) = job(ws, device, "c");
        let (again, again_out) = job(ws, device, "a");
        commit(&state, vec![first, orphan, second, again]).await;

        let first_id = first_out.await.expect("answered").expect("stored").expect("new");
        assert!(orphan_out.await.expect("answered").is_err(), "a message for an unknown device is refused");
        let second_id = second_out.await.expect("answered").expect("stored").expect("new");
        assert_eq!(again_out.await.expect("answered").expect("no error"), None, "a redelivery is stored once");

        let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM messages ORDER BY id")
            .fetch_all(&mut *state.store.reader().await.expect("reader"))
            .await
            .expect("messages");
        assert_eq!(stored, vec![first_id.to_string(), second_id.to_string()]);
        let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE device_id != $1")
            .bind(device.to_string())
            .fetch_one(&mut *state.store.reader().await.expect("reader"))
            .await
            .expect("contacts");
        assert_eq!(orphans, 0, "nothing of the failed message is left");

        let mut published = Vec::new();
        while let Ok(HubMsg::Event { seq, .. }) = live.try_recv() {
            published.push(seq);
        }
        let logged: Vec<(i64, String)> = sqlx::query_as("SELECT seq, type FROM events WHERE seq > $1 ORDER BY seq")
            .bind(head)
            .fetch_all(&mut *state.store.reader().await.expect("reader"))
            .await
            .expect("events");
        assert_eq!(published, logged.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), "the hub gets what was logged");
        assert_eq!(logged.iter().filter(|(_, t)| t == "message.created").count(), 2);
        assert_eq!(state.store.head_seq(ws).await.expect("head"), head + logged.len() as i64);
        server.stop().await;
    }
}
