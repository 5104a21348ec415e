//! A synthetic minified app, its source map and an artifact bundle of
//! them, in a real SQLite artifact index and blob directory: what the
//! symbolicator's tests and its benchmark run against.

#![allow(dead_code)]

use std::io::Write;
use std::sync::Arc;

use chrono::Utc;
use faultline_protocol::{
    DebugImage, Event, EventId, Exception, Frame, Level, ProjectId, Stacktrace,
};
use faultline_storage::{
    ArtifactFile, ArtifactStore, ArtifactType, BlobDir, MetaStore, NewArtifactBundle,
};
use faultline_storage_sql::SqlMetaStore;
use sourcemap::SourceMapBuilder;

pub const DEBUG_ID: &str = "5e9a8c1d-7b3f-4c2a-9d1e-0f6b2a4c8e10";
pub const MINIFIED_URL: &str = "~/static/app.min.js";
pub const SOURCE: &str = "src/steps.js";

/// `functions` functions, each calling the next, minified onto one line.
pub struct App {
    pub minified: String,
    pub map: Vec<u8>,
    /// Per function: (minified name, column of its call to the next, 0-based).
    pub calls: Vec<(String, u32)>,
}

pub fn app(functions: usize) -> App {
    let mut source = String::new();
    let mut minified = String::new();
    let mut builder = SourceMapBuilder::new(Some("app.min.js"));
    let src = builder.add_source(SOURCE);
    let mut calls = Vec::with_capacity(functions);
    let short = |i: usize| format!("f{i:x}");
    for i in 0..functions {
        let line = (i * 3) as u32;
        source.push_str(&format!(
            "function computeStep{i}(value) {{\n  return computeStep{}(value) + {i};\n}}\n",
            i + 1
        ));
        let keyword = minified.len() as u32;
        minified.push_str("function ");
        let name = minified.len() as u32;
        minified.push_str(&short(i));
        minified.push_str("(a){return ");
        let call = minified.len() as u32;
        minified.push_str(&format!("{}(a)+{i}}}", short(i + 1)));
        builder.add_raw(0, keyword, line, 0, Some(src), None, false);
        let own = builder.add_name(&format!("computeStep{i}"));
        builder.add_raw(0, name, line, 9, Some(src), Some(own), false);
        let next = builder.add_name(&format!("computeStep{}", i + 1));
        builder.add_raw(0, call, line + 1, 9, Some(src), Some(next), false);
        calls.push((short(i), call));
    }
    builder.set_source_contents(src, Some(&source));
    let mut map = Vec::new();
    builder.into_sourcemap().to_writer(&mut map).unwrap();
    App {
        minified,
        map,
        calls,
    }
}

/// A sentry-cli style bundle of `app`, the map stored as `map` (to make
/// it hostile).
pub fn bundle(minified: &str, map: &[u8]) -> Vec<u8> {
    let mut file = std::io::Cursor::new(b"SYSB\x02\x00\x00\x00".to_vec());
    file.set_position(8);
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("files/_/_/app.min.js", options).unwrap();
    zip.write_all(minified.as_bytes()).unwrap();
    zip.start_file("files/_/_/app.min.js.map", options).unwrap();
    zip.write_all(map).unwrap();
    zip.start_file("manifest.json", options).unwrap();
    zip.write_all(b"{\"files\":{}}").unwrap();
    zip.finish().unwrap().into_inner()
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqlMetaStore>,
    pub blobs: BlobDir,
    pub project: ProjectId,
    pub bundle_size: u64,
}

/// An index and blob directory holding one bundle of `minified` + `map`
/// for release `1.0`, with debug id [`DEBUG_ID`].
pub async fn world(minified: &str, map: &[u8]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlMetaStore::open_sqlite(&dir.path().join("meta.sqlite"))
            .await
            .unwrap(),
    );
    let org = store.create_organization("acme", "Acme").await.unwrap();
    let project = store
        .create_project(org.id, "web", "web", None)
        .await
        .unwrap()
        .id;
    let blobs = BlobDir::new(dir.path().join("files"));
    let bytes = bundle(minified, map);
    let key = "bundles/1/app.bundle";
    blobs.write(key, &bytes).unwrap();
    let file = |path: &str, url: &str, ty, sourcemap: Option<&str>, size: usize| ArtifactFile {
        path: path.into(),
        url: url.into(),
        ty,
        debug_id: Some(DEBUG_ID.into()),
        sourcemap: sourcemap.map(str::to_owned),
        size: size as u64,
    };
    store
        .insert_bundle(&NewArtifactBundle {
            org_id: org.id,
            checksum: "a".repeat(40),
            bundle_id: None,
            release: Some("1.0".into()),
            dist: None,
            projects: vec![project],
            files: vec![
                file(
                    "files/_/_/app.min.js",
                    MINIFIED_URL,
                    ArtifactType::MinifiedSource,
                    Some("app.min.js.map"),
                    minified.len(),
                ),
                file(
                    "files/_/_/app.min.js.map",
                    "~/static/app.min.js.map",
                    ArtifactType::SourceMap,
                    None,
                    map.len(),
                ),
            ],
            size: bytes.len() as u64,
            blob: key.into(),
        })
        .await
        .unwrap();
    World {
        dir,
        store,
        blobs,
        project,
        bundle_size: bytes.len() as u64,
    }
}

/// A Node event whose exception went through `frames` (function index,
/// oldest first) of `app`, at `url`, naming the debug id when `debug_id`.
pub fn event(app: &App, frames: &[usize], url: &str, debug_id: bool) -> Event {
    let frames = frames
        .iter()
        .map(|&i| Frame {
            filename: Some(url.into()),
            function: Some(app.calls[i].0.clone()),
            lineno: Some(1),
            colno: Some(u64::from(app.calls[i].1) + 1),
            in_app: Some(true),
            ..Frame::default()
        })
        .collect();
    Event {
        event_id: EventId::new_random(),
        timestamp: Utc::now(),
        received: Utc::now(),
        level: Level::Error,
        platform: "node".into(),
        logger: None,
        transaction: None,
        server_name: None,
        release: None,
        dist: None,
        environment: None,
        logentry: None,
        exception: vec![Exception {
            ty: Some("Error".into()),
            value: Some("boom".into()),
            stacktrace: Some(Stacktrace { frames }),
            ..Exception::default()
        }],
        tags: Vec::new(),
        user: None,
        contexts: Default::default(),
        breadcrumbs: Vec::new(),
        request: None,
        extra: Default::default(),
        sdk: None,
        modules: Default::default(),
        fingerprint: None,
        debug_images: if debug_id {
            vec![DebugImage {
                ty: "sourcemap".into(),
                debug_id: Some(DEBUG_ID.into()),
                code_file: Some(url.into()),
                ..DebugImage::default()
            }]
        } else {
            Vec::new()
        },
    }
}
