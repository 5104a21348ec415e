//! Real SDK payloads (`tests/fixtures/sdk`, captured from the official SDKs)
//! and mutations of them, through the parsers relay and the ingest-consumer
//! run on attacker-controlled bytes: every captured payload decodes and
//! parses, envelope and events; a mutated one parses or is refused with a
//! typed error, never a panic; and every event relay's check accepts, the
//! consumer keeps.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::Utc;
use faultline_protocol::{
    ContentEncoding, Envelope, ItemType, NormalizeOptions, check_event_json, decompress_bounded,
    normalize_event,
};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Decoded bodies are bounded like relay bounds them (its limit is lower;
/// the largest capture is well under this).
const LIMIT: usize = 1 << 24;

/// One captured request: where it is, its body as sent and its encoding.
struct Capture {
    path: PathBuf,
    raw: Vec<u8>,
    encoding: ContentEncoding,
}

impl Capture {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn decoded(&self) -> Vec<u8> {
        decompress_bounded(&self.raw, self.encoding, LIMIT)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", self.name()))
    }
}

/// The `Content-Encoding` recorded in a capture's meta file.
fn recorded_encoding(meta_path: &Path) -> ContentEncoding {
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(meta_path).unwrap_or_else(|e| panic!("{}: {e}", meta_path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", meta_path.display()));
    let value = meta["headers"]
        .as_array()
        .expect("headers are a list")
        .iter()
        .find(|h| {
            h[0].as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("content-encoding"))
        })
        .and_then(|h| h[1].as_str());
    ContentEncoding::from_header(value)
        .unwrap_or_else(|| panic!("{}: unknown encoding {value:?}", meta_path.display()))
}

fn captures() -> Vec<Capture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sdk");
    let mut captures = Vec::new();
    for sdk in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let sdk = sdk.unwrap().path();
        if !sdk.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(sdk).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "body") {
                captures.push(Capture {
                    raw: std::fs::read(&path).unwrap(),
                    encoding: recorded_encoding(&path.with_extension("meta.json")),
                    path,
                });
            }
        }
    }
    captures.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(captures.len() >= 25, "found {} captures", captures.len());
    captures
}

/// What the parsers made of one body.
#[derive(Default, Debug)]
struct Tally {
    envelopes: usize,
    envelope_errors: usize,
    events: usize,
    event_errors: usize,
}

/// Checks and normalises one event payload; what relay's check accepts
/// must normalise, since relay has already answered 200 for it. Returns
/// whether the check accepted it.
fn event(payload: &[u8], opts: &NormalizeOptions) -> bool {
    let checked = check_event_json(payload);
    let normalized = normalize_event(payload, opts);
    if checked.is_ok() {
        assert!(
            normalized.is_ok(),
            "relay accepts what the consumer drops: {:?}: {}",
            normalized.err(),
            String::from_utf8_lossy(payload)
        );
    }
    checked.is_ok()
}

/// Parses `body` as an envelope and every event in it.
fn parse(body: &[u8], tally: &mut Tally) {
    let opts = NormalizeOptions::new(Utc::now());
    match Envelope::parse(Bytes::copy_from_slice(body)) {
        Ok(envelope) => {
            tally.envelopes += 1;
            for item in envelope.items.iter().filter(|i| i.ty == ItemType::Event) {
                if event(&item.payload, &opts) {
                    tally.events += 1;
                } else {
                    tally.event_errors += 1;
                }
            }
        }
        Err(_) => tally.envelope_errors += 1,
    }
}

#[test]
fn every_captured_payload_decodes_and_parses() {
    let opts = NormalizeOptions::new(Utc::now());
    let mut events = 0;
    for capture in captures() {
        let body = capture.decoded();
        let envelope = Envelope::parse(Bytes::from(body))
            .unwrap_or_else(|e| panic!("{}: {e}", capture.name()));
        assert!(!envelope.items.is_empty(), "{}: no items", capture.name());
        for item in envelope.items.iter().filter(|i| i.ty == ItemType::Event) {
            check_event_json(&item.payload)
                .unwrap_or_else(|e| panic!("{}: relay refuses its event: {e}", capture.name()));
            normalize_event(&item.payload, &opts).unwrap_or_else(|e| {
                panic!("{}: the consumer drops its event: {e}", capture.name())
            });
            events += 1;
        }
    }
    // Python, Node and sentry-cli each send several.
    assert!(events >= 12, "only {events} events among the captures");
}

/// One random mutation of `body`: cut short, bytes overwritten, a
/// structural byte inserted, or a range taken out.
fn mutate(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut mutated = body.to_vec();
    match rng.below(4) {
        0 => mutated.truncate(rng.below(body.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(mutated.len());
                mutated[at] = rng.next() as u8;
            }
        }
        2 => {
            let at = rng.below(mutated.len());
            let junk = [b'{', b'}', b'[', b']', b'"', b'\n', b'\\', b':', b',', 0xff];
            mutated.insert(at, junk[rng.below(junk.len())]);
        }
        _ => {
            let (a, b) = (rng.below(mutated.len()), rng.below(mutated.len()));
            let (a, b) = (a.min(b), a.max(b));
            mutated.drain(a..b);
        }
    }
    mutated
}

#[test]
fn mutated_payloads_parse_or_give_typed_errors_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    for capture in captures() {
        let body = capture.decoded();
        for _ in 0..200 {
            parse(&mutate(&body, &mut rng), &mut tally);
        }
    }
    // Mutations that break the envelope, and mutations that leave it but
    // break an event, are both refused; many others still parse. A run
    // where nothing is refused would mean the mutations reach nothing.
    assert!(tally.envelope_errors > 100, "{tally:?}");
    assert!(tally.event_errors > 100, "{tally:?}");
    assert!(tally.envelopes > 1000 && tally.events > 100, "{tally:?}");
}

#[test]
fn mutated_compressed_bodies_decode_or_give_typed_errors() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut decoded, mut refused) = (0, 0);
    let (mut foreign, mut foreign_refused) = (0, 0);
    let compressed: Vec<Capture> = captures()
        .into_iter()
        .filter(|c| c.encoding != ContentEncoding::Identity)
        .collect();
    assert!(
        compressed
            .iter()
            .any(|c| c.encoding == ContentEncoding::Brotli)
            && compressed
                .iter()
                .any(|c| c.encoding == ContentEncoding::Gzip),
        "the captures hold gzip and brotli bodies"
    );
    for capture in &compressed {
        for _ in 0..100 {
            let mutated = mutate(&capture.raw, &mut rng);
            match decompress_bounded(&mutated, capture.encoding, LIMIT) {
                Ok(body) => {
                    decoded += 1;
                    parse(&body, &mut Tally::default());
                }
                Err(_) => refused += 1,
            }
        }
        // The other decoders, handed bytes that are not theirs (a header
        // that says the wrong encoding).
        for encoding in [
            ContentEncoding::Gzip,
            ContentEncoding::Deflate,
            ContentEncoding::Brotli,
            ContentEncoding::Zstd,
        ] {
            if encoding != capture.encoding {
                foreign += 1;
                if decompress_bounded(&capture.raw, encoding, 1 << 20).is_err() {
                    foreign_refused += 1;
                }
            }
        }
    }
    assert!(refused > 100, "decoded {decoded}, refused {refused}");
    assert!(
        foreign_refused * 2 > foreign,
        "{foreign_refused} of {foreign} bodies refused by a decoder not theirs"
    );
}
