//! sentry-cli's artifact bundle: `SYSB` and a format version (4 bytes,
//! little endian), then a ZIP archive whose `manifest.json` names each
//! file's URL, type and headers (`debug-id`, `sourcemap`). Uploads are
//! hostile: every read here is bounded, names that could escape a
//! directory are refused, and entries are never extracted to disk.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use faultline_storage::{ArtifactFile, ArtifactType};
use serde::Deserialize;

/// The header sentry-cli (symbolic's source bundle writer) puts first.
pub const MAGIC: &[u8; 4] = b"SYSB";
const HEADER_LEN: u64 = 8;

/// Largest `manifest.json` read.
pub const MAX_MANIFEST_SIZE: u64 = 16 * 1024 * 1024;
/// Most files one bundle may hold.
pub const MAX_FILES: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not an artifact bundle (no SYSB header)")]
    NotABundle,
    #[error("the bundle is not a readable ZIP archive: {0}")]
    Zip(String),
    #[error("the bundle has no manifest.json")]
    NoManifest,
    #[error("the bundle's manifest.json is invalid: {0}")]
    Manifest(String),
    #[error("the bundle names {0} files; at most {MAX_FILES} are accepted")]
    TooManyFiles(usize),
    #[error("the bundle entry name {0:?} is not allowed (absolute, or with '..')")]
    UnsafeName(String),
    #[error("the manifest names {0:?}, which the bundle does not hold")]
    MissingEntry(String),
    #[error("{name} is larger than {limit} bytes")]
    TooLarge { name: String, limit: u64 },
    #[error("reading the bundle: {0}")]
    Io(#[from] io::Error),
}

impl From<zip::result::ZipError> for BundleError {
    fn from(e: zip::result::ZipError) -> Self {
        match e {
            zip::result::ZipError::Io(e) => BundleError::Io(e),
            zip::result::ZipError::FileNotFound => BundleError::NoManifest,
            e => BundleError::Zip(e.to_string()),
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(default)]
    files: BTreeMap<String, RawFile>,
    #[serde(default)]
    debug_id: Option<String>,
    #[serde(default)]
    release: Option<String>,
    #[serde(default)]
    dist: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawFile {
    url: String,
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// What a bundle's manifest says, checked against its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub bundle_id: Option<String>,
    pub release: Option<String>,
    pub dist: Option<String>,
    pub files: Vec<ArtifactFile>,
}

/// An open bundle, for reading its manifest and entries.
pub struct Bundle<R: Read + Seek> {
    zip: zip::ZipArchive<R>,
}

impl<R: Read + Seek> Bundle<R> {
    pub fn open(mut reader: R) -> Result<Self, BundleError> {
        let mut header = [0u8; HEADER_LEN as usize];
        reader.seek(SeekFrom::Start(0))?;
        if reader.read_exact(&mut header).is_err() || &header[..4] != MAGIC {
            return Err(BundleError::NotABundle);
        }
        // sentry-cli writes the ZIP after the header with its offsets
        // counted from the start of the file, so the file opens as is.
        let zip = zip::ZipArchive::new(reader)?;
        Ok(Bundle { zip })
    }

    /// The entry `name`, whole, unless it is larger than `limit` bytes
    /// (decompressed: a ZIP entry's declared size is not trusted).
    pub fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
        let mut entry = self.zip.by_name(name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => BundleError::MissingEntry(name.to_owned()),
            e => e.into(),
        })?;
        let too_large = || BundleError::TooLarge {
            name: name.to_owned(),
            limit,
        };
        if entry.size() > limit {
            return Err(too_large());
        }
        let mut out = Vec::with_capacity(entry.size().min(limit) as usize);
        (&mut entry).take(limit + 1).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(out)
    }

    /// The manifest, each file it names checked to be a safe entry that
    /// the archive holds.
    pub fn manifest(&mut self) -> Result<Manifest, BundleError> {
        if self.zip.len() > MAX_FILES + 1 {
            return Err(BundleError::TooManyFiles(self.zip.len()));
        }
        for name in self.zip.file_names() {
            // A name that is not UTF-8 is as unsafe as one with `..`.
            let name = name.map_err(|e| BundleError::Zip(e.to_string()))?;
            if !is_safe_name(&name) {
                return Err(BundleError::UnsafeName(name.into_owned()));
            }
        }
        let bytes = self.read("manifest.json", MAX_MANIFEST_SIZE)?;
        let raw: RawManifest =
            serde_json::from_slice(&bytes).map_err(|e| BundleError::Manifest(e.to_string()))?;
        if raw.files.len() > MAX_FILES {
            return Err(BundleError::TooManyFiles(raw.files.len()));
        }
        let mut files = Vec::with_capacity(raw.files.len());
        for (path, file) in raw.files {
            if !is_safe_name(&path) {
                return Err(BundleError::UnsafeName(path));
            }
            let size = match self.zip.by_name(&path) {
                Ok(entry) => entry.size(),
                Err(zip::result::ZipError::FileNotFound) => {
                    return Err(BundleError::MissingEntry(path));
                }
                Err(e) => return Err(e.into()),
            };
            let header = |name: &str| {
                file.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            files.push(ArtifactFile {
                url: file.url,
                ty: ArtifactType::parse(file.ty.as_deref().unwrap_or("")),
                debug_id: header("debug-id").and_then(|id| normalize_debug_id(&id)),
                sourcemap: header("sourcemap").or_else(|| header("x-sourcemap")),
                size,
                path,
            });
        }
        Ok(Manifest {
            bundle_id: raw.debug_id.as_deref().and_then(normalize_debug_id),
            release: raw.release.filter(|r| !r.is_empty()),
            dist: raw.dist.filter(|d| !d.is_empty()),
            files,
        })
    }
}

/// A relative name of plain segments: nothing absolute, no `..`, no
/// backslashes or NULs, not too long.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 4096
        && !name.starts_with('/')
        && !name.contains(['\\', '\0'])
        && name.split('/').all(|segment| segment != "..")
}

