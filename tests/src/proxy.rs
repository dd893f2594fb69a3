//! A fault proxy for the fault tests: a TCP relay on loopback between clients and the server
//! that can cut connections, refuse new ones, delay traffic, and follow the server to a new port.
//!
//! Every accepted connection gets its own upstream connection and two pumps (client -> server and
//! server -> client). The pumps watch the proxy's [`Fault`]; changing it acts on live connections
//! at once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the network between the clients and the server does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass untouched.
    None,
    /// Live connections are reset and new ones are closed as soon as they are accepted,
    /// as when a laptop loses its network.
    Cut,
    /// Every chunk of bytes, in either direction, waits this long before it is passed on (in
    /// order): a slow link, where acknowledgements arrive late.
    Delay(Duration),
    /// Bytes are swallowed in both directions and nothing is closed: a laptop that went to
    /// sleep or off the network without a goodbye. Only a deadline on the other side notices.
    Silent,
}

pub struct FaultProxy {
    addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    fault: watch::Sender<Fault>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a loopback port, relaying to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let upstream = Arc::new(Mutex::new(upstream));
        let fault = watch::channel(Fault::None).0;
        let task = tokio::spawn(accept(listener, Arc::clone(&upstream), fault.clone()));
        FaultProxy { addr, upstream, fault, task }
    }

    /// `http://127.0.0.1:<port>`: what clients are given instead of the server's address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// New connections go to `upstream` (a restarted server on another port).
    pub fn redirect(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap_or_else(|p| p.into_inner()) = upstream;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.fault.send_replace(Fault::Cut);
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: Arc<Mutex<SocketAddr>>, fault: watch::Sender<Fault>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        if *fault.borrow() == Fault::Cut {
            drop(client);
            continue;
        }
        let target = *upstream.lock().unwrap_or_else(|p| p.into_inner());
        let rx = fault.subscribe();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // Whichever direction ends first ends the connection: both sockets close when the
            // pumps return and drop their halves.
            tokio::select! {
                _ = pump(client_read, server_write, rx.clone()) => {}
                _ = pump(server_read, client_write, rx) => {}
            }
        });
    }
}

/// Copies `from` to `to` until either side closes or the link is cut.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut fault: watch::Receiver<Fault>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = fault.changed() => {
                if changed.is_err() || *fault.borrow() == Fault::Cut {
                    return;
                }
                continue;
            }
        };
        let current = *fault.borrow();
        match current {
            Fault::Cut => return,
            // The fault itself, not a wait for readiness: the link is slow.
            Fault::Delay(d) => tokio::time::sleep(d).await,
            Fault::Silent => continue,
            Fault::None => {}
        }
        if *fault.borrow() == Fault::Cut || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
