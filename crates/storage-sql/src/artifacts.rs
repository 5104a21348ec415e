//! Upload chunks and artifact bundles with their file index.

use chrono::{DateTime, Utc};
use faultline_protocol::{OrgId, ProjectId};

use super::dialect::Dialect;
use super::driver::{Pools, Row, Tx};
use faultline_storage::{
    ArtifactBundle, ArtifactFile, ArtifactType, ChunkAdmission, ExpiredArtifacts, FoundArtifact,
    NewArtifactBundle, Result, StorageError, from_millis, to_millis,
};

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn bundle(row: &Row) -> Result<ArtifactBundle> {
    Ok(ArtifactBundle {
        id: row.get("id")?,
        org_id: OrgId(row.get("org_id")?),
        checksum: row.get("checksum")?,
        bundle_id: row.get("bundle_id")?,
        release: row.get("release")?,
        dist: row.get("dist")?,
        file_count: to_u64(row.get("file_count")?),
        size: to_u64(row.get("size")?),
        blob: row.get("blob")?,
        date_added: from_millis(row.get("date_added")?),
    })
}

fn file(row: &Row) -> Result<ArtifactFile> {
    let ty: String = row.get("file_type")?;
    Ok(ArtifactFile {
        path: row.get("path")?,
        url: row.get("url")?,
        ty: ArtifactType::parse(&ty),
        debug_id: row.get("debug_id")?,
        sourcemap: row.get("sourcemap")?,
        size: to_u64(row.get("size")?),
    })
}

fn found(row: &Row) -> Result<FoundArtifact> {
    Ok(FoundArtifact {
        bundle_id: row.get("bundle_id")?,
        blob: row.get("blob")?,
        file: file(row)?,
    })
}

/// Bytes `org` keeps, read inside `tx`.
async fn usage_in(tx: &mut Tx, org: OrgId) -> Result<u64> {
    let chunks: Option<i64> = tx
        // PostgreSQL sums BIGINT to NUMERIC; the cast keeps one type.
        .query("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM upload_chunks WHERE org_id = ?")
        .bind(org.0)
        .fetch_scalar()
        .await?;
    let bundles: Option<i64> = tx
        .query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM artifact_bundles WHERE org_id = ?",
        )
        .bind(org.0)
        .fetch_scalar()
        .await?;
    Ok(to_u64(chunks.unwrap_or(0)).saturating_add(to_u64(bundles.unwrap_or(0))))
}

pub(super) async fn record_chunks(
    pools: &Pools,
    org: OrgId,
    chunks: &[(String, u64)],
    quota: u64,
) -> Result<ChunkAdmission> {
    let mut tx = pools.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        // Two uploads of one organization must not both fit in what is left.
        tx.query("SELECT id FROM organizations WHERE id = ? FOR UPDATE")
            .bind(org.0)
            .execute()
            .await?;
    }
    let used = usage_in(&mut tx, org).await?;
    let known = missing_in(
        &mut tx,
        org,
        chunks.iter().map(|(c, _)| c.clone()).collect(),
    )
    .await?;
    let added: u64 = chunks
        .iter()
        .filter(|(checksum, _)| known.contains(checksum))
        .map(|(_, size)| size)
        .sum();
    if used.saturating_add(added) > quota {
        return Ok(ChunkAdmission::OverQuota { used });
    }
    let now = to_millis(Utc::now());
    for (checksum, size) in chunks {
        tx.query(
            "INSERT INTO upload_chunks (org_id, checksum, size, date_added) VALUES (?, ?, ?, ?) \
             ON CONFLICT (org_id, checksum) DO UPDATE SET date_added = excluded.date_added",
        )
        .bind(org.0)
        .bind(checksum.as_str())
        .bind(to_i64(*size))
        .bind(now)
        .execute()
        .await?;
    }
    tx.commit().await?;
    Ok(ChunkAdmission::Recorded)
}

/// Which of `checksums` `org` has no chunk of, in order.
async fn missing_in(tx: &mut Tx, org: OrgId, checksums: Vec<String>) -> Result<Vec<String>> {
    if checksums.is_empty() {
        return Ok(checksums);
    }
    let mut query = tx.query("SELECT checksum FROM upload_chunks WHERE org_id = ");
    query.push_bind(org.0).push(" AND checksum IN ");
    query.push_list(checksums.iter().map(String::as_str));
    let rows = query.fetch_all().await?;
    let have: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_>>()?;
    Ok(checksums
        .into_iter()
        .filter(|c| !have.contains(c))
        .collect())
}

