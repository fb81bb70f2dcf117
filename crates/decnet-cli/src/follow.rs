//! `decnet ingest --follow FILE…`: tails growing log files (like `tail -F`)
//! and stores their lines in micro-batches, exactly once.
//!
//! Each batch is one transaction: lock the files' positions, COPY the lines,
//! move the positions. A crash loses only an uncommitted batch, whose lines
//! are read again from the stored positions on restart. Rotation by rename
//! and by copytruncate is followed: the old generation is finished first,
//! found again after a restart by its inode or its head fingerprint.

use crate::daemon;
use crate::ingest::{absolute, COPY_LOGS};
use crate::positions::{self, FileId, Position};
use crate::CliError;
use decnet_core::copy_text;
use decnet_core::follow::{self, Head, LineSplitter, Resume, HEAD_BYTES};
use postgres::Client;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Commit a batch this long after its first line arrived.
    pub batch_interval: Duration,
    /// Commit a batch once it holds this many lines.
    pub batch_lines: usize,
    /// Ignore stored positions at start: read every file from its beginning.
    pub from_start: bool,
    /// Print a status line this often (None: never).
    pub status_every: Option<Duration>,
}

/// A batch also commits at this size, whatever its line count: hostile lines
/// can be long.
const BATCH_BYTES: usize = 16 << 20;
/// How long an idle follower sleeps between looks at its files.
const POLL: Duration = Duration::from_millis(50);
/// Bytes read from a file per read call.
const READ_CHUNK: usize = 256 << 10;

/// One generation of a followed file: the file a path named at some time.
struct Generation {
    id: FileId,
    file: File,
    /// The first bytes read (at most HEAD_BYTES): its fingerprint.
    head: Vec<u8>,
    /// Bytes read from the file (a partial last line included).
    read_to: u64,
    /// Just after the last complete line put in the batch.
    consumed: u64,
    /// What decnet.ingest_positions holds for it (None: no row): checked under
    /// lock before each commit, so two followers never both store a line.
    stored_offset: Option<u64>,
    lines_stored: u64,
    lines_batched: u64,
    splitter: LineSplitter,
    /// Rotated away: read to its end, then dropped.
    finished: bool,
}

impl Generation {
    fn open(
        file: File,
        id: FileId,
        stored: Option<&Position>,
        from_start: bool,
    ) -> std::io::Result<Generation> {
        let size = file.metadata()?.len();
        let start = positions::read_head(&file, size)?;
        let resume = match stored {
            Some(p) if !from_start => follow::resume(Some((&p.head, p.offset)), size, &start),
            _ => Resume::FromStart,
        };
        let (offset, lines) = match (resume, stored) {
            (Resume::At(o), Some(p)) => (o, p.lines),
            _ => (0, 0),
        };
        Generation::at(file, id, stored.map(|p| p.offset), offset, lines)
    }

    fn at(
        mut file: File,
        id: FileId,
        stored_offset: Option<u64>,
        offset: u64,
        lines: u64,
    ) -> std::io::Result<Generation> {
        file.seek(SeekFrom::Start(offset))?;
        let head = positions::read_head(&file, offset)?;
        Ok(Generation {
            id,
            file,
            head,
            read_to: offset,
            consumed: offset,
            stored_offset,
            lines_stored: lines,
            lines_batched: 0,
            splitter: LineSplitter::new(),
            finished: false,
        })
    }

    /// Whether its position must be written at the next commit.
    fn dirty(&self) -> bool {
        self.stored_offset != Some(self.consumed)
            && (self.consumed > 0 || self.stored_offset.is_some())
    }
}

/// A followed path and the generations still to read, oldest first.
struct Source {
    path: String,
    generations: VecDeque<Generation>,
}

struct Batch {
    copy: Vec<u8>,
    lines: usize,
    since: Option<Instant>,
}

pub struct Follower {
    dsn: String,
    client: Client,
    opts: FollowOptions,
    sources: Vec<Source>,
    batch: Batch,
    stored_total: u64,
    status_at: Instant,
    stored_at_status: u64,
}

enum FlushError {
    /// Retry after reconnecting and re-reading the positions.
    Transient(String),
    Fatal(CliError),
}

impl From<postgres::Error> for FlushError {
    fn from(e: postgres::Error) -> Self {
        if daemon::unrecoverable(&e) {
            FlushError::Fatal(CliError::from_db("storing a batch failed", e))
        } else {
            FlushError::Transient(CliError::from_db("storing a batch failed", e).message)
        }
    }
}

