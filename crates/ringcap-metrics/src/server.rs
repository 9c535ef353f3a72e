//! A small HTTP/1.1 server for `/metrics`: one thread, one connection at a time, every
//! connection closed after its answer. Scrapes come every few seconds, so nothing more is
//! needed; read and write timeouts keep a stuck client from holding the thread for long.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::format::{to_prometheus_text, wants_openmetrics, OPENMETRICS, PROMETHEUS_TEXT};
use crate::Metrics;

/// Why the listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("{addr}: not an ADDRESS:PORT (e.g. 127.0.0.1:9100 or [::1]:9100)")]
    Address { addr: String },
    #[error("{addr}: cannot listen: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A bound listener, not serving yet: bind at start (so a port in use fails before anything
/// else happens), serve once the metrics' sources exist.
pub struct Listener {
    listener: TcpListener,
}

impl Listener {
    /// Binds `addr` (`ADDRESS:PORT`, or `NAME:PORT` resolved locally).
    pub fn bind(addr: &str) -> Result<Listener, BindError> {
        let addrs: Vec<SocketAddr> = match addr.parse::<SocketAddr>() {
            Ok(a) => vec![a],
            Err(_) => addr
                .to_socket_addrs()
                .map_err(|_| BindError::Address { addr: addr.into() })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(BindError::Address { addr: addr.into() });
        }
        let listener = TcpListener::bind(&addrs[..]).map_err(|source| BindError::Listen {
            addr: addr.into(),
            source,
        })?;
        Ok(Listener { listener })
    }

    /// The address actually bound (port 0 gives a free port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `metrics` on a thread of its own until the returned [`Server`] is dropped.
    pub fn serve(self, metrics: Metrics) -> std::io::Result<Server> {
        let addr = self.listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let metrics = Arc::new(metrics);
        let thread = std::thread::Builder::new()
            .name("ringcap-metrics".into())
            .spawn(move || {
                for conn in self.listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    if let Ok(conn) = conn {
                        // A client that goes away mid-answer is its own problem.
                        let _ = answer(conn, &metrics);
                    }
                }
            })?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

/// The serving thread; stopped and joined on drop.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept; a wildcard address is reached through loopback.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// The request head: method, path (without a query) and the `Accept` header.
struct Request {
    method: String,
    path: String,
    accept: Option<String>,
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 16 * 1024 {
            return Ok(None);
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("").to_string();
    let accept = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.trim().to_string());
    Ok(Some(Request {
        method,
        path,
        accept,
    }))
}

fn answer(mut conn: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let Some(req) = read_head(&mut conn)? else {
        return Ok(());
    };
    let (status, ctype, body) = match (req.method.as_str(), req.path.as_str()) {
        ("GET" | "HEAD", "/metrics") => match metrics.encode() {
            Ok(om) if wants_openmetrics(req.accept.as_deref()) => ("200 OK", OPENMETRICS, om),
            Ok(om) => ("200 OK", PROMETHEUS_TEXT, to_prometheus_text(&om)),
            Err(_) => (
                "500 Internal Server Error",
                "text/plain",
                "encoding failed\n".into(),
            ),
        },
        ("GET" | "HEAD", "/") => (
            "200 OK",
            "text/plain; charset=utf-8",
            "ringcap: metrics at /metrics\n".into(),
        ),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "not found\n".into()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET and HEAD\n".into(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    if req.method != "HEAD" {
        conn.write_all(body.as_bytes())?;
    }
    conn.flush()
}
