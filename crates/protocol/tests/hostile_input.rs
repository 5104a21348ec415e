//! Mutated real SDK payloads never panic the parsers: relay and the
//! ingest-consumer run them on attacker-controlled bytes. And every event
//! relay's check accepts, the consumer keeps.

use std::path::Path;

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

fn fixtures() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk");
    let mut bodies = Vec::new();
    for sdk in std::fs::read_dir(&root).expect("shared fixtures are beside the repository") {
        let sdk = sdk.unwrap().path();
        if !sdk.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(sdk).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "body") {
                let raw = std::fs::read(&path).unwrap();
                let plain = [ContentEncoding::Gzip, ContentEncoding::Brotli]
                    .into_iter()
                    .find_map(|enc| decompress_bounded(&raw, enc, 1 << 24).ok())
                    .unwrap_or(raw);
                bodies.push(plain);
            }
        }
    }
    assert!(bodies.len() >= 25, "found {} fixtures", bodies.len());
    bodies
}

/// Normalises `payload`; what relay's check accepted must normalise, since
/// relay has already answered 200 for it.
fn normalize_checked(payload: &[u8], opts: &NormalizeOptions) {
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
}

fn exercise(body: &[u8]) {
    let opts = NormalizeOptions::new(Utc::now());
    normalize_checked(body, &opts);
    if let Ok(envelope) = Envelope::parse(Bytes::copy_from_slice(body)) {
        for item in envelope.items.iter().filter(|i| i.ty == ItemType::Event) {
            normalize_checked(&item.payload, &opts);
        }
    }
    for enc in [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Brotli,
        ContentEncoding::Zstd,
    ] {
        let _ = decompress_bounded(body, enc, 1 << 20);
    }
}

#[test]
fn mutated_sdk_payloads_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for body in fixtures() {
        exercise(&body);
        for _ in 0..200 {
            let mut mutated = body.clone();
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
            exercise(&mutated);
        }
    }
}
