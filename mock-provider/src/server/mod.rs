//! The mock provider: an HTTP/1.1 server that answers each request with the response of the
//! exchange it matches, and records the request.
//!
//! The exchange is the one named by the [`EXCHANGE_HEADER`] header; else the one whose method,
//! path and body equal the request's; else the first with the same method and path; else the
//! first with the same path, query ignored; else a provider-shaped `404`. Received requests are
//! listed at `GET` [`REQUESTS_PATH`] and cleared by `DELETE` on it.
//!
//! Bodies, headers and query strings are never logged: a request may hold a prompt, a client's
//! headers or query a key.

mod admin;
mod connection;
mod encoding;
mod http1;
mod recording;
mod replay;
mod routing;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};

pub use admin::REQUESTS_PATH;
pub use recording::ReceivedRequest;
pub use routing::EXCHANGE_HEADER;

use crate::exchange::Exchange;
use recording::RequestLog;
use routing::Catalog;

/// Pause after a failed `accept` (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What every connection shares.
struct Shared {
    catalog: Catalog,
    log: RequestLog,
}

/// A running mock provider. Dropping it stops it too, without waiting.
pub struct MockProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockProvider {
    /// Listens on `addr` (port 0 picks a free port) and serves `exchanges`, matched in the
    /// order given. Fails when an exchange cannot be served or the address cannot be bound.
    pub async fn start(addr: SocketAddr, exchanges: Vec<Exchange>) -> io::Result<MockProvider> {
        let catalog =
            Catalog::new(exchanges).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;

        info!(addr = %addr, exchanges = catalog.len(), "mock provider listening");
        let shared = Arc::new(Shared {
            catalog,
            log: RequestLog::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept(listener, Arc::clone(&shared), stopped));

        Ok(MockProvider {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order, except those to [`REQUESTS_PATH`].
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.log.snapshot()
    }

    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Stops listening and closes every connection, responses in flight included.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The accept loop may already be gone; then there is nothing to stop.
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
            && error.is_panic()
        {
            warn!(error = %error, "mock provider stopped by a panic");
        }
        info!(addr = %self.addr, "mock provider stopped");
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    // Connections live in the set so that stopping the server ends them too.
    let mut connections = JoinSet::new();

    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let shared = Arc::clone(&shared);
                    connections.spawn(async move { connection::serve(stream, &shared).await });
                }
                Err(error) => {
                    warn!(error = %error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    connections.shutdown().await;
}