impl From<CliError> for FlushError {
    fn from(e: CliError) -> Self {
        FlushError::Transient(e.message)
    }
}

impl Follower {
    pub fn new(
        dsn: &str,
        client: Client,
        paths: &[String],
        opts: FollowOptions,
    ) -> Result<Follower, CliError> {
        let sources = paths
            .iter()
            .map(|p| Source {
                path: absolute(p),
                generations: VecDeque::new(),
            })
            .collect();
        let mut f = Follower {
            dsn: dsn.to_string(),
            client,
            opts,
            sources,
            batch: Batch {
                copy: Vec::new(),
                lines: 0,
                since: None,
            },
            stored_total: 0,
            status_at: Instant::now(),
            stored_at_status: 0,
        };
        f.reload(true)?;
        Ok(f)
    }

    /// (Re)opens every source at its stored position, first the rotated
    /// generations a previous run left unfinished. Drops the batch.
    fn reload(&mut self, first: bool) -> Result<(), CliError> {
        self.batch = Batch {
            copy: Vec::new(),
            lines: 0,
            since: None,
        };
        let from_start = first && self.opts.from_start;
        for i in 0..self.sources.len() {
            let path = self.sources[i].path.clone();
            let rows = positions::at_path(&mut self.client, &path)?;
            let mut gens = VecDeque::new();
            let current = std::fs::metadata(&path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| FileId::of(&m));
            if !from_start {
                // rotated generations, oldest first: those stored in part, and
                // those written and rotated while no follower ran
                let mut rotated: Vec<(std::time::SystemTime, Generation)> = Vec::new();
                for (id, pos) in rows.iter().filter(|(id, _)| Some(*id) != current) {
                    if let Some((file, mtime)) = find_generation(&path, *id, pos) {
                        let mut g =
                            Generation::at(file, *id, Some(pos.offset), pos.offset, pos.lines)?;
                        g.finished = true;
                        rotated.push((mtime, g));
                    }
                }
                if let Some(since) = positions::last_stored(&mut self.client, &path)? {
                    let known: Vec<FileId> =
                        rows.iter().map(|(id, _)| *id).chain(current).collect();
                    let heads: Vec<&Head> = rows.iter().map(|(_, p)| &p.head).collect();
                    for (file, id, mtime) in missed_generations(&path, &known, &heads, since) {
                        let mut g = Generation::at(file, id, None, 0, 0)?;
                        g.finished = true;
                        rotated.push((mtime, g));
                    }
                }
                rotated.sort_by_key(|(mtime, g)| (*mtime, g.id));
                gens.extend(rotated.into_iter().map(|(_, g)| g));
            }
            if let Some(id) = current {
                if let Ok(file) = File::open(&path) {
                    let stored = positions::load(&mut self.client, id, false)?;
                    // the current file rewritten in place (copytruncate while we were away):
                    // finish the copy of its old content first
                    if let Some(p) = stored.as_ref().filter(|_| !from_start) {
                        let size = file.metadata()?.len();
                        let start = positions::read_head(&file, size)?;
                        if follow::resume(Some((&p.head, p.offset)), size, &start)
                            == Resume::FromStart
                        {
                            let known: Vec<FileId> = rows.iter().map(|(id, _)| *id).collect();
                            if let Some(g) = copy_generation(&path, &known, p)? {
                                gens.push_back(g);
                            }
                        }
                    }
                    gens.push_back(Generation::open(file, id, stored.as_ref(), from_start)?);
                }
            }
            self.sources[i].generations = gens;
        }
        Ok(())
    }

    /// Runs until SIGTERM/SIGINT; returns the lines stored.
    pub fn run(&mut self) -> Result<u64, CliError> {
        daemon::install_stop_handlers();
        loop {
            let stopping = daemon::stop_requested();
            let mut progressed = false;
            for i in 0..self.sources.len() {
                progressed |= self.poll_source(i)?;
                if self.batch_full() {
                    self.commit()?;
                }
            }
            let due = self
                .batch
                .since
                .is_some_and(|t| t.elapsed() >= self.opts.batch_interval);
            let positions_only = self.batch.lines == 0
                && self
                    .sources
                    .iter()
                    .flat_map(|s| &s.generations)
                    .any(|g| g.dirty());
            if due || stopping || positions_only {
                self.commit()?;
            }
            self.drop_finished();
            self.maybe_status();
            if stopping {
                return Ok(self.stored_total);
            }
            if !progressed {
                std::thread::sleep(POLL);
            }
        }
    }

