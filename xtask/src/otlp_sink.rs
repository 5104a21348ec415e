//! A minimal OTLP/HTTP receiver for `bench ingest --traces`: answers every
//! `POST /v1/traces` with 200 and counts what arrived, so the devserver
//! exports its spans somewhere real (on 127.0.0.1) while it is measured.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;

#[derive(Default)]
pub struct Received {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
}

/// Starts the sink; returns its endpoint (for OTEL_EXPORTER_OTLP_ENDPOINT)
/// and its counters.
pub fn start() -> Result<(String, Arc<Received>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let received = Arc::new(Received::default());
    let counters = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counters = counters.clone();
            std::thread::spawn(move || {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                while let Some(body) = read_request(&mut reader) {
                    counters.requests.fetch_add(1, Ordering::Relaxed);
                    counters.bytes.fetch_add(body as u64, Ordering::Relaxed);
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((endpoint, received))
}

/// Reads one request; returns its body's length, or None at the end.
fn read_request(reader: &mut impl BufRead) -> Option<usize> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    // Bounded: a sink reads what OTLP exporters send, nothing larger.
    let mut body = vec![0; length.min(64 << 20)];
    std::io::Read::read_exact(reader, &mut body).ok()?;
    Some(body.len())
}