pub(super) async fn missing_chunks(
    pools: &Pools,
    org: OrgId,
    checksums: &[String],
) -> Result<Vec<String>> {
    let mut tx = pools.begin().await?;
    let missing = missing_in(&mut tx, org, checksums.to_vec()).await?;
    tx.commit().await?;
    Ok(missing)
}

pub(super) async fn remove_chunks(pools: &Pools, org: OrgId, checksums: &[String]) -> Result<()> {
    if checksums.is_empty() {
        return Ok(());
    }
    let mut query = pools.write("DELETE FROM upload_chunks WHERE org_id = ");
    query.push_bind(org.0).push(" AND checksum IN ");
    query.push_list(checksums.iter().map(String::as_str));
    query.execute().await.map(drop)
}

pub(super) async fn upload_usage(pools: &Pools, org: OrgId) -> Result<u64> {
    let mut tx = pools.begin().await?;
    let used = usage_in(&mut tx, org).await?;
    tx.commit().await?;
    Ok(used)
}

pub(super) async fn bundle_by_checksum(
    pools: &Pools,
    org: OrgId,
    checksum: &str,
) -> Result<Option<ArtifactBundle>> {
    pools
        .read("SELECT * FROM artifact_bundles WHERE org_id = ? AND checksum = ?")
        .bind(org.0)
        .bind(checksum)
        .fetch_optional()
        .await?
        .as_ref()
        .map(bundle)
        .transpose()
}

