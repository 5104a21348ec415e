//! The blob store: uploaded files, one file each under a directory
//! (`<data dir>/files`; in compose, a volume that web, which receives
//! uploads, and the symbolicator, which reads them, both mount). The same
//! in both topologies, so a plain type rather than a seam. Blocking I/O:
//! async callers use it from `spawn_blocking`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where blobs are kept, by key: a relative path of `[a-z0-9._-]` segments.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BlobDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes of every file under the root (0 when there is none yet).
    pub fn disk_bytes(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.file_type() {
                    Ok(t) if t.is_dir() => walk(&entry.path()),
                    Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.len()),
                    _ => 0,
                })
                .sum()
        }
        walk(&self.root)
    }

    /// The file of `key`; a key that could leave the directory is refused
    /// (keys are made by Faultline, so this is a bug, not user input).
    pub fn path(&self, key: &str) -> io::Result<PathBuf> {
        let valid = !key.is_empty()
            && key.split('/').all(|segment| {
                !segment.is_empty()
                    && !segment.starts_with('.')
                    && segment.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a blob key: {key:?}"),
            ));
        }
        Ok(self.root.join(key))
    }

    /// Writes `bytes` as `key`, whole or not at all.
    pub fn write(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let mut writer = self.writer(key)?;
        writer.write_all(bytes)?;
        writer.commit()
    }

    /// A file to write `key` into; it appears under its key only on
    /// [`BlobWriter::commit`], and is removed if dropped before.
    pub fn writer(&self, key: &str) -> io::Result<BlobWriter> {
        let target = self.path(key)?;
        let dir = target.parent().expect("a blob path has a parent");
        fs::create_dir_all(dir)?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("blob"),
            uuid::Uuid::new_v4().simple()
        ));
        let file = File::create(&temp)?;
        Ok(BlobWriter {
            file: Some(file),
            temp,
            target,
        })
    }

    pub fn open(&self, key: &str) -> io::Result<File> {
        File::open(self.path(key)?)
    }

    pub fn exists(&self, key: &str) -> bool {
        self.path(key).is_ok_and(|p| p.is_file())
    }

    /// Removes the directories above `key` that are empty, up to the root
    /// (what deleting a tree of per-event blobs leaves behind). Best
    /// effort: a directory a writer has just filled again stays.
    pub fn prune_empty_dirs(&self, key: &str) {
        let Ok(path) = self.path(key) else { return };
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    /// Removes the files under the `prefix` directory last written before
    /// `cutoff`, and the directories that leaves empty; returns how many
    /// files went.
    pub fn delete_older_than(
        &self,
        prefix: &str,
        cutoff: std::time::SystemTime,
    ) -> io::Result<u64> {
        fn sweep(dir: &Path, cutoff: std::time::SystemTime) -> io::Result<u64> {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut deleted = 0;
            for entry in entries {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    deleted += sweep(&entry.path(), cutoff)?;
                    // Only when empty; a directory still in use stays.
                    let _ = fs::remove_dir(entry.path());
                } else if entry.metadata()?.modified()? < cutoff {
                    fs::remove_file(entry.path())?;
                    deleted += 1;
                }
            }
            Ok(deleted)
        }
        sweep(&self.path(prefix)?, cutoff)
    }

    /// Removes `key`; one that is not there is no error.
    pub fn delete(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// A blob being written (see [`BlobDir::writer`]).
pub struct BlobWriter {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl BlobWriter {
    /// Flushes to disk and puts the blob under its key.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("committed once");
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.target)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("not committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside() {
        let blobs = BlobDir::new("/tmp/x");
        assert!(blobs.path("chunks/1/abc").is_ok());
        for bad in ["", "../x", "a/../b", "/abs", "a//b", ".hidden", "A", "a b"] {
            assert!(blobs.path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("blobs-{}", uuid::Uuid::new_v4().simple()));
        let blobs = BlobDir::new(&dir);
        blobs.write("a/b", b"hello").unwrap();
        assert_eq!(fs::read(blobs.path("a/b").unwrap()).unwrap(), b"hello");
        let mut half = blobs.writer("a/c").unwrap();
        half.write_all(b"part").unwrap();
        drop(half);
        assert!(!blobs.exists("a/c"));
        assert_eq!(fs::read_dir(dir.join("a")).unwrap().count(), 1);
        blobs.delete("a/b").unwrap();
        blobs.delete("a/b").unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
