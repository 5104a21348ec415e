//! The symbolicator against a real SQLite artifact index and blob
//! directory: frames mapped by debug id and by release, and every way a
//! frame stays unmapped recorded, hostile maps included.

mod support;

use faultline_protocol::{Event, Frame};
use faultline_symbolicator::{Symbolicate, Symbolicator, SymbolicatorOptions};
use support::*;

fn symbolicator(world: &World, options: SymbolicatorOptions) -> Symbolicator {
    Symbolicator::new(world.store.clone(), world.blobs.clone(), options)
}

fn frames(event: &Event) -> &[Frame] {
    &event.exception[0].stacktrace.as_ref().unwrap().frames
}

fn reason(frame: &Frame) -> &str {
    frame.data.as_ref().unwrap()["unresolved_reason"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn frames_are_mapped_by_debug_id_with_names_and_context() {
    let app = app(40);
    let world = world(&app.minified, &app.map).await;
    let symbolicator = symbolicator(&world, SymbolicatorOptions::default());
    let sent = event(&app, &[3, 4, 5], "/srv/www/app.min.js", true);
    let event = symbolicator.symbolicate(world.project, sent).await.unwrap();
    let mapped = frames(&event);
    for (frame, i) in mapped.iter().zip([3, 4, 5]) {
        assert_eq!(
            frame.function.as_deref(),
            Some(format!("computeStep{i}").as_str())
        );
        assert_eq!(frame.filename.as_deref(), Some(SOURCE));
        assert_eq!(frame.lineno, Some(i as u64 * 3 + 2), "{frame:?}");
        assert_eq!(frame.colno, Some(10));
        assert_eq!(frame.module, None);
        let data = frame.data.as_ref().unwrap();
        assert_eq!(data["symbolicated"], true);
        assert_eq!(data["resolved_with"], "debug-id");
        assert_eq!(data["sourcemap"], "~/static/app.min.js.map");
    }
    let top = &mapped[2];
    assert_eq!(
        top.context_line.as_deref(),
        Some("  return computeStep6(value) + 5;")
    );
    assert_eq!(top.pre_context.len(), 5);
    assert_eq!(top.post_context.len(), 5);
    // The event keeps its debug_meta; the SDK's frames are kept.
    assert_eq!(event.debug_images.len(), 1);
    let raw = event.exception[0].raw_stacktrace.as_ref().unwrap();
    assert_eq!(raw.frames[0].function.as_deref(), Some("f3"));
}

#[tokio::test]
async fn frames_are_mapped_by_release_and_url() {
    let app = app(10);
    let world = world(&app.minified, &app.map).await;
    let symbolicator = symbolicator(&world, SymbolicatorOptions::default());
    for url in [
        "https://example.com/static/app.min.js?v=2",
        "app:///static/app.min.js",
        // A path the upload's ~/ URL ends: Node without --url-prefix.
        "/srv/www/static/app.min.js",
    ] {
        let mut sent = event(&app, &[1, 2], url, false);
        sent.release = Some("1.0".into());
        let event = symbolicator.symbolicate(world.project, sent).await.unwrap();
        let top = &frames(&event)[1];
        assert_eq!(top.function.as_deref(), Some("computeStep2"), "{url}");
        assert_eq!(top.data.as_ref().unwrap()["resolved_with"], "release");
    }
    // Another release has no such file.
    let mut sent = event(&app, &[1], "https://example.com/static/app.min.js", false);
    sent.release = Some("2.0".into());
    let event = symbolicator.symbolicate(world.project, sent).await.unwrap();
    assert_eq!(reason(&frames(&event)[0]), "url_not_in_release");
    assert_eq!(frames(&event)[0].function.as_deref(), Some("f1"));
    assert!(event.exception[0].raw_stacktrace.is_none());
}

#[tokio::test]
async fn every_unmapped_frame_says_why() {
    let app = app(10);
    let world = world(&app.minified, &app.map).await;
    let symbolicator = symbolicator(&world, SymbolicatorOptions::default());
    // No debug id, no release.
    let answered = symbolicator
        .symbolicate(world.project, event(&app, &[1], "/srv/app.min.js", false))
        .await
        .unwrap();
    assert_eq!(reason(&frames(&answered)[0]), "missing_debug_id");
    // A debug id no bundle has.
    let mut sent = event_with_id(&app, "0badc0de-0000-4000-8000-000000000000");
    let answered = symbolicator
        .symbolicate(world.project, sent.clone())
        .await
        .unwrap();
    assert_eq!(reason(&frames(&answered)[0]), "no_bundle_with_debug_id");
    // Runtime frames and positions the map does not cover.
    let frames_of = &mut sent.exception[0].stacktrace.as_mut().unwrap().frames;
    frames_of[0].filename = Some("node:internal/process/task_queues".into());
    let mut beyond = event(&app, &[1], "/srv/app.min.js", true);
    beyond.exception[0].stacktrace.as_mut().unwrap().frames[0].lineno = Some(999_999);
    let mut huge = event(&app, &[1], "/srv/app.min.js", true);
    huge.exception[0].stacktrace.as_mut().unwrap().frames[0].lineno = Some(u64::MAX);
    let answered = symbolicator.symbolicate(world.project, sent).await.unwrap();
    assert_eq!(reason(&frames(&answered)[0]), "not_a_source_frame");
    for sent in [beyond, huge] {
        let answered = symbolicator.symbolicate(world.project, sent).await.unwrap();
        assert_eq!(reason(&frames(&answered)[0]), "no_mapping_at_position");
    }
}

fn event_with_id(app: &App, id: &str) -> Event {
    let mut sent = event(app, &[1], "/srv/app.min.js", true);
    sent.debug_images[0].debug_id = Some(id.into());
    sent
}

#[tokio::test]
async fn hostile_maps_give_a_reason_not_a_crash() {
    let app = app(10);
    let symbolicate = |map: Vec<u8>, limit: u64| {
        let minified = app.minified.clone();
        let sent = event(&app, &[1], "/srv/app.min.js", true);
        async move {
            let world = world(&minified, &map).await;
            let options = SymbolicatorOptions {
                max_sourcemap_size: limit,
                ..SymbolicatorOptions::default()
            };
            let event = symbolicator(&world, options)
                .symbolicate(world.project, sent)
                .await
                .unwrap();
            frames(&event)[0].clone()
        }
    };
    let frame = symbolicate(b"{\"version\":3,\"mappings\":[1,2".to_vec(), 1 << 20).await;
    assert_eq!(reason(&frame), "malformed_sourcemap");
    let frame = symbolicate(app.map.clone(), 100).await;
    assert_eq!(reason(&frame), "sourcemap_too_large");
    // A map pointing at an absurd original line: mapped, without context.
    let absurd = br#"{"version":3,"sources":["a.js"],"sourcesContent":["x\ny"],"names":[],"mappings":"A,iu/+/+/B"}"#;
    let frame = symbolicate(absurd.to_vec(), 1 << 20).await;
    assert!(frame.data.is_some());
    assert_eq!(frame.context_line, None);
}

#[tokio::test]
async fn parsed_maps_are_cached() {
    let app = app(10);
    let world = world(&app.minified, &app.map).await;
    let symbolicator = symbolicator(&world, SymbolicatorOptions::default());
    assert_eq!(symbolicator.cached_bytes(), 0);
    let sent = event(&app, &[1], "/srv/app.min.js", true);
    symbolicator
        .symbolicate(world.project, sent.clone())
        .await
        .unwrap();
    let cached = symbolicator.cached_bytes();
    assert!(cached > 0);
    // The bundle's file gone: the cached map still answers.
    std::fs::remove_dir_all(world.dir.path().join("files")).unwrap();
    let event = symbolicator.symbolicate(world.project, sent).await.unwrap();
    assert_eq!(frames(&event)[0].function.as_deref(), Some("computeStep1"));
    assert_eq!(symbolicator.cached_bytes(), cached);
}