pub(super) async fn insert_bundle(
    pools: &Pools,
    new: &NewArtifactBundle,
) -> Result<(ArtifactBundle, bool)> {
    let mut tx = pools.begin().await?;
    let existing: Option<i64> = tx
        .query("SELECT id FROM artifact_bundles WHERE org_id = ? AND checksum = ?")
        .bind(new.org_id.0)
        .bind(new.checksum.as_str())
        .fetch_scalar()
        .await?;
    let created = existing.is_none();
    let now = to_millis(Utc::now());
    let id = match existing {
        Some(id) => id,
        None => {
            let id: i64 = tx
                .query(
                    "INSERT INTO artifact_bundles (org_id, checksum, bundle_id, release, dist, \
                     file_count, size, blob, date_added, date_last_used) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(new.org_id.0)
                .bind(new.checksum.as_str())
                .bind(new.bundle_id.as_deref())
                .bind(new.release.as_deref())
                .bind(new.dist.as_deref())
                .bind(to_i64(new.files.len() as u64))
                .bind(to_i64(new.size))
                .bind(new.blob.as_str())
                .bind(now)
                .bind(now)
                .fetch_scalar()
                .await?
                .ok_or(StorageError::NotFound)?;
            // Many rows per statement: a bundle may hold thousands of files.
            for files in new.files.chunks(200) {
                let mut query = tx.query(
                    "INSERT INTO artifact_bundle_files \
                     (bundle_id, path, url, file_type, debug_id, sourcemap, size) VALUES ",
                );
                query.push_rows(files, |q, f| {
                    q.push_bind(id).push(", ").push_bind(f.path.as_str());
                    q.push(", ").push_bind(f.url.as_str());
                    q.push(", ").push_bind(f.ty.as_str());
                    q.push(", ").push_bind(f.debug_id.as_deref());
                    q.push(", ").push_bind(f.sourcemap.as_deref());
                    q.push(", ").push_bind(to_i64(f.size));
                });
                query.push(" ON CONFLICT DO NOTHING");
                query.execute().await?;
            }
            id
        }
    };
    for project in &new.projects {
        tx.query(
            "INSERT INTO artifact_bundle_projects (bundle_id, project_id) VALUES (?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(project.0)
        .execute()
        .await?;
    }
    let row = tx
        .query("SELECT * FROM artifact_bundles WHERE id = ?")
        .bind(id)
        .fetch_one()
        .await?;
    let found = bundle(&row)?;
    tx.commit().await?;
    Ok((found, created))
}

async fn files_of(pools: &Pools, bundle: i64) -> Result<Vec<ArtifactFile>> {
    let rows = pools
        .read("SELECT * FROM artifact_bundle_files WHERE bundle_id = ? ORDER BY url, path")
        .bind(bundle)
        .fetch_all()
        .await?;
    rows.iter().map(file).collect()
}

pub(super) async fn release_bundles(
    pools: &Pools,
    org: OrgId,
    release: &str,
) -> Result<Vec<(ArtifactBundle, Vec<ArtifactFile>)>> {
    let rows = pools
        .read(
            "SELECT * FROM artifact_bundles WHERE org_id = ? AND release = ? \
             ORDER BY date_added DESC, id DESC LIMIT 100",
        )
        .bind(org.0)
        .bind(release)
        .fetch_all()
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let found = bundle(row)?;
        let files = files_of(pools, found.id).await?;
        out.push((found, files));
    }
    Ok(out)
}

pub(super) async fn bundles(
    pools: &Pools,
    org: OrgId,
    limit: usize,
) -> Result<Vec<ArtifactBundle>> {
    let rows = pools
        .read("SELECT * FROM artifact_bundles WHERE org_id = ? ORDER BY date_added DESC, id DESC LIMIT ?")
        .bind(org.0)
        .bind(to_i64(limit as u64))
        .fetch_all()
        .await?;
    rows.iter().map(bundle).collect()
}

const FOUND_COLUMNS: &str = "SELECT f.*, b.blob FROM artifact_bundle_files f \
     JOIN artifact_bundles b ON b.id = f.bundle_id \
     JOIN artifact_bundle_projects p ON p.bundle_id = b.id ";

pub(super) async fn by_debug_id(
    pools: &Pools,
    project: ProjectId,
    debug_id: &str,
    ty: ArtifactType,
) -> Result<Option<FoundArtifact>> {
    pools
        .read(&format!(
            "{FOUND_COLUMNS} WHERE p.project_id = ? AND f.debug_id = ? AND f.file_type = ? \
             ORDER BY b.date_added DESC, b.id DESC LIMIT 1"
        ))
        .bind(project.0)
        .bind(debug_id)
        .bind(ty.as_str())
        .fetch_optional()
        .await?
        .as_ref()
        .map(found)
        .transpose()
}

pub(super) async fn release_files(
    pools: &Pools,
    project: ProjectId,
    release: &str,
    dist: Option<&str>,
    limit: usize,
) -> Result<Vec<FoundArtifact>> {
    let mut query = pools.read(FOUND_COLUMNS);
    query.push("WHERE p.project_id = ").push_bind(project.0);
    query.push(" AND b.release = ").push_bind(release);
    match dist {
        Some(dist) => query.push(" AND b.dist = ").push_bind(dist),
        None => query.push(" AND b.dist IS NULL"),
    };
    query.push(" AND f.file_type IN ('minified_source', 'source_map', 'source')");
    query.push(" ORDER BY b.date_added DESC, b.id DESC LIMIT ");
    query.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = query.fetch_all().await?;
    rows.iter().map(found).collect()
}

pub(super) async fn touch(pools: &Pools, bundles: &[i64], at: DateTime<Utc>) -> Result<()> {
    if bundles.is_empty() {
        return Ok(());
    }
    let mut query = pools.write("UPDATE artifact_bundles SET date_last_used = ");
    query.push_bind(to_millis(at)).push(" WHERE id IN ");
    query.push_list(bundles.iter().copied());
    query.execute().await.map(drop)
}

pub(super) async fn expire(
    pools: &Pools,
    chunks_before: DateTime<Utc>,
    bundles_before: DateTime<Utc>,
) -> Result<ExpiredArtifacts> {
    let mut tx = pools.begin().await?;
    let chunk_rows = tx
        .query("DELETE FROM upload_chunks WHERE date_added < ? RETURNING org_id, checksum")
        .bind(to_millis(chunks_before))
        .fetch_all()
        .await?;
    let bundle_rows = tx
        .query("DELETE FROM artifact_bundles WHERE date_last_used < ? RETURNING blob")
        .bind(to_millis(bundles_before))
        .fetch_all()
        .await?;
    let expired = ExpiredArtifacts {
        chunks: chunk_rows
            .iter()
            .map(|r| Ok((OrgId(r.get(0)?), r.get(1)?)))
            .collect::<Result<_>>()?,
        bundles: bundle_rows
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?,
    };
    tx.commit().await?;
    Ok(expired)
}
