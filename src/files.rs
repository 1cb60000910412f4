//! Reads files (run.yaml, metadata, dist-info, native files, the loader's
//! configuration) without ever waiting on them.
//!
//! Only regular files are read, and only up to a limit: the file is opened
//! without blocking (opening a FIFO would otherwise wait for a writer), its
//! type is checked on the open handle (no window for a swap after a check by
//! name), and the read stops at the limit, so a FIFO, a device, a huge file or
//! one that grows while it is read cannot stall or swamp a run. Every file
//! preflight reads goes through here.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub(crate) enum ReadError {
    NotFound,
    Directory,
    /// A FIFO, socket or device, described for messages.
    NotRegular(&'static str),
    TooLarge,
    Io(io::Error),
}

impl ReadError {
    /// Why the file was not read, for messages.
    pub(crate) fn reason(&self, limit: u64) -> String {
        match self {
            ReadError::NotFound => "it does not exist".to_string(),
            ReadError::Directory => "it is a directory".to_string(),
            ReadError::NotRegular(kind) => format!("it is {kind}, not a regular file"),
            ReadError::TooLarge => format!("it is larger than {limit} bytes"),
            ReadError::Io(err) => err.to_string(),
        }
    }
}

/// The regular file at `path`, opened for reading without blocking.
pub(crate) fn open_regular(path: &Path) -> Result<fs::File, ReadError> {
    #[allow(clippy::disallowed_methods)] // read-only: only `.read(true)` is set
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let file_type = file.metadata().map_err(io_error)?.file_type();
    if file_type.is_dir() {
        return Err(ReadError::Directory);
    }
    if !file_type.is_file() {
        return Err(ReadError::NotRegular(special_kind(file_type)));
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, if it holds at most `limit` bytes.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let bytes = read_prefix(path, limit.saturating_add(1))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(bytes)
}

/// The first `limit` bytes (or all) of the regular file at `path`.
pub(crate) fn read_prefix(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    open_regular(path)?
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    Ok(bytes)
}

fn io_error(err: io::Error) -> ReadError {
    match err.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(err),
    }
}

fn special_kind(file_type: fs::FileType) -> &'static str {
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_and_oversized_ones_are_refused_without_reading() {
        assert!(matches!(
            read_regular(Path::new("/dev/null"), 10),
            Err(ReadError::NotRegular("a device"))
        ));
        assert!(matches!(
            read_regular(Path::new("/"), 10),
            Err(ReadError::Directory)
        ));
        assert!(matches!(
            read_regular(Path::new("/nonexistent/preflight"), 10),
            Err(ReadError::NotFound)
        ));
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert!(matches!(
            read_regular(&manifest, 10),
            Err(ReadError::TooLarge)
        ));
        assert!(read_regular(&manifest, 1 << 20).is_ok_and(|bytes| bytes.len() > 10));
        assert!(read_prefix(&manifest, 10).is_ok_and(|bytes| bytes.len() == 10));
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        assert!(matches!(
            read_prefix(&fifo, 10),
            Err(ReadError::NotRegular("a FIFO (named pipe)"))
        ));
    }
}
