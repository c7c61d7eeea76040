//! Writing output files safely: a new file is written beside its target and renamed over it,
//! so a reader never sees half a file and a failed write leaves the old one intact; anything
//! that is not a regular file (a FIFO, a device, a directory, a symlink to one) is refused.
//! Both faces write through here (`detect --output`, the workbench's export).

use std::io::{self, Write};
use std::path::Path;

/// Why [`replace_file`] refused its target.
#[derive(Debug)]
pub struct NotRegularFile;

impl std::fmt::Display for NotRegularFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a regular file; refusing to replace it")
    }
}

impl std::error::Error for NotRegularFile {}

/// Whether `e` is [`replace_file`] refusing a target that is not a regular file.
pub fn is_not_regular_file(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<NotRegularFile>())
}

/// Permissions of a file written by [`replace_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewFileMode {
    /// Owner only on Unix (models of neighbour methods contain the training rows).
    Private,
    /// Those of the file replaced; for a new file the usual ones (umask).
    Usual,
}

/// Writes `path` through a temporary file beside it that is renamed over it at the end, so that
/// an interrupted write never leaves half a file. Only a new path or a regular file is replaced:
/// renaming over a symlink, FIFO or device node would swap the node itself for a file (as root,
/// `/dev/full` became a regular file), so those and directories are refused.
pub fn replace_file(
    path: &Path,
    mode: NewFileMode,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let existing = replaceable(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, NotRegularFile))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (tmp, file) = create_temp(dir, name, mode)?;
    let result = (|| -> io::Result<()> {
        if let (NewFileMode::Usual, Some(meta)) = (mode, &existing) {
            file.set_permissions(usual_permissions(meta))?;
        }
        let mut w = io::BufWriter::new(file);
        let out: &mut dyn Write = &mut w;
        write(out)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        // Again just before the rename: the target may have changed while we wrote.
        replaceable(path)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The metadata of the regular file at `path`, `None` when nothing is there, an error for
/// anything else (a symlink is not followed).
fn replaceable(path: &Path) -> io::Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(Some(meta)),
        Ok(_) => Err(io::Error::new(io::ErrorKind::InvalidInput, NotRegularFile)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The replaced file's permission bits, without set-id or sticky bits.
fn usual_permissions(meta: &std::fs::Metadata) -> std::fs::Permissions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(meta.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        meta.permissions()
    }
}

/// A new file `.NAME.PID-N.partial` in `dir`; `create_new`, so nothing already there (a planted
/// symlink included) is ever opened.
fn create_temp(
    dir: &Path,
    name: &std::ffi::OsStr,
    mode: NewFileMode,
) -> io::Result<(std::path::PathBuf, std::fs::File)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if mode == NewFileMode::Private {
            options.mode(0o600);
        }
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut attempt = 0u32;
    loop {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}-{attempt}.partial", std::process::id()));
        let tmp = dir.join(tmp_name);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}
