//! A minimal HTTP/1.1 client over `std::net::TcpStream`, with keep-alive
//! and timings: what the end-to-end tests, `cargo xtask stack` and the
//! benchmarks talk to Faultline with. Being this small keeps an async
//! runtime and an HTTP crate out of xtask, and keeps the benchmarks' client
//! cost low and visible (the time to the first byte is measured here).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a request may wait for its response before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A response, read in full.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From writing the request to the first byte of the status line.
    pub ttfb: Duration,
    /// From writing the request to the last byte of the body.
    pub total: Duration,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The start of the body, for error messages.
    pub fn snippet(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned()
    }
}

/// One connection to `addr`, opened when first needed and kept open.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    /// Connections opened so far.
    pub connects: usize,
}

/// An error that names the request it belongs to.
fn failed(method: &str, url: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{method} {url}: {e}"))
}

fn protocol(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            connects: 0,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a request and reads its response, connecting first if needed
    /// (not part of the timings). On any error the connection is dropped,
    /// to be reopened next time.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let result = self.exchange(method, path, headers, body);
        if result.is_err() {
            self.stream = None;
        }
        result.map_err(|e| failed(method, &format!("http://{}{path}", self.addr), e))
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, stream));
            self.connects += 1;
        }
        let reader = self.stream.as_mut().expect("connected above");
        if !reader.buffer().is_empty() {
            return Err(protocol("the server sent bytes nobody asked for".into()));
        }

        let mut request = Vec::with_capacity(256 + body.len());
        write!(
            request,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        )?;
        for (name, value) in headers {
            write!(request, "{name}: {value}\r\n")?;
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        let sent = Instant::now();
        reader.get_mut().write_all(&request)?;
        if reader.fill_buf()?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let ttfb = sent.elapsed();

        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| protocol(format!("bad status line `{}`", line.trim_end())))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        let mut response_headers = Vec::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(protocol(
                    "the server closed the connection in the headers".into(),
                ));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| protocol(format!("bad header line `{header}`")))?;
            let (name, value) = (name.to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => {
                    length = Some(
                        value
                            .parse::<usize>()
                            .map_err(|_| protocol(format!("bad Content-Length `{value}`")))?,
                    );
                }
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
            response_headers.push((name, value.to_owned()));
        }
        let mut response = Vec::new();
        if chunked {
            read_chunked(reader, &mut response)?;
        } else if let Some(length) = length {
            response.resize(length, 0);
            reader.read_exact(&mut response)?;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            // No length: the body runs to the end of the connection.
            reader.read_to_end(&mut response)?;
            close = true;
        }
        let total = sent.elapsed();
        if close {
            self.stream = None;
        }
        Ok(Response {
            status,
            headers: response_headers,
            body: response,
            ttfb,
            total,
        })
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_hex = line.trim_end().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| protocol(format!("bad chunk size `{}`", line.trim_end())))?;
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// One request on a connection of its own.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    Conn::new(addr).send(method, path, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each connection's requests with `replies`, in turn.
    fn serve(replies: Vec<&'static str>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            for reply in replies {
                let mut line = String::new();
                let mut length = 0;
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                reader.get_mut().write_all(reply.as_bytes()).unwrap();
            }
        });
        addr
    }

    #[test]
    fn keeps_the_connection_for_lengths_and_chunks() {
        let addr = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Hits: 3\r\n\r\nhello",
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        ]);
        let mut conn = Conn::new(addr);
        let first = conn.send("GET", "/a", &[], b"").unwrap();
        assert_eq!((first.status, first.text()), (200, "hello".into()));
        assert_eq!(first.header("x-hits"), Some("3"));
        let second = conn.send("POST", "/b", &[("X-A", "1")], b"body").unwrap();
        assert_eq!((second.status, second.text()), (201, "abcde".into()));
        assert_eq!(conn.connects, 1);
    }

    #[test]
    fn errors_name_the_request() {
        let addr = serve(vec!["HTTP/1.1 nonsense\r\n\r\n"]);
        let err = request(addr, "GET", "/x", &[], b"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("GET http://{addr}/x: bad status line")),
            "{err}"
        );
    }
}
