use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A blocking HTTP/1.0 GET of `path` on `addr` ("127.0.0.1:8080") with the
/// given Host header; returns (status, body). HTTP/1.0 means no chunked
/// encoding and the server closes the connection after the body, so reading
/// to the end is the whole parser. Errors (refused, timeout, garbage) come
/// back as `Err`, which is what a readiness poll wants.
pub fn try_http_get(addr: &str, host: &str, path: &str) -> io::Result<(u16, String)> {
    let addr: SocketAddr = addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no address for {addr}"),
        )
    })?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nAccept: */*\r\n\r\n"
    )?;
    stream.flush()?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no HTTP status line in {head:?}"),
            )
        })?;
    Ok((status, body.to_owned()))
}

/// [`try_http_get`] that panics with the request on any transport error.
pub fn http_get(addr: &str, host: &str, path: &str) -> (u16, String) {
    try_http_get(addr, host, path)
        .unwrap_or_else(|e| panic!("GET http://{addr}{path} (Host: {host}) failed: {e}"))
}
