//! DNS over TCP (RFC 7766): accept with a connection cap (`--tcp-max-connections`; over the
//! cap a connection is closed at once), then per connection read 2-byte length-prefixed
//! queries one after another, answer each through [`Handler::respond`] (no truncation), and
//! close after `--tcp-idle-timeout` without a query or on shutdown. hickory-server's TCP
//! listener has no connection cap, hence this small loop. Must not decide answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::handler::Handler;

/// Accepts on `listener` until `token` is cancelled, then waits for open connections to end.
pub async fn serve(
    listener: TcpListener,
    handler: Handler,
    idle: Duration,
    max_connections: usize,
    token: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = token.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, max_connections, "tcp connection limit reached; closing");
            continue;
        };
        let (handler, token) = (handler.clone(), token.clone());
        tracker.spawn(connection(stream, peer, handler, idle, token, permit));
    }
    tracker.close();
    tracker.wait().await;
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: Handler,
    idle: Duration,
    token: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let mut query = Vec::new();
    let mut out = Vec::with_capacity(512);
    loop {
        let read = async {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await?;
            query.resize(usize::from(u16::from_be_bytes(len)), 0);
            stream.read_exact(&mut query).await?;
            Ok::<_, std::io::Error>(())
        };
        tokio::select! {
            _ = token.cancelled() => return,
            r = tokio::time::timeout(idle, read) => match r {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            },
        }
        if !handler.respond(&query, peer, Protocol::Tcp, &mut out) {
            continue;
        }
        let Ok(len) = u16::try_from(out.len()) else {
            return;
        };
        let written = async {
            stream.write_all(&len.to_be_bytes()).await?;
            stream.write_all(&out).await
        };
        match tokio::time::timeout(idle, written).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "tcp write failed");
                return;
            }
            Err(_) => return,
        }
    }
}