    fn batch_full(&self) -> bool {
        self.batch.lines >= self.opts.batch_lines || self.batch.copy.len() >= BATCH_BYTES
    }

    /// Reads what a source's generations have appended; notices rotation and
    /// truncation. Returns whether anything was read.
    fn poll_source(&mut self, i: usize) -> Result<bool, CliError> {
        let path = self.sources[i].path.clone();
        let mut progressed = false;
        // the path now names another file: the current one rotated away
        let now = std::fs::metadata(&path).ok().filter(|m| m.is_file());
        let newest = self.sources[i].generations.back().map(|g| g.id);
        if let Some(meta) = &now {
            let id = FileId::of(meta);
            if newest != Some(id) {
                if let Some(g) = self.sources[i].generations.back_mut() {
                    g.finished = true;
                }
                if let Ok(file) = File::open(&path) {
                    let stored = positions::load(&mut self.client, id, false)?;
                    let g = Generation::open(file, id, stored.as_ref(), false)?;
                    self.sources[i].generations.push_back(g);
                }
            } else if let Some(g) = self.sources[i].generations.back_mut() {
                if truncated(g, meta.len())? {
                    // copytruncate: the copy holds what was not read yet; read it
                    // there, and this file anew from its start
                    let old = Position {
                        path: path.clone(),
                        head: Head::of(&g.head),
                        offset: g.consumed,
                        lines: 0,
                    };
                    let mut known: Vec<FileId> =
                        self.sources[i].generations.iter().map(|g| g.id).collect();
                    known.extend(
                        positions::at_path(&mut self.client, &path)?
                            .into_iter()
                            .map(|(id, _)| id),
                    );
                    let copy = copy_generation(&path, &known, &old)?;
                    if copy.is_none() {
                        eprintln!("follow: {path} was truncated and no copy of its old content was found: lines after offset {} are lost", old.offset);
                    }
                    let g = self.sources[i]
                        .generations
                        .back_mut()
                        .expect("a generation");
                    let mut fresh = Generation::at(File::open(&path)?, id, g.stored_offset, 0, 0)?;
                    fresh.lines_batched = g.lines_batched;
                    *g = fresh;
                    if let Some(copy) = copy {
                        let at = self.sources[i].generations.len() - 1;
                        self.sources[i].generations.insert(at, copy);
                    }
                    progressed = true;
                }
            }
        }
        let n = self.sources[i].generations.len();
        for k in 0..n {
            if self.batch_full() {
                break;
            }
            progressed |= self.read_generation(i, k)?;
        }
        Ok(progressed)
    }