/// A debug id as symbolicator compares them: a UUID, lowercase and
/// hyphenated (SDKs and bundles write it either way); `None` if it is not
/// one. A trailing age (`…-0` / `…a`, as native ids carry) is dropped.
pub fn normalize_debug_id(id: &str) -> Option<String> {
    let hex: String = id
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .take(32)
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    /// A bundle as sentry-cli writes one, with `files` as (name, bytes).
    pub(crate) fn bundle_bytes(manifest: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        // Offsets from the start of the file, header included, as
        // sentry-cli writes them.
        let mut file = Cursor::new(b"SYSB\x02\x00\x00\x00".to_vec());
        file.set_position(8);
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("manifest.json", options).unwrap();
        zip.write_all(manifest.as_bytes()).unwrap();
        for (name, bytes) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    const MANIFEST: &str = r#"{"org":"acme","release":"app@1","dist":"7",
        "debug_id":"C0FFEE00-0000-4000-8000-000000000001",
        "files":{
          "_/_/app.min.js":{"url":"~/app.min.js","type":"minified_source",
            "headers":{"debug-id":"c0ffee00-0000-4000-8000-000000000002","Sourcemap":"app.min.js.map"}},
          "_/_/app.min.js.map":{"url":"~/app.min.js.map","type":"source_map",
            "headers":{"debug-id":"C0FFEE0000004000800000000000000 2"}}}}"#;

    #[test]
    fn reads_sentry_clis_manifest() {
        let bytes = bundle_bytes(
            MANIFEST,
            &[("_/_/app.min.js", b"min"), ("_/_/app.min.js.map", b"{}")],
        );
        let mut bundle = Bundle::open(Cursor::new(bytes)).unwrap();
        let manifest = bundle.manifest().unwrap();
        assert_eq!(manifest.release.as_deref(), Some("app@1"));
        assert_eq!(manifest.dist.as_deref(), Some("7"));
        assert_eq!(
            manifest.bundle_id.as_deref(),
            Some("c0ffee00-0000-4000-8000-000000000001")
        );
        let min = &manifest.files[0];
        assert_eq!(min.url, "~/app.min.js");
        assert_eq!(min.ty, ArtifactType::MinifiedSource);
        assert_eq!(
            min.debug_id.as_deref(),
            Some("c0ffee00-0000-4000-8000-000000000002")
        );
        assert_eq!(min.sourcemap.as_deref(), Some("app.min.js.map"));
        assert_eq!(min.size, 3);
        // Not a UUID: no debug id rather than a wrong one.
        assert_eq!(manifest.files[1].debug_id, None);
        assert_eq!(bundle.read("_/_/app.min.js", 3).unwrap(), b"min");
    }

    #[test]
    fn opens_a_zip_simply_put_after_the_header() {
        // Other writers count offsets from the ZIP's own start.
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("manifest.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(br#"{"files":{}}"#).unwrap();
        let mut file = b"SYSB\x02\x00\x00\x00".to_vec();
        file.extend(zip.finish().unwrap().into_inner());
        let mut bundle = Bundle::open(Cursor::new(file)).unwrap();
        assert!(bundle.manifest().unwrap().files.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        assert!(matches!(
            Bundle::open(Cursor::new(b"PK\x03\x04".to_vec())),
            Err(BundleError::NotABundle)
        ));
        assert!(matches!(
            Bundle::open(Cursor::new(b"SYSB\x02\0\0\0garbage".to_vec())),
            Err(BundleError::Zip(_))
        ));
        let no_files = bundle_bytes(r#"{"files":{"x.js":{"url":"~/x.js"}}}"#, &[]);
        let mut bundle = Bundle::open(Cursor::new(no_files)).unwrap();
        assert!(matches!(
            bundle.manifest(),
            Err(BundleError::MissingEntry(name)) if name == "x.js"
        ));
        let bad_json = bundle_bytes("{", &[]);
        let mut bundle = Bundle::open(Cursor::new(bad_json)).unwrap();
        assert!(matches!(bundle.manifest(), Err(BundleError::Manifest(_))));
    }

    #[test]
    fn refuses_traversal() {
        for name in ["../../etc/passwd", "/etc/passwd", "a/../../b", "a\\..\\b"] {
            let bytes = bundle_bytes(r#"{"files":{}}"#, &[(name, b"x")]);
            let mut bundle = Bundle::open(Cursor::new(bytes)).unwrap();
            assert!(
                matches!(bundle.manifest(), Err(BundleError::UnsafeName(n)) if n == name),
                "{name}"
            );
        }
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros deflate to about 64 KiB.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let bytes = bundle_bytes(r#"{"files":{}}"#, &[("bomb.js", &zeros)]);
        assert!(bytes.len() < 1024 * 1024);
        let mut bundle = Bundle::open(Cursor::new(bytes)).unwrap();
        assert!(matches!(
            bundle.read("bomb.js", 1024 * 1024),
            Err(BundleError::TooLarge { .. })
        ));
    }

    #[test]
    fn debug_ids_compare_alike() {
        let want = Some("c0ffee00-0000-4000-8000-00000000000a".to_owned());
        assert_eq!(normalize_debug_id("C0FFEE0000004000800000000000000A"), want);
        assert_eq!(
            normalize_debug_id("c0ffee00-0000-4000-8000-00000000000a"),
            want
        );
        assert_eq!(normalize_debug_id("not-an-id"), None);
    }
}
