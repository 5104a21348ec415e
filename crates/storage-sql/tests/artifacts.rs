//! The artifact store's suite on both databases: chunks under a quota,
//! bundles indexed by debug id and URL, and retention.

use std::sync::Arc;

mod common;

use chrono::{Duration, Utc};
use faultline_protocol::{OrgId, ProjectId};
use faultline_storage::{
    ArtifactFile, ArtifactStore, ArtifactType, ChunkAdmission, MetaStore, NewArtifactBundle,
};
use faultline_storage_sql::SqlMetaStore;

on_every_backend!(
    chunks_count_against_the_quota,
    bundles_are_found_by_debug_id_and_url,
    a_bundle_uploaded_again_extends_its_projects,
    retention_removes_old_chunks_and_unused_bundles
);

async fn org_and_projects(store: &SqlMetaStore) -> (OrgId, ProjectId, ProjectId) {
    let org = store.create_organization("acme", "Acme").await.unwrap();
    let web = store
        .create_project(org.id, "web", "web", None)
        .await
        .unwrap();
    let api = store
        .create_project(org.id, "api", "api", None)
        .await
        .unwrap();
    (org.id, web.id, api.id)
}

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

fn file(path: &str, url: &str, ty: ArtifactType, debug_id: Option<&str>) -> ArtifactFile {
    ArtifactFile {
        path: path.into(),
        url: url.into(),
        ty,
        debug_id: debug_id.map(str::to_owned),
        sourcemap: (ty == ArtifactType::MinifiedSource).then(|| "app.min.js.map".to_owned()),
        size: 100,
    }
}

fn new_bundle(
    org: OrgId,
    checksum: String,
    projects: Vec<ProjectId>,
    release: Option<&str>,
    debug_id: &str,
) -> NewArtifactBundle {
    NewArtifactBundle {
        org_id: org,
        blob: format!("bundles/{}/{checksum}.bundle", org.0),
        checksum,
        bundle_id: Some(debug_id.into()),
        release: release.map(str::to_owned),
        dist: None,
        projects,
        files: vec![
            file(
                "files/_/_/app.min.js",
                "~/static/app.min.js",
                ArtifactType::MinifiedSource,
                Some(debug_id),
            ),
            file(
                "files/_/_/app.min.js.map",
                "~/static/app.min.js.map",
                ArtifactType::SourceMap,
                Some(debug_id),
            ),
        ],
        size: 1000,
    }
}

async fn chunks_count_against_the_quota(store: Arc<SqlMetaStore>) {
    let (org, _, _) = org_and_projects(&store).await;
    let chunks = vec![(sha(1), 400), (sha(2), 400)];
    assert_eq!(
        store.record_chunks(org, &chunks, 1000).await.unwrap(),
        ChunkAdmission::Recorded
    );
    assert_eq!(store.upload_usage(org).await.unwrap(), 800);
    // The same chunks again cost nothing more.
    assert_eq!(
        store.record_chunks(org, &chunks, 1000).await.unwrap(),
        ChunkAdmission::Recorded
    );
    // One more would pass the quota: refused, and nothing recorded.
    assert_eq!(
        store
            .record_chunks(org, &[(sha(3), 400)], 1000)
            .await
            .unwrap(),
        ChunkAdmission::OverQuota { used: 800 }
    );
    assert_eq!(
        store
            .missing_chunks(org, &[sha(3), sha(1), sha(2), sha(4)])
            .await
            .unwrap(),
        [sha(3), sha(4)]
    );
    store.remove_chunks(org, &[sha(1)]).await.unwrap();
    assert_eq!(store.upload_usage(org).await.unwrap(), 400);
    assert_eq!(
        store.missing_chunks(org, &[sha(1), sha(2)]).await.unwrap(),
        [sha(1)]
    );
}

