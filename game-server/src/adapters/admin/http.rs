//! The admin endpoint's HTTP side: the accept loop with its connection cap, one hyper
//! HTTP/1.1 connection per socket with header and stall timeouts, and the handlers.
//!
//! It shares the game's tokio runtime, so its limits are what keep it from hurting the game:
//! at most `max_connections` sockets (more are answered 503 and closed without spawning
//! anything), request heads bounded in size and in time (`header_timeout`, also while a
//! kept-alive connection sits idle), and an event stream that waits on its viewer for at
//! most `stall_timeout` before it is dropped. The stream holds one frame at a time (a
//! watch), so a viewer that stops reading costs a socket buffer, not a growing queue.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN, WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapters::admin::auth::AdminToken;
use crate::adapters::admin::routes::{decide, Decision, RequestHead, Route};
use crate::adapters::admin::AdminStats;
use crate::game::map::MapFeed;

/// The page, built into the binary: no files to deploy, no CDN.
const PAGE: &str = include_str!("../../../admin/index.html");

/// Largest request head hyper buffers (its floor is 8 KiB); more is answered 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;

type Body = Either<Full<Bytes>, Channel<Bytes, Infallible>>;

/// What every connection's handlers share.
pub(crate) struct Served {
    pub token: Option<AdminToken>,
    pub registry: Registry,
    pub stats: Arc<AdminStats>,
    pub feed: Arc<MapFeed>,
    /// The latest event, one for every viewer (serialized once by the pump).
    pub live: watch::Receiver<Bytes>,
    pub stall_timeout: Duration,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

/// Limits of the accept loop.
pub(crate) struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Accepts until `served.shutdown`; every connection task is tracked by `served.tracker`.
pub(crate) async fn accept_loop(listener: TcpListener, served: Arc<Served>, limits: Limits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = served.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            served
                .stats
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            // Best effort and never waiting: a full socket buffer just gets the close.
            let _ = stream.try_write(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            continue;
        };
        let served_conn = Arc::clone(&served);
        let header_timeout = limits.header_timeout;
        served.tracker.spawn(async move {
            served_conn
                .stats
                .connections_open
                .fetch_add(1, Ordering::Relaxed);
            serve_connection(stream, Arc::clone(&served_conn), header_timeout).await;
            served_conn
                .stats
                .connections_open
                .fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

async fn serve_connection(stream: TcpStream, served: Arc<Served>, header_timeout: Duration) {
    let shutdown = served.shutdown.clone();
    // Cancelled by an event stream whose viewer stopped reading: hyper would otherwise wait
    // on the socket forever (no write timeout of its own), holding a connection slot.
    let kill = CancellationToken::new();
    let kill_conn = kill.clone();
    let service = service_fn(move |req| {
        let served = Arc::clone(&served);
        let kill = kill.clone();
        async move { Ok::<_, Infallible>(handle(&served, &req, &kill)) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(64)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            // Malformed requests, timeouts and resets end up here: that one connection
            // closes, and it is not worth more than a debug line.
            if let Err(e) = result {
                tracing::debug!(error = %e, "admin connection ended");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
        // Dropping the connection closes the socket.
        _ = kill_conn.cancelled() => {}
    }
}

fn handle(served: &Served, req: &Request<Incoming>, kill: &CancellationToken) -> Response<Body> {
    let header = |name| req.headers().get(name).map(HeaderValue::as_bytes);
    let head = RequestHead {
        method: req.method().as_str(),
        path: req.uri().path(),
        authorization: header(AUTHORIZATION),
        host: header(HOST),
        origin: header(ORIGIN),
    };
    match decide(&head, served.token.as_ref()) {
        Decision::Serve(Route::Page) => full(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        Decision::Serve(Route::Health) => full(StatusCode::OK, "text/plain; charset=utf-8", "ok\n"),
        Decision::Serve(Route::Metrics) => metrics(served),
        Decision::Serve(Route::Live) => live(served, kill.clone()),
        Decision::Unauthorized => {
            served.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            let mut resp = full(
                StatusCode::UNAUTHORIZED,
                "text/plain; charset=utf-8",
                "admin token required\n",
            );
            // Basic first: a browser shows its login prompt for it (any user name, the
            // token as password); scripts send `Authorization: Bearer <token>`.
            let h = resp.headers_mut();
            h.append(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"game-server admin\", charset=\"UTF-8\""),
            );
            h.append(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"game-server admin\""),
            );
            resp
        }
        Decision::Forbidden => {
            served.stats.forbidden.fetch_add(1, Ordering::Relaxed);
            full(
                StatusCode::FORBIDDEN,
                "text/plain; charset=utf-8",
                "without an admin token only a loopback Host (and Origin) is served\n",
            )
        }
        Decision::NotFound => full(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        ),
        Decision::MethodNotAllowed => full(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n",
        ),
    }
}

fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Either::Left(Full::new(body.into())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn metrics(served: &Served) -> Response<Body> {
    let mut text = String::with_capacity(16 * 1024);
    match prometheus_client::encoding::text::encode(&mut text, &served.registry) {
        Ok(()) => full(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text,
        ),
        Err(e) => {
            tracing::error!(error = %e, "metrics did not encode");
            full(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "metrics did not encode\n",
            )
        }
    }
}

/// The event stream: a task per viewer waits for each new frame and hands it to hyper
/// through a one-frame channel. A viewer that does not take a frame within `stall_timeout`
/// is dropped with its connection (`kill`); one that goes away ends the task at its next
/// frame.
fn live(served: &Served, kill: CancellationToken) -> Response<Body> {
    let (mut tx, body) = Channel::<Bytes, Infallible>::new(1);
    let viewer = served.feed.watch();
    let mut frames = served.live.clone();
    let stall = served.stall_timeout;
    let shutdown = served.shutdown.clone();
    served.tracker.spawn(async move {
        let _viewer = viewer;
        // A comment line first, so the page's EventSource opens at once.
        let mut next = Bytes::from_static(b": game-server live map\nretry: 2000\n\n");
        loop {
            match tokio::time::timeout(stall, tx.send_data(next)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return, // the viewer is gone
                Err(_) => {
                    tracing::debug!("admin viewer stalled; connection closed");
                    kill.cancel();
                    return;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = frames.changed() => if changed.is_err() { return },
            }
            next = frames.borrow_and_update().clone();
        }
    });
    let mut resp = Response::new(Either::Right(body));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
