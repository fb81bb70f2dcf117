//! File positions in decnet.ingest_positions: how far each log file has been
//! stored. They are read and written in the transaction that stores the
//! lines, so a file is never loaded twice (decnet_core::follow has the rules).

use crate::CliError;
use decnet_core::follow::{Head, HEAD_BYTES};
use postgres::GenericClient;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};

/// A file, whatever its name: rotation renames it, its identity stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub device: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            device: meta.dev(),
            inode: meta.ino(),
        }
    }
}

/// A stored position.
#[derive(Debug, Clone)]
pub struct Position {
    pub path: String,
    pub head: Head,
    pub offset: u64,
    pub lines: u64,
}

fn db(context: &'static str) -> impl Fn(postgres::Error) -> CliError {
    move |e| CliError::from_db(context, e)
}

fn position_of(row: &postgres::Row) -> Result<Position, CliError> {
    let sha: Vec<u8> = row.get("head_sha256");
    Ok(Position {
        path: row.get("path"),
        head: Head {
            len: row.get::<_, i32>("head_len") as usize,
            sha256: sha.try_into().map_err(|_| {
                CliError::new("a stored head fingerprint is not 32 bytes", "this is a bug")
            })?,
        },
        offset: row.get::<_, i64>("byte_offset") as u64,
        lines: row.get::<_, i64>("lines") as u64,
    })
}

const COLUMNS: &str = "device, inode, path, head_len, head_sha256, byte_offset, lines";

/// The stored position of a file; `for_update` locks it until the transaction
/// ends, so two loaders of one file take turns instead of both storing it.
pub fn load(
    c: &mut impl GenericClient,
    id: FileId,
    for_update: bool,
) -> Result<Option<Position>, CliError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT {COLUMNS} FROM decnet.ingest_positions WHERE device = $1 AND inode = $2{lock}"
    );
    let row = c
        .query_opt(&sql, &[&(id.device as i64), &(id.inode as i64)])
        .map_err(db("reading a file position failed"))?;
    row.as_ref().map(position_of).transpose()
}

/// Every stored file last read at `path`, oldest first: the rotated
/// generations a restarted follower may still have to finish.
pub fn at_path(
    c: &mut impl GenericClient,
    path: &str,
) -> Result<Vec<(FileId, Position)>, CliError> {
    let sql = format!("SELECT {COLUMNS} FROM decnet.ingest_positions WHERE path = $1 ORDER BY updated_at, device, inode");
    let rows = c
        .query(&sql, &[&path])
        .map_err(db("reading file positions failed"))?;
    rows.iter()
        .map(|r| {
            Ok((
                FileId {
                    device: r.get::<_, i64>("device") as u64,
                    inode: r.get::<_, i64>("inode") as u64,
                },
                position_of(r)?,
            ))
        })
        .collect()
}

/// When a position of a file last read at `path` was last stored.
pub fn last_stored(
    c: &mut impl GenericClient,
    path: &str,
) -> Result<Option<std::time::SystemTime>, CliError> {
    let row = c
        .query_one(
            "SELECT max(updated_at) FROM decnet.ingest_positions WHERE path = $1",
            &[&path],
        )
        .map_err(db("reading file positions failed"))?;
    Ok(row.get(0))
}

/// Stores a file's position (insert or move).
pub fn save(c: &mut impl GenericClient, id: FileId, p: &Position) -> Result<(), CliError> {
    c.execute(
        "INSERT INTO decnet.ingest_positions AS p (device, inode, path, head_len, head_sha256, byte_offset, lines)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (device, inode) DO UPDATE SET path = excluded.path, head_len = excluded.head_len,
             head_sha256 = excluded.head_sha256, byte_offset = excluded.byte_offset, lines = excluded.lines,
             updated_at = now()",
        &[
            &(id.device as i64),
            &(id.inode as i64),
            &p.path,
            &(p.head.len as i32),
            &p.head.sha256.as_slice(),
            &(p.offset as i64),
            &(p.lines as i64),
        ],
    )
    .map_err(db("storing a file position failed"))?;
    Ok(())
}

/// The first bytes of a file that fingerprint it: at most [`HEAD_BYTES`], and
/// never past `upto` (the bytes already stored).
pub fn read_head(file: &File, upto: u64) -> std::io::Result<Vec<u8>> {
    let want = (upto.min(HEAD_BYTES as u64)) as usize;
    let mut buf = vec![0; want];
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}
