//! A minimal HTTP/1.1 client over a raw socket: the tests need to send well-formed,
//! malformed and trickled requests alike, and read event streams as they come.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::WAIT;

/// A response read to the end of the connection.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// Every value of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `GET path` with `Connection: close` and an optional `Authorization` value.
pub async fn get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> Response {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(auth) = authorization {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    send_raw(addr, request.as_bytes()).await
}

/// Sends `request` as is and reads until the server closes; parses what came back.
pub async fn send_raw(addr: SocketAddr, request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("the admin endpoint accepts connections");
    stream.write_all(request).await.expect("request written");
    let raw = read_to_close(&mut stream, WAIT).await;
    parse(&raw)
        .unwrap_or_else(|| panic!("not an HTTP response: {:?}", String::from_utf8_lossy(&raw)))
}

/// Everything the server sends until it closes (or `limit` passes: a test failure).
pub async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut raw = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut raw))
        .await
        .expect("the server should answer and close the connection")
        .expect("read the response");
    raw
}

/// Everything the server sends until it closes or resets the connection.
pub async fn read_to_close_or_reset(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return raw,
            Ok(Ok(n)) => raw.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("the server should close the connection within {WAIT:?}"),
        }
    }
}

/// Status, headers and body of a response; `None` if it is not one.
pub fn parse(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// An open `/live` event stream.
pub struct EventStream {
    stream: TcpStream,
    buf: Vec<u8>,
    pub status: u16,
}

impl EventStream {
    /// Opens `/live` and reads the response head.
    pub async fn open(addr: SocketAddr, authorization: Option<&str>) -> EventStream {
        Self::open_with(addr, authorization, None).await
    }

    /// [`EventStream::open`] with an `Origin` header, as a browser's `EventSource` may send.
    pub async fn open_with(
        addr: SocketAddr,
        authorization: Option<&str>,
        origin: Option<&str>,
    ) -> EventStream {
        let mut stream = TcpStream::connect(addr).await.expect("connect to admin");
        let mut request = format!("GET /live HTTP/1.1\r\nHost: {addr}\r\n");
        if let Some(auth) = authorization {
            request.push_str(&format!("Authorization: {auth}\r\n"));
        }
        if let Some(origin) = origin {
            request.push_str(&format!("Origin: {origin}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut es = EventStream {
            stream,
            buf: Vec::new(),
            status: 0,
        };
        let head = es.read_until(b"\r\n\r\n").await;
        es.status = parse(&head).map_or(0, |r| r.status);
        es
    }

    async fn read_until(&mut self, delimiter: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self
                .buf
                .windows(delimiter.len())
                .position(|w| w == delimiter)
            {
                let rest = self.buf.split_off(at + delimiter.len());
                return std::mem::replace(&mut self.buf, rest);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("the event stream should keep sending")
                .expect("read the event stream");
            assert!(n > 0, "the event stream closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next `data:` event, parsed as JSON (comments and chunk framing skipped).
    pub async fn next_frame(&mut self) -> serde_json::Value {
        loop {
            let event = self.read_until(b"\n\n").await;
            let text = String::from_utf8_lossy(&event);
            if let Some(at) = text.find("data: ") {
                let json = &text[at + 6..];
                return serde_json::from_str(json.trim_end())
                    .unwrap_or_else(|e| panic!("a frame is JSON ({e}): {json}"));
            }
        }
    }
}
