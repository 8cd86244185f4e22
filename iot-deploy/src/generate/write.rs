//! Writing rendered files into an output directory, honouring each file's
//! [`WriteMode`]: files the operator owns are never overwritten.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{File, WriteMode};

/// What [`write_files`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Written {
    /// Paths (relative, as in [`File::path`]) written.
    pub written: Vec<String>,
    /// Create-only paths that already existed and were left as they are.
    pub kept: Vec<String>,
}

/// A file or directory that could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub struct WriteError {
    /// The path on disk.
    pub path: PathBuf,
    /// What was being done: `create` (a directory) or `write`.
    pub action: &'static str,
    /// The operating system's error.
    pub source: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot {}: {}",
            self.path.display(),
            self.action,
            self.source
        )
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes `files` under `out`, creating directories. A
/// [`WriteMode::CreateOnly`] file is created with `create_new`, so one that
/// exists (even created a moment ago by someone else) is never truncated.
pub fn write_files(out: &Path, files: &[File]) -> Result<Written, WriteError> {
    let mut done = Written::default();
    for f in files {
        let path = out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| WriteError {
                path: dir.to_path_buf(),
                action: "create",
                source,
            })?;
        }
        let fail = |source| WriteError {
            path: path.clone(),
            action: "write",
            source,
        };
        match f.mode {
            WriteMode::Replace => std::fs::write(&path, &f.contents).map_err(fail)?,
            WriteMode::CreateOnly => {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(mut file) => file.write_all(f.contents.as_bytes()).map_err(fail)?,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        done.kept.push(f.path.clone());
                        continue;
                    }
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        done.written.push(f.path.clone());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_only_keeps_what_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let files = [
            File::new("a/replaced", "new"),
            File::create_only("a/kept", "generated"),
        ];
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/replaced"), "old").unwrap();
        std::fs::write(dir.join("a/kept"), "user: hash\n").unwrap();
        let w = write_files(dir, &files).unwrap();
        assert_eq!(w.written, ["a/replaced"]);
        assert_eq!(w.kept, ["a/kept"]);
        assert_eq!(
            std::fs::read_to_string(dir.join("a/replaced")).unwrap(),
            "new"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("a/kept")).unwrap(),
            "user: hash\n"
        );
    }
}