async fn bundles_are_found_by_debug_id_and_url(store: Arc<SqlMetaStore>) {
    let (org, web, api) = org_and_projects(&store).await;
    let id = "343215c0-2f1e-4a7c-9d1b-6a0f8e2b1c3d";
    let (bundle, new) = store
        .insert_bundle(&new_bundle(org, sha(9), vec![web], Some("1.0"), id))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(bundle.file_count, 2);
    assert_eq!(store.upload_usage(org).await.unwrap(), 1000);

    let map = store
        .artifact_by_debug_id(web, id, ArtifactType::SourceMap)
        .await
        .unwrap()
        .expect("the map is found by its debug id");
    assert_eq!(map.file.path, "files/_/_/app.min.js.map");
    assert_eq!(map.blob, bundle.blob);
    // Another project of the organization does not see it.
    assert!(
        store
            .artifact_by_debug_id(api, id, ArtifactType::SourceMap)
            .await
            .unwrap()
            .is_none()
    );
    // A release's files, for matching frames by URL: the project's, of
    // that release and dist only.
    let files = store.release_files(web, "1.0", None, 100).await.unwrap();
    assert_eq!(files.len(), 2);
    let minified = files
        .iter()
        .find(|f| f.file.ty == ArtifactType::MinifiedSource)
        .expect("the minified file");
    assert_eq!(minified.file.url, "~/static/app.min.js");
    assert_eq!(minified.file.sourcemap.as_deref(), Some("app.min.js.map"));
    assert_eq!(minified.bundle_id, bundle.id);
    assert_eq!(
        store
            .release_files(web, "1.0", None, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .release_files(web, "2.0", None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .release_files(web, "1.0", Some("d1"), 100)
            .await
            .unwrap()
            .is_empty(),
        "a dist only matches bundles of that dist"
    );
    assert!(
        store
            .release_files(api, "1.0", None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    let listed = store.release_bundles(org, "1.0").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].1.len(), 2);
    assert!(store.release_bundles(org, "2.0").await.unwrap().is_empty());
}

async fn a_bundle_uploaded_again_extends_its_projects(store: Arc<SqlMetaStore>) {
    let (org, web, api) = org_and_projects(&store).await;
    let id = "6d5b9f0e-1111-4222-8333-944455556666";
    let (first, _) = store
        .insert_bundle(&new_bundle(org, sha(7), vec![web], None, id))
        .await
        .unwrap();
    let (again, new) = store
        .insert_bundle(&new_bundle(org, sha(7), vec![api], None, id))
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(again.id, first.id);
    assert_eq!(store.bundles(org, 10).await.unwrap().len(), 1);
    assert_eq!(store.upload_usage(org).await.unwrap(), 1000);
    for project in [web, api] {
        assert!(
            store
                .artifact_by_debug_id(project, id, ArtifactType::MinifiedSource)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(
        store
            .bundle_by_checksum(org, &sha(7))
            .await
            .unwrap()
            .map(|b| b.id),
        Some(first.id)
    );
}

async fn retention_removes_old_chunks_and_unused_bundles(store: Arc<SqlMetaStore>) {
    let (org, web, _) = org_and_projects(&store).await;
    store
        .record_chunks(org, &[(sha(1), 10)], 1000)
        .await
        .unwrap();
    let (used, _) = store
        .insert_bundle(&new_bundle(org, sha(2), vec![web], None, "a"))
        .await
        .unwrap();
    let (unused, _) = store
        .insert_bundle(&new_bundle(org, sha(3), vec![web], None, "b"))
        .await
        .unwrap();
    let now = Utc::now();
    store
        .touch_bundles(&[used.id], now + Duration::days(30))
        .await
        .unwrap();
    // Nothing is older than a cut-off in the past.
    let none = store
        .expire_artifacts(now - Duration::days(1), now - Duration::days(1))
        .await
        .unwrap();
    assert!(none.chunks.is_empty() && none.bundles.is_empty());

    let later = now + Duration::days(2);
    let expired = store
        .expire_artifacts(later, now + Duration::days(10))
        .await
        .unwrap();
    assert_eq!(expired.chunks, [(org, sha(1))]);
    assert_eq!(expired.bundles, std::slice::from_ref(&unused.blob));
    let left = store.bundles(org, 10).await.unwrap();
    assert_eq!(left.iter().map(|b| b.id).collect::<Vec<_>>(), [used.id]);
    assert!(
        store
            .artifact_by_debug_id(web, "b", ArtifactType::SourceMap)
            .await
            .unwrap()
            .is_none(),
        "an expired bundle's index goes with it"
    );
    assert_eq!(store.upload_usage(org).await.unwrap(), 1000);
}
