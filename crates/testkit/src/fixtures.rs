//! The SDK requests under `tests/fixtures/sdk/`, captured from the pinned
//! official SDKs by `cargo xtask capture-fixtures` (see
//! `tests/fixtures/README.md`): each a `<name>.body`, the raw request body,
//! and a `<name>.meta.json` with its method, path, query and headers.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The directories of the captures, one per SDK and version.
pub const PYTHON_SDK: &str = "python-sentry-sdk-2.75.0";
pub const NODE_SDK: &str = "node-sentry-node-11.12.0";
pub const SENTRY_CLI: &str = "sentry-cli-3.8.2";

/// `tests/fixtures/sdk` of this checkout.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sdk")
}

/// The body file of capture `name` of `sdk`.
pub fn path(sdk: &str, name: &str) -> PathBuf {
    dir().join(sdk).join(format!("{name}.body"))
}

/// One captured request.
#[derive(Debug, Clone)]
pub struct Capture {
    pub method: String,
    /// The path on the capture server, `/api/42/envelope/`.
    pub path: String,
    /// The query string, without `?`; empty when there was none.
    pub query: String,
    /// In the order received.
    pub headers: Vec<(String, String)>,
    /// As received: still compressed if the SDK compressed it.
    pub body: Vec<u8>,
}

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

impl Capture {
    /// Capture `name` of `sdk`, e.g. `Capture::load(PYTHON_SDK, "exception")`.
    pub fn load(sdk: &str, name: &str) -> io::Result<Capture> {
        Capture::read(&path(sdk, name))
    }

    /// The capture whose body is `body_path` (its meta file beside it).
    pub fn read(body_path: &Path) -> io::Result<Capture> {
        let with_path =
            |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", body_path.display()));
        let body = std::fs::read(body_path).map_err(with_path)?;
        let meta_path = body_path.with_extension("meta.json");
        let meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).map_err(with_path)?)
            .map_err(|e| invalid(&meta_path, &e.to_string()))?;
        let text = |key: &str| {
            meta[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(&meta_path, &format!("no `{key}`")))
        };
        let headers = meta["headers"]
            .as_array()
            .ok_or_else(|| invalid(&meta_path, "no `headers` list"))?
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(name), Value::String(value)]) => {
                    Ok((name.clone(), value.clone()))
                }
                _ => Err(invalid(&meta_path, "a header is not a [name, value] pair")),
            })
            .collect::<io::Result<_>>()?;
        Ok(Capture {
            method: text("method")?,
            path: text("path")?,
            query: text("query")?,
            headers,
            body,
        })
    }

    /// The first header called `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The envelope header's `event_id`; gzip and plain bodies only.
    pub fn event_id(&self) -> io::Result<String> {
        if self.header("Content-Encoding").is_some_and(|e| e != "gzip") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only gzip and plain captures are decoded here",
            ));
        }
        let raw = crate::envelope::gunzip_if_gzipped(&self.body)?;
        let first = raw.split(|b| *b == b'\n').next().unwrap_or_default();
        let header: Value = serde_json::from_slice(first)?;
        header["event_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no event_id"))
    }
}

/// The body files of every capture, sorted.
pub fn all() -> io::Result<Vec<PathBuf>> {
    let mut bodies = Vec::new();
    for sdk in std::fs::read_dir(dir())? {
        let sdk = sdk?.path();
        if !sdk.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&sdk)? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "body") {
                bodies.push(path);
            }
        }
    }
    bodies.sort();
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capture_has_its_meta_and_length() {
        let bodies = all().unwrap();
        assert!(bodies.len() >= 25, "{} captures", bodies.len());
        for body in bodies {
            let capture = Capture::read(&body).unwrap();
            assert_eq!(
                (capture.method.as_str(), capture.path.as_str()),
                ("POST", "/api/42/envelope/"),
                "{}",
                body.display()
            );
            // Node streams its bodies (chunked); the others say their length.
            match capture.header("Content-Length") {
                Some(length) => assert_eq!(length, capture.body.len().to_string()),
                None => assert_eq!(capture.header("Transfer-Encoding"), Some("chunked")),
            }
        }
        let python = Capture::load(PYTHON_SDK, "exception").unwrap();
        assert_eq!(python.event_id().unwrap().len(), 32);
    }
}