    /// Reads one chunk of generation k of source i into the batch.
    fn read_generation(&mut self, i: usize, k: usize) -> Result<bool, CliError> {
        let mut chunk = vec![0u8; READ_CHUNK];
        let g = &mut self.sources[i].generations[k];
        let n = g.file.read(&mut chunk)?;
        let batch = &mut self.batch;
        if n == 0 {
            if g.finished {
                // rotated away and read to its end: a partial last line will not grow
                let mut consumed = 0;
                g.splitter.finish(|line, used| {
                    copy_text::push_row(&mut batch.copy, line);
                    batch.lines += 1;
                    batch.since.get_or_insert_with(Instant::now);
                    consumed += used;
                });
                if consumed > 0 {
                    g.consumed += consumed;
                    g.lines_batched += 1;
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let data = &chunk[..n];
        if g.head.len() < HEAD_BYTES && g.read_to < HEAD_BYTES as u64 {
            let take = (HEAD_BYTES - g.head.len()).min(n);
            g.head.extend_from_slice(&data[..take]);
        }
        g.read_to += n as u64;
        let (mut consumed, mut lines) = (0, 0);
        g.splitter.feed(data, |line, used| {
            copy_text::push_row(&mut batch.copy, line);
            batch.lines += 1;
            batch.since.get_or_insert_with(Instant::now);
            consumed += used;
            lines += 1;
        });
        g.consumed += consumed;
        g.lines_batched += lines;
        Ok(true)
    }

    /// Commits the batch and the positions it moves; on a lost connection,
    /// reconnects and starts again from the stored positions.
    fn commit(&mut self) -> Result<(), CliError> {
        match self.try_commit() {
            Ok(()) => Ok(()),
            Err(FlushError::Fatal(e)) => Err(e),
            Err(FlushError::Transient(why)) => {
                eprintln!("follow: batch not stored ({why}); reconnecting and re-reading from the stored positions");
                loop {
                    self.reconnect()?;
                    match self.reload(false) {
                        Ok(()) => return Ok(()),
                        Err(e) => eprintln!(
                            "follow: re-reading the positions failed ({}); retrying",
                            e.message
                        ),
                    }
                }
            }
        }
    }

    fn try_commit(&mut self) -> Result<(), FlushError> {
        let mut dirty: Vec<(usize, usize)> = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            for (k, g) in s.generations.iter().enumerate() {
                if g.dirty() || g.lines_batched > 0 {
                    dirty.push((i, k));
                }
            }
        }
        if dirty.is_empty() && self.batch.lines == 0 {
            return Ok(());
        }
        // positions first, in file order: two followers of one file queue here
        dirty.sort_by_key(|&(i, k)| self.sources[i].generations[k].id);
        let mut tx = self.client.transaction()?;
        for &(i, k) in &dirty {
            let g = &self.sources[i].generations[k];
            let now = positions::load(&mut tx, g.id, true)?.map(|p| p.offset);
            if now != g.stored_offset {
                return Err(FlushError::Transient(format!(
                    "{} was moved by another loader (stored offset {now:?}, expected {:?})",
                    self.sources[i].path, g.stored_offset
                )));
            }
        }
        if self.batch.lines > 0 {
            let mut w = tx.copy_in(COPY_LOGS)?;
            w.write_all(&self.batch.copy)
                .map_err(|e| FlushError::Transient(format!("COPY stream failed: {e}")))?;
            let rows = w.finish()?;
            if rows != self.batch.lines as u64 {
                return Err(FlushError::Fatal(CliError::new(
                    format!("COPY stored {rows} rows for {} lines", self.batch.lines),
                    "this is a bug: report it with the input file",
                )));
            }
        }
        for &(i, k) in &dirty {
            let path = self.sources[i].path.clone();
            let g = &self.sources[i].generations[k];
            let head = Head::of(&g.head[..g.head.len().min(g.consumed as usize)]);
            positions::save(
                &mut tx,
                g.id,
                &Position {
                    path,
                    head,
                    offset: g.consumed,
                    lines: g.lines_stored + g.lines_batched,
                },
            )?;
        }
        tx.commit()?;
        self.stored_total += self.batch.lines as u64;
        self.batch = Batch {
            copy: Vec::new(),
            lines: 0,
            since: None,
        };
        for &(i, k) in &dirty {
            let g = &mut self.sources[i].generations[k];
            g.stored_offset = Some(g.consumed);
            g.lines_stored += g.lines_batched;
            g.lines_batched = 0;
        }
        Ok(())
    }

    fn reconnect(&mut self) -> Result<(), CliError> {
        self.client = crate::db::connect_patiently(&self.dsn)?;
        Ok(())
    }

    /// Forgets generations that rotated away, were read to their end and are stored.
    fn drop_finished(&mut self) {
        for s in &mut self.sources {
            let keep_last = s.generations.len().saturating_sub(1);
            let mut k = 0;
            s.generations.retain(|g| {
                let last = k == keep_last;
                k += 1;
                last || !(g.finished
                    && g.splitter.pending() == 0
                    && !g.dirty()
                    && g.lines_batched == 0
                    && at_end(g))
            });
        }
    }

    fn maybe_status(&mut self) {
        let Some(every) = self.opts.status_every else {
            return;
        };
        if self.status_at.elapsed() < every {
            return;
        }
        let secs = self.status_at.elapsed().as_secs_f64();
        let rate = (self.stored_total - self.stored_at_status) as f64 / secs;
        let mut files = Vec::new();
        for s in &self.sources {
            for g in &s.generations {
                let size = g.file.metadata().map(|m| m.len()).unwrap_or(g.consumed);
                let lag = size.saturating_sub(g.stored_offset.unwrap_or(0));
                files.push(format!(
                    "{}@{} (lag {lag} B)",
                    s.path,
                    g.stored_offset.unwrap_or(0)
                ));
            }
        }
        eprintln!(
            "follow: {} lines stored, {rate:.0} lines/s; {}",
            self.stored_total,
            files.join(", ")
        );
        self.status_at = Instant::now();
        self.stored_at_status = self.stored_total;
    }
}

fn at_end(g: &Generation) -> bool {
    g.file
        .metadata()
        .map(|m| m.len() <= g.read_to)
        .unwrap_or(true)
}

/// Whether a file shrank below what was read, or its first bytes changed
/// (truncated and written again past the old offset).
fn truncated(g: &Generation, size: u64) -> std::io::Result<bool> {
    if size < g.read_to {
        return Ok(true);
    }
    let now = positions::read_head(&g.file, g.head.len() as u64)?;
    Ok(now != g.head)
}

/// Regular files in the directory of `path`, with their metadata.
fn siblings(path: &str) -> Vec<(std::path::PathBuf, std::fs::Metadata)> {
    let dir = Path::new(path).parent().unwrap_or(Path::new("/"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path(), e.metadata().ok().filter(|m| m.is_file())?)))
        .collect()
}

/// A rotated generation of `path` (renamed within its directory), still holding
/// lines past its stored position, and when it was last written.
fn find_generation(
    path: &str,
    id: FileId,
    pos: &Position,
) -> Option<(File, std::time::SystemTime)> {
    let (found, meta) = siblings(path)
        .into_iter()
        .find(|(_, m)| FileId::of(m) == id)?;
    let file = File::open(found).ok()?;
    let start = positions::read_head(&file, meta.len()).ok()?;
    let resumes =
        follow::resume(Some((&pos.head, pos.offset)), meta.len(), &start) == Resume::At(pos.offset);
    (meta.len() > pos.offset && resumes)
        .then(|| (file, meta.modified().unwrap_or(std::time::UNIX_EPOCH)))
}

/// Rotated generations of `path` no follower has seen: files of its directory
/// named after it (`decnet.log.1`, `decnet.log-20261202`), not compressed, with
/// no stored position, written after the last commit for `path`. A file that
/// starts like a stored one is a copytruncate copy, read from the stored
/// offset instead (copy_generation).
fn missed_generations(
    path: &str,
    known: &[FileId],
    heads: &[&Head],
    since: std::time::SystemTime,
) -> Vec<(File, FileId, std::time::SystemTime)> {
    let Some(base) = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Vec::new();
    };
    let compressed = [".gz", ".xz", ".bz2", ".zst", ".lz4", ".z"];
    siblings(path)
        .into_iter()
        .filter_map(|(p, meta)| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let rest = name.strip_prefix(&base)?;
            let rotated_name = rest.starts_with('.') || rest.starts_with('-');
            let mtime = meta.modified().ok()?;
            let id = FileId::of(&meta);
            if !rotated_name
                || compressed.iter().any(|c| rest.ends_with(c))
                || known.contains(&id)
                || mtime < since
            {
                return None;
            }
            let file = File::open(&p).ok()?;
            let start = positions::read_head(&file, meta.len()).ok()?;
            (!heads.iter().any(|h| h.len > 0 && h.matches(&start))).then_some((file, id, mtime))
        })
        .collect()
}

/// The copy copytruncate made of `path`'s old content, as a finished
/// generation to read from the old position on: another file of the directory,
/// with no position of its own (`known`), that starts with the stored head and
/// holds at least the stored offset. Its own position row is made at the next
/// commit, even with nothing left to read: a later plain load of the copy adds nothing.
fn copy_generation(
    path: &str,
    known: &[FileId],
    pos: &Position,
) -> std::io::Result<Option<Generation>> {
    if pos.head.len == 0 {
        return Ok(None);
    }
    let mut candidates: BTreeMap<u64, (FileId, File)> = BTreeMap::new();
    for (p, meta) in siblings(path) {
        let id = FileId::of(&meta);
        if known.contains(&id) || meta.len() < pos.offset {
            continue;
        }
        let Ok(file) = File::open(&p) else { continue };
        if positions::read_head(&file, meta.len()).is_ok_and(|start| pos.head.matches(&start)) {
            candidates.insert(meta.len(), (id, file));
        }
    }
    // the shortest: a later copy of the same file holds more than what was there
    let Some((_, (id, file))) = candidates.into_iter().next() else {
        return Ok(None);
    };
    let mut g = Generation::at(file, id, None, pos.offset, 0)?;
    g.finished = true;
    Ok(Some(g))
}
