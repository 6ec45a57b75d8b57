//! How the SQLite store reaches its database: a pool of read-only connections used in place, and one
//! writer thread that commits the writes of many requests together (group commit).
//!
//! # Reads
//!
//! A read takes the first free connection of the pool and runs on the calling thread: an indexed
//! lookup takes a few microseconds, less than handing it to another thread would. WAL mode lets
//! readers run alongside the writer and never wait for it. Reads that may be long (listings for
//! the admin API) run on the blocking pool instead.
//!
//! Starting and ending a read transaction costs more than the lookup (file locks, a `stat`), so a
//! reader keeps its transaction open from one read to the next, as long as it is current: the
//! writer counts its commits, and a reader whose transaction began before the latest commit
//! starts a new one. Every read therefore sees every write acknowledged before it began. After
//! each commit, the writer also ends the stale transactions of idle readers, so that none holds
//! back checkpoints; and no transaction is reused for more than [`MAX_SNAPSHOT_AGE`].
//!
//! # Writes
//!
//! SQLite has one writer at a time, so one thread owns the write connection. Callers send it jobs;
//! it takes every job waiting (up to [`MAX_BATCH`]), runs them in one `BEGIN IMMEDIATE`
//! transaction and commits once. Each caller is answered only once its write is on disk: durable
//! writes are not capped at one fsync each.
//!
//! The commit does not wait for the disk itself (`synchronous = NORMAL`): it appends the batch's
//! frames to the WAL, and the writer hands the batch to a syncer thread and goes on with the next.
//! The syncer takes every batch committed meanwhile, makes the WAL durable with one `fdatasync`,
//! and only then lets the batches be seen: in commit order, the caches follow their changes, the
//! readers start new snapshots, and their callers are answered. So the writer runs the next batch
//! while the disk writes the last, where `synchronous = FULL` held it idle for every fsync. A crash
//! (of the process or of the machine) loses only writes nobody was told of: SQLite's WAL ignores
//! frames past its last intact commit, and `NORMAL` keeps the database consistent. If an fsync
//! fails, what it covered may or may not be on disk: its callers are told the database is
//! unavailable, and the store takes no write after it (503) until it is restarted, as PostgreSQL
//! stops on a failed fsync rather than trust the pages it has since written.
//!
//! The answers of a batch go to its callers through one task on the runtime (see [`answerer`]),
//! so that a batch wakes the runtime once.
//!
//! A job that fails leaves nothing behind, and costs the others nothing but time: the writer rolls
//! the batch back and runs it again without that job (a job loads what its decision needs and
//! decides again, the same way, on the same rows). Jobs do not run in savepoints of their own: a
//! savepoint copies every page a job is first to change into the statement journal, which cost a
//! sixth of a registration's instructions, for failures that are rare.
//!
//! A job writes through a [`Tx`], which records the [`Change`]s it persisted. Once the batch is
//! committed and synced, and before anyone is answered, the syncer hands the changes of the jobs
//! that succeeded to the store's [`Caches`], in commit order: the caches follow every committed
//! write, and no write path updates them by hand. A reader that happens to begin a snapshot
//! between a commit and its sync (when it first runs, or after [`MAX_SNAPSHOT_AGE`]) may see that
//! commit a millisecond or so before it is on disk; only a failure of the machine in that window
//! would take it back.
//!
//! A write waits at most the acquire timeout for its turn: past it, a job the writer has not begun
//! is abandoned (the writer skips it) and its caller is told the database is unavailable, so a 503
//! always means nothing was written. A job the writer has begun is waited for.
//!
//! # Checkpoints
//!
//! The writer does not checkpoint as it commits (SQLite's automatic checkpoint is off on its
//! connection): a checkpointer thread, on a connection of its own, copies the WAL's frames into the
//! database file, passively (it waits for no reader and no writer), at most every
//! [`CHECKPOINT_INTERVAL`] while writes come in. The writer's commits then only append to the WAL
//! and fsync it; copying pages and the database file's fsync happen beside them, once for every
//! page written since the last checkpoint rather than once per thousand pages in a commit. With
//! the WAL copied in full, the writer's next transaction starts it again from its beginning; under
//! steady writes, the writer's own full checkpoint past [`CHECKPOINT_BYTES`] restarts it, and
//! finds little left to copy.
//!
//! An in-memory database lives in one connection: the writer's, which then serves reads too.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use partner_center_domain::catalog::Catalog;
use partner_center_domain::{Change, CustomerKey, Decision, Partner, SubscriptionKey};
use partner_center_model::TenantId;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use super::idempotency::RecordIndex;
use super::persist;
use super::state::Caches;
use crate::{Saved, StoreError};

/// Most jobs committed together.
const MAX_BATCH: usize = 256;
/// Jobs waiting for the writer at most; senders wait beyond that.
const QUEUE: usize = 4096;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;
/// Longest a reader keeps one read transaction: what another process wrote becomes visible within
/// it (this process's writes are visible at once).
const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(250);

/// Where the database is, as a SQLite URL names it.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    /// A file (with SQLite URI parameters, if any).
    File {
        path: PathBuf,
        query: Option<String>,
    },
    /// Private to this process, gone when it stops.
    Memory,
}

impl Location {
    /// Claims the database for this process: an exclusive lock on `FILE.lock`, held as long as the
    /// returned file is open. The in-memory index and caches are exact only while one process
    /// writes the database, so a second one is refused rather than let in.
    pub(crate) fn claim(&self) -> Result<Option<std::fs::File>, StoreError> {
        let Self::File { path, .. } = self else {
            return Ok(None);
        };
        let mut name = path.clone().into_os_string();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot open {}: {e}", lock_path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
                "{} is in use by another process (it holds {}); one process serves a SQLite \
                 database, use PostgreSQL for several",
                path.display(),
                lock_path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Unavailable(format!(
                "cannot lock {}: {e}",
                lock_path.display()
            ))),
        }
    }

    /// `sqlite://FILE`, `sqlite:FILE` or `sqlite::memory:`, with `?param=value...`.
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (rest, None),
        };
        let memory_mode = query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|p| p == "mode=memory"));
        if path == ":memory:" || path.is_empty() || memory_mode {
            return Ok(Self::Memory);
        }
        Ok(Self::File {
            path: PathBuf::from(path),
            query,
        })
    }

    fn open(&self, read_only: bool) -> Result<Connection, rusqlite::Error> {
        let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
        flags |= if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        };
        let conn = match self {
            Self::Memory => Connection::open_in_memory_with_flags(flags)?,
            Self::File { path, query: None } => Connection::open_with_flags(path, flags)?,
            Self::File {
                path,
                query: Some(query),
            } => Connection::open_with_flags(
                format!("file:{}?{query}", path.display()),
                flags | OpenFlags::SQLITE_OPEN_URI,
            )?,
        };
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        if read_only {
            // Readers mostly load customers into the in-memory index and look up idempotency
            // records; the operating system caches the file, so a small page cache each keeps
            // memory bounded without costing reads much.
            conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
        }
        Ok(conn)
    }
}

/// Each reader's page cache, in KiB (negative: SQLite's unit for a size in KiB).
const READER_CACHE_KIB: i64 = -512;

/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the write connection: WAL, and commits that append to it (the syncer makes them durable;
/// see the module).
pub(crate) fn open_writer(location: &Location) -> Result<Connection, StoreError> {
    let conn = location.open(false)?;
    if matches!(location, Location::File { .. }) {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "the database cannot use WAL mode (it is in {mode} mode)"
            )));
        }
    }
    // The syncer thread makes each commit durable before anyone hears of it (see the module);
    // checkpoints still sync the WAL before they copy it and the database file after.
    conn.pragma_update(None, "synchronous", "normal")?;
    // A statement that changes several rows keeps the pages it changes in a statement journal,
    // in memory rather than in a temporary file opened, written and truncated in every batch.
    conn.pragma_update(None, "temp_store", "memory")?;
    if matches!(location, Location::File { .. }) {
        // The checkpointer thread copies the WAL; the writer's commits do not (see the module).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    // A WAL restarted from its beginning is cut back to this size (see `checkpoint`).
    conn.pragma_update(
        None,
        "journal_size_limit",
        i64::try_from(CHECKPOINT_BYTES).unwrap_or(-1),
    )?;
    Ok(conn)
}

/// A write job's transaction: the connection, the changes the job persisted through it, and what
/// the writer remembers between jobs.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    /// The changes the caches follow once the batch commits.
    changes: Vec<Change>,
    /// The carts and orders, handed back to the caller.
    saved: Saved,
    memo: &'c WriterMemo,
    located: persist::Located,
}

/// What the writer thread remembers of the database between its jobs: the catalog, which every
/// purchase decision is checked against and which changes only by a fixture or a reset, and
/// whether each partner its jobs found is a sandbox, which changes only by the admin API.
/// Only the writer sees it, so it is exactly what the writer's transaction would read: forgotten
/// as soon as a job persists a change to it, and whenever a job or a batch is rolled back.
///
/// It also holds the index of idempotency records, which is not forgotten but follows the batch:
/// a batch rolled back undoes its changes to it (see `sqlite::idempotency`).
#[derive(Debug, Default)]
pub(crate) struct WriterMemo {
    catalog: std::cell::RefCell<Option<Arc<Catalog>>>,
    sandboxes: std::cell::RefCell<std::collections::HashMap<TenantId, bool>>,
    records: std::cell::RefCell<RecordIndex>,
}

impl WriterMemo {
    fn forget(&self) {
        self.catalog.replace(None);
        self.sandboxes.borrow_mut().clear();
    }

    /// The batch was rolled back.
    fn rolled_back(&self) {
        self.forget();
        self.records.borrow_mut().roll_back();
    }
}

impl<'c> Tx<'c> {
    /// The catalog, as `load` reads it from the transaction, remembered until it changes.
    pub(crate) fn catalog(
        &self,
        load: impl FnOnce(&Connection) -> Result<Catalog, StoreError>,
    ) -> Result<Arc<Catalog>, StoreError> {
        if let Some(catalog) = self.memo.catalog.borrow().as_ref() {
            return Ok(catalog.clone());
        }
        let catalog = Arc::new(load(self.conn)?);
        self.memo.catalog.replace(Some(catalog.clone()));
        Ok(catalog)
    }

    /// Whether partner `tenant`, as `load` reads it from the transaction, is an integration sandbox
    /// (no partner: not one), remembered until partners change. Only partners that exist are
    /// remembered, so that the memo holds at most the partners table, whatever tenants requests name.
    pub(crate) fn sandbox(
        &self,
        tenant: TenantId,
        load: impl FnOnce(&Connection, TenantId) -> Result<Option<Partner>, StoreError>,
    ) -> Result<bool, StoreError> {
        if let Some(sandbox) = self.memo.sandboxes.borrow().get(&tenant) {
            return Ok(*sandbox);
        }
        let Some(partner) = load(self.conn, tenant)? else {
            return Ok(false);
        };
        self.memo
            .sandboxes
            .borrow_mut()
            .insert(tenant, partner.sandbox);
        Ok(partner.sandbox)
    }

    /// The connection, to load (and, being the only writer, lock) what a decision needs.
    pub(crate) fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// The index of idempotency records, to find and add records beside the transaction's.
    pub(crate) fn records(&self) -> std::cell::RefMut<'c, RecordIndex> {
        self.memo.records.borrow_mut()
    }

    /// Remembers where `key`'s subscription is, for the changes of the job's decision.
    pub(crate) fn locate(&mut self, key: SubscriptionKey, id: i64) {
        self.located.subscription = Some((key, id));
    }

    /// Remembers where `key`'s customer is, for the carts and orders of the job's decision.
    pub(crate) fn locate_customer(&mut self, key: CustomerKey, id: i64) {
        self.located.customer = Some((key, id));
    }

    /// The carts and orders the job has persisted so far, handed over.
    pub(crate) fn take_saved(&mut self) -> Saved {
        std::mem::take(&mut self.saved)
    }

    /// Persists a decision's changes, in order, and returns its outcome.
    pub(crate) fn decided<T>(&mut self, decision: Decision<T>) -> Result<T, StoreError> {
        for change in decision.changes {
            if matches!(
                change,
                Change::CatalogReplaced(_)
                    | Change::PartnerPut { .. }
                    | Change::PartnerDeleted(_)
                    | Change::Reset
            ) {
                self.memo.forget();
            }
            persist::write(self.conn, &change, self.located)?;
            if matches!(change, Change::Reset) {
                self.memo.records.borrow_mut().clear();
            }
            if matches!(
                change,
                Change::SubscriptionDeleted(_)
                    | Change::CustomerDeleted(_)
                    | Change::PartnerDeleted(_)
                    | Change::Reset
            ) {
                // The rows may be gone, and their ids given to others.
                self.located = persist::Located::default();
            }
            // Carts and orders go back to the caller; the caches follow every other change.
            if let Some(change) = self.saved.keep(change) {
                self.changes.push(change);
            }
        }
        Ok(decision.outcome)
    }
}

/// What became of a job in one run of its batch.
enum Ran {
    /// Its caller gave up waiting before the writer began it: it did not run, and never will.
    Abandoned,
    /// It failed (its error is kept for its answer): the batch must be rolled back.
    Failed,
    /// It succeeded, persisting these changes.
    Done(Vec<Change>),
}

/// Work for the writer thread.
trait Job: Send {
    /// Runs in the batch's transaction, unless its caller gave up waiting for its turn. Runs again
    /// if a later job of the batch fails (the batch is then rolled back and run without it).
    fn run(&mut self, conn: &Connection, memo: &WriterMemo) -> Ran;
    /// Answers, once the batch's commit is known: the outcome of its last run, if that committed.
    fn finish(self: Box<Self>, commit: Result<(), &StoreError>);
}

/// Where a job stands, shared by its caller and the writer.
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

/// A job, where its answer goes, where it stands, and the outcome of its last run.
struct Reply<T, F> {
    job: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
    turn: Arc<AtomicU8>,
    outcome: Option<Result<T, StoreError>>,
}

impl<T, F> Job for Reply<T, F>
where
    T: Send + 'static,
    F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection, memo: &WriterMemo) -> Ran {
        if self.outcome.is_none()
            && self
                .turn
                .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            // Abandoned: its caller was told nothing was written.
            return Ran::Abandoned;
        }
        let mut tx = Tx {
            conn,
            changes: Vec::new(),
            saved: Saved::default(),
            memo,
            located: persist::Located::default(),
        };
        let job = &mut self.job;
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut tx))).unwrap_or_else(|_| {
                Err(StoreError::Corrupt(
                    "a write panicked; it was rolled back".into(),
                ))
            });
        let ran = if outcome.is_ok() {
            Ran::Done(tx.changes)
        } else {
            Ran::Failed
        };
        self.outcome = Some(outcome);
        ran
    }

    fn finish(self: Box<Self>, commit: Result<(), &StoreError>) {
        let result = match (self.outcome, commit) {
            (Some(outcome), Ok(())) => outcome,
            // The batch was rolled back, or never began: whatever the job did is undone.
            (Some(outcome), Err(err)) => {
                outcome.and_then(|_| Err(StoreError::Unavailable(err.to_string())))
            }
            (None, commit) => Err(StoreError::Unavailable(
                commit
                    .err()
                    .map_or_else(|| "not run".to_owned(), ToString::to_string),
            )),
        };
        let _ = self.reply.send(result);
    }
}

/// The connections of a store.
#[derive(Debug)]
pub(crate) struct Engine {
    readers: Option<Arc<Readers>>,
    jobs: mpsc::Sender<Box<dyn Job>>,
    acquire_timeout: Duration,
}

impl Engine {
    /// Starts the writer thread on `writer` (migrated), which keeps `caches` following its commits,
    /// and opens `readers` read-only connections (none for an in-memory database). A write waits at
    /// most `acquire_timeout` for its turn. The writer's answers are delivered by a task on
    /// `runtime` (see [`answerer`]), or by the writer itself once that runtime has stopped.
    pub(crate) fn start(
        location: &Location,
        writer: Connection,
        readers: u32,
        caches: Arc<Caches>,
        acquire_timeout: Duration,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Self, StoreError> {
        let readers = match location {
            Location::Memory => None,
            Location::File { .. } => Some(Arc::new(Readers::open(location, readers.max(1))?)),
        };
        let (jobs, queue) = mpsc::channel(QUEUE);
        let checkpoints = match location {
            Location::Memory => None,
            Location::File { .. } => Some(Checkpointer::start(location)?),
        };
        let followers = Followers {
            answerer: answerer(runtime),
            readers: readers.clone(),
            caches,
            checkpoints: checkpoints.clone(),
        };
        let failed = Arc::new(AtomicBool::new(false));
        let wal = writer
            .path()
            .filter(|path| !path.is_empty())
            .map(|path| PathBuf::from(format!("{path}-wal")));
        let (settle, syncer) = match wal.clone() {
            Some(wal) => {
                let (batches, committed) = std::sync::mpsc::channel::<Committed>();
                let failed = failed.clone();
                let syncer = std::thread::Builder::new()
                    .name("sqlite-syncer".into())
                    .spawn(move || sync_loop(&committed, Wal::new(wal), &followers, &failed))
                    .map_err(|e| {
                        StoreError::Unavailable(format!("cannot start the SQLite syncer: {e}"))
                    })?;
                (Settle::Syncer(batches), Some(syncer))
            }
            None => (Settle::Now(followers), None),
        };
        let sweep = readers.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                write_loop(
                    &writer,
                    queue,
                    &settle,
                    sweep.as_deref(),
                    wal.as_deref(),
                    &failed,
                );
                // The syncer answers what it still holds, then stops.
                drop(settle);
                if let Some(syncer) = syncer {
                    let _ = syncer.join();
                }
                if let Some(checkpoints) = checkpoints {
                    checkpoints.stop();
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self {
            readers,
            jobs,
            acquire_timeout,
        })
    }

    /// Runs `job` in a write transaction, committed (and on disk) before this returns, and the
    /// caches updated with the changes it persisted. A job that fails changes nothing. `job` may
    /// run more than once (see the module): each run must load what it decides on.
    ///
    /// # Errors
    ///
    /// The job's error; [`StoreError::Unavailable`] when the writer did not take the job within the
    /// acquire timeout (then it never runs), or the commit failed.
    pub(crate) async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        let busy = || {
            StoreError::Unavailable(format!(
                "the SQLite writer did not take the write within {} ms",
                self.acquire_timeout.as_millis()
            ))
        };
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        let (reply, answer) = oneshot::channel();
        let turn = Arc::new(AtomicU8::new(QUEUED));
        let job = Box::new(Reply {
            job,
            reply,
            turn: turn.clone(),
            outcome: None,
        });
        match tokio::time::timeout_at(deadline, self.jobs.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(stopped()),
            Err(_) => return Err(busy()),
        }
        let mut answer = std::pin::pin!(answer);
        match tokio::time::timeout_at(deadline, &mut answer).await {
            Ok(result) => result.map_err(|_| stopped())?,
            Err(_) => {
                if turn
                    .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Err(busy());
                }
                // The writer has begun it: its outcome is on its way.
                answer.await.map_err(|_| stopped())?
            }
        }
    }

    /// Jobs waiting for the writer.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        QUEUE - self.jobs.capacity()
    }

    /// Runs a short read on a reader connection, in place.
    pub(crate) async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.readers {
            Some(readers) => readers.read(read),
            None => {
                let mut read = read;
                self.write(move |tx| read(tx.conn())).await
            }
        }
    }

    /// Runs a read that may take long (a listing) on the blocking pool.
    pub(crate) async fn read_long<T, F>(self: &Arc<Self>, mut read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.readers.is_none() {
            return self.write(move |tx| read(tx.conn())).await;
        }
        let engine = self.clone();
        tokio::task::spawn_blocking(move || match &engine.readers {
            Some(readers) => readers.read(read),
            None => Err(StoreError::Unavailable("no readers".into())),
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("a read failed: {e}")))?
    }
}

/// Read-only connections, each used by one caller at a time.
#[derive(Debug)]
struct Readers {
    connections: Vec<Mutex<Reader>>,
    next: AtomicUsize,
    /// Transactions the writer has committed.
    commits: AtomicU64,
    /// Set while the writer checkpoints: readers then end their transaction after each read, so
    /// that the checkpoint can reach the end of the WAL and truncate it.
    checkpointing: AtomicBool,
}

/// A read-only connection and its open read transaction, if any.
#[derive(Debug)]
struct Reader {
    conn: Connection,
    /// When its transaction began: the writer's commit count then, and the time.
    snapshot: Option<(u64, Instant)>,
}

impl Reader {
    /// Ends the transaction, if one is open.
    fn end(&mut self) {
        if self.snapshot.take().is_some() {
            // A read-only transaction: ending it cannot fail in a way that matters; if it did,
            // the next `begin` says so.
            let _ = self
                .conn
                .prepare_cached("commit")
                .and_then(|mut s| s.execute([]));
        }
    }

    /// Makes sure a transaction that has seen every commit up to `commits` is open.
    fn current(&mut self, commits: u64) -> Result<(), StoreError> {
        match self.snapshot {
            Some((at, began)) if at == commits && began.elapsed() < MAX_SNAPSHOT_AGE => Ok(()),
            _ => {
                self.end();
                // Deferred: the snapshot is taken by the first read, after `commits` was read.
                self.conn.prepare_cached("begin")?.execute([])?;
                self.snapshot = Some((commits, Instant::now()));
                Ok(())
            }
        }
    }
}

impl Readers {
    fn open(location: &Location, count: u32) -> Result<Self, StoreError> {
        let connections = (0..count)
            .map(|_| {
                location.open(true).map(|conn| {
                    Mutex::new(Reader {
                        conn,
                        snapshot: None,
                    })
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            connections,
            next: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            checkpointing: AtomicBool::new(false),
        })
    }

    /// Runs `read` on a connection, in a transaction that has seen every acknowledged write.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut reader = self.acquire();
        reader.current(self.commits.load(Ordering::Acquire))?;
        let result = read(&reader.conn);
        if result.is_err() || self.checkpointing.load(Ordering::Acquire) {
            reader.end();
        }
        result
    }

    /// The first free connection, or (all busy) one of them once it is free. Taking the first
    /// free one keeps the work on as few connections as there are concurrent reads (a couple, as
    /// reads run in place on the runtime's threads), whose page caches then stay hot.
    fn acquire(&self) -> MutexGuard<'_, Reader> {
        for reader in &self.connections {
            match reader.try_lock() {
                Ok(reader) => return reader,
                // A read panicked while it held this one: its transaction may be in any state.
                Err(TryLockError::Poisoned(poisoned)) => {
                    let mut reader = poisoned.into_inner();
                    reader.end();
                    return reader;
                }
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let any = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[any]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the writer after each commit, before it answers: the commit counts, and idle
    /// readers let go of the transactions it made stale.
    fn committed(&self) {
        self.commits.fetch_add(1, Ordering::AcqRel);
        self.end_idle();
    }

    fn end_idle(&self) {
        for reader in &self.connections {
            if let Ok(mut reader) = reader.try_lock() {
                reader.end();
            }
        }
    }
}

/// Runs `batch` in one transaction and commits it, leaving out each job that fails: the
/// transaction is rolled back and the rest run again without it. `changes` ends with what the
/// committed jobs persisted, in order. On an error, the transaction may still be open.
fn run_batch(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    memo: &WriterMemo,
    changes: &mut Vec<Change>,
) -> Result<(), StoreError> {
    memo.records.borrow_mut().load(conn)?;
    let mut left_out = vec![false; batch.len()];
    'batch: loop {
        changes.clear();
        conn.prepare_cached("begin immediate")?.execute([])?;
        for (job, left_out) in batch.iter_mut().zip(left_out.iter_mut()) {
            if *left_out {
                continue;
            }
            match job.run(conn, memo) {
                Ran::Done(persisted) => changes.extend(persisted),
                Ran::Abandoned => *left_out = true,
                Ran::Failed => {
                    *left_out = true;
                    // What the writer remembered may be what is undone.
                    memo.rolled_back();
                    conn.prepare_cached("rollback")?.execute([])?;
                    continue 'batch;
                }
            }
        }
        conn.prepare_cached("commit")?.execute([])?;
        memo.records.borrow_mut().commit();
        return Ok(());
    }
}

/// A batch's jobs and its commit: what their callers are told.
struct Answers {
    jobs: Vec<Box<dyn Job>>,
    commit: Result<(), StoreError>,
}

impl Answers {
    fn deliver(self) {
        for job in self.jobs {
            job.finish(self.commit.as_ref().copied());
        }
    }
}

/// A task on `runtime` that answers each batch's callers, for the writer.
///
/// Each answer wakes its caller's task. Woken from the writer thread, the runtime's worker is woken
/// (an `eventfd` write) at the first answer and, where the two threads share a core, takes the core
/// from the writer at once: it runs that one task, waits again, and the writer's next answer wakes
/// it again. A batch of thirty answers cost about fifteen context switches (`perf stat`: 5,100 a
/// second at 330 commits a second, in the benchmark's checkouts). Handed to this task, a batch
/// wakes the runtime once, and its answers wake their callers within the runtime, where a wake is
/// a push on a queue.
fn answerer(runtime: &tokio::runtime::Handle) -> mpsc::UnboundedSender<Answers> {
    let (answers, mut batches) = mpsc::unbounded_channel::<Answers>();
    runtime.spawn(async move {
        while let Some(batch) = batches.recv().await {
            batch.deliver();
        }
    });
    answers
}

/// What a batch's commit is followed by, once it is durable: the readers' snapshots, the caches,
/// the checkpointer, and its callers' answers.
struct Followers {
    answerer: mpsc::UnboundedSender<Answers>,
    readers: Option<Arc<Readers>>,
    caches: Arc<Caches>,
    checkpoints: Option<Arc<Checkpointer>>,
}

impl Followers {
    /// `committed` is on disk, or `unsynced` says why it may not be: in commit order, readers
    /// and caches follow it (it is in the database either way), then its callers hear.
    fn settle(&self, committed: Committed, unsynced: Option<&str>) {
        let Committed {
            mut answers,
            changes,
            wrote,
        } = committed;
        if answers.commit.is_ok() {
            // Before anyone hears of the commit: a read that starts after the answer sees it, in
            // the database and in the caches.
            if wrote && let Some(readers) = &self.readers {
                readers.committed();
            }
            self.caches.follow(&changes);
            if wrote && let Some(checkpoints) = &self.checkpoints {
                checkpoints.committed();
            }
            if let Some(why) = unsynced {
                answers.commit = Err(StoreError::Unavailable(why.to_owned()));
            }
        }
        if let Err(mpsc::error::SendError(answers)) = self.answerer.send(answers) {
            // The runtime has stopped: nobody waits on it, but its callers may be elsewhere.
            answers.deliver();
        }
    }
}

/// A batch the writer has run: its answers, and what the caches follow once it is durable.
struct Committed {
    answers: Answers,
    changes: Vec<Change>,
    /// Whether it changed a row: a batch that did not (replays, refusals) adds nothing to sync.
    wrote: bool,
}

/// Where the writer hands its batches.
enum Settle {
    /// An in-memory database: nothing to sync, followed and answered at once.
    Now(Followers),
    /// A file: the syncer makes the WAL durable first.
    Syncer(std::sync::mpsc::Sender<Committed>),
}

impl Settle {
    fn hand(&self, committed: Committed) {
        match self {
            Self::Now(followers) => followers.settle(committed, None),
            Self::Syncer(syncer) => {
                if let Err(std::sync::mpsc::SendError(committed)) = syncer.send(committed) {
                    // The syncer has stopped (it panicked): nothing can be made durable.
                    let mut answers = committed.answers;
                    answers.commit = Err(StoreError::Unavailable(
                        "the SQLite syncer has stopped".into(),
                    ));
                    answers.deliver();
                }
            }
        }
    }
}

/// The writer thread: batches of jobs, one transaction each, handed to the syncer. `wal` is the
/// WAL's path (none in memory), which the writer checkpoints past [`CHECKPOINT_BYTES`].
fn write_loop(
    conn: &Connection,
    mut queue: mpsc::Receiver<Box<dyn Job>>,
    settle: &Settle,
    readers: Option<&Readers>,
    wal: Option<&std::path::Path>,
    failed: &AtomicBool,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut changes: Vec<Change> = Vec::new();
    let memo = WriterMemo::default();
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        if queue.is_empty() {
            // A lone job: let the threads that send jobs run first. Where they share this core,
            // the job's wake-up has just put this thread in their place; each job would then be
            // a batch of its own and cost two context switches. Yielding lets them go on until
            // they wait, sending what their other connections ask meanwhile: replayed POSTs
            // (answered here without a write) went from 20,000-33,000 a second to 50,000-56,000
            // on one core (docs/benchmark-history.md). With nothing else to run, it returns at once.
            std::thread::yield_now();
        }
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let rows_before = conn.total_changes();
        let committed = if failed.load(Ordering::Acquire) {
            // An fsync failed: what was written since may rest on pages that are not on disk.
            Err(StoreError::Unavailable(UNSYNCED.into()))
        } else {
            run_batch(conn, &mut batch, &memo, &mut changes)
        };
        // A batch that changed no row (replays, refusals) committed nothing: the readers'
        // snapshots are still current, the checkpointer has nothing to copy, the WAL did not grow.
        let wrote = conn.total_changes() != rows_before;
        if let Err(err) = &committed {
            tracing::error!(error = %err, "a batch of writes failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("rollback");
            }
            memo.rolled_back();
            changes.clear();
        }
        settle.hand(Committed {
            answers: Answers {
                jobs: std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH)),
                commit: committed,
            },
            changes: std::mem::take(&mut changes),
            wrote,
        });
        if wrote
            && let Some(wal) = wal
            && std::fs::metadata(wal).is_ok_and(|m| m.len() > CHECKPOINT_BYTES)
        {
            checkpoint(conn, readers);
        }
    }
}

/// What the callers of writes an fsync did not make durable are told, and every later writer.
const UNSYNCED: &str = "the WAL could not be synced to disk, so the write may be lost; the store \
                        takes no more writes until it is restarted";

/// The WAL file, synced through a descriptor of its own (`fdatasync` syncs the file, whichever
/// descriptor wrote it), opened again if SQLite has made a new one.
struct Wal {
    path: PathBuf,
    file: Option<(std::fs::File, (u64, u64))>,
}

impl Wal {
    fn new(path: PathBuf) -> Self {
        Self { path, file: None }
    }

    /// Everything written to the WAL so far is on disk.
    fn sync(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(&self.path)?;
        let identity = (meta.dev(), meta.ino());
        let file = match self.file.take() {
            Some((file, opened)) if opened == identity => file,
            _ => std::fs::File::open(&self.path)?,
        };
        let synced = file.sync_data();
        self.file = Some((file, identity));
        synced
    }
}

/// The syncer thread: every batch committed since the last sync, made durable with one
/// `fdatasync` of the WAL, then followed and answered in commit order (see the module).
fn sync_loop(
    committed: &std::sync::mpsc::Receiver<Committed>,
    mut wal: Wal,
    followers: &Followers,
    failed: &AtomicBool,
) {
    let mut group: Vec<Committed> = Vec::new();
    while let Ok(first) = committed.recv() {
        group.push(first);
        group.extend(committed.try_iter());
        let to_sync = group.iter().any(|c| c.wrote && c.answers.commit.is_ok());
        if to_sync
            && !failed.load(Ordering::Acquire)
            && let Err(err) = wal.sync()
        {
            tracing::error!(
                error = %err,
                wal = %wal.path.display(),
                "cannot sync the SQLite WAL: the store takes no more writes until restarted"
            );
            failed.store(true, Ordering::Release);
        }
        let unsynced = failed.load(Ordering::Acquire).then_some(UNSYNCED);
        for batch in group.drain(..) {
            followers.settle(batch, unsynced);
        }
    }
}

/// Longest a checkpoint waits after the one before: what the writer committed meanwhile is copied
/// at once, so a page written many times in that time is copied once.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(if cfg!(test) { 5 } else { 50 });

/// Each checkpointer's page cache, in KiB (it copies pages through its own buffer).
const CHECKPOINTER_CACHE_KIB: i64 = -64;

/// The checkpointer thread's work: whether the writer committed since its last checkpoint.
#[derive(Debug)]
struct Checkpointer {
    state: Mutex<CheckpointState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct CheckpointState {
    committed: bool,
    stopped: bool,
}

impl Checkpointer {
    /// Opens the checkpointer's connection and starts its thread.
    fn start(location: &Location) -> Result<Arc<Self>, StoreError> {
        let conn = location.open(false)?;
        conn.pragma_update(None, "cache_size", CHECKPOINTER_CACHE_KIB)?;
        let this = Arc::new(Self {
            state: Mutex::new(CheckpointState::default()),
            wake: Condvar::new(),
        });
        let worker = this.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpointer".into())
            .spawn(move || worker.run(&conn))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the SQLite checkpointer: {e}"))
            })?;
        Ok(this)
    }

    fn lock(&self) -> MutexGuard<'_, CheckpointState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the writer after each commit.
    fn committed(&self) {
        let mut state = self.lock();
        if !state.committed {
            state.committed = true;
            self.wake.notify_one();
        }
    }

    /// Ends the thread (the writer has stopped), after a last checkpoint of what it committed.
    fn stop(&self) {
        self.lock().stopped = true;
        self.wake.notify_one();
    }

    fn run(&self, conn: &Connection) {
        loop {
            let stopped = {
                let mut state = self.lock();
                while !state.committed && !state.stopped {
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                state.committed = false;
                state.stopped
            };
            if let Err(err) = conn.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(())) {
                tracing::warn!(error = %err, "cannot checkpoint the WAL");
            }
            if stopped {
                return;
            }
            std::thread::sleep(CHECKPOINT_INTERVAL);
        }
    }
}

/// The WAL size past which the writer checkpoints it in full and restarts it from its beginning,
/// once the batch is answered, waiting for readers and blocking writes meanwhile (the file keeps
/// its size, at most this, so that it is not allocated again). Under steady writes the WAL does
/// not restart by itself (the writer would have to begin a transaction just as the checkpointer
/// has copied the last frame, with no reader holding it), so this bounds it (and the time readers
/// spend looking through it); the checkpointer has copied most of it by then.
const CHECKPOINT_BYTES: u64 = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// How long a checkpoint waits for readers to let go of the WAL before it settles for what it
/// could copy (the next batch tries again).
const CHECKPOINT_WAIT: Duration = Duration::from_millis(200);

fn checkpoint(conn: &Connection, readers: Option<&Readers>) {
    if let Some(readers) = readers {
        readers.checkpointing.store(true, Ordering::Release);
        readers.end_idle();
    }
    let _ = conn.busy_timeout(CHECKPOINT_WAIT);
    let result = conn.query_row("pragma wal_checkpoint(restart)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    if let Some(readers) = readers {
        readers.checkpointing.store(false, Ordering::Release);
    }
    match result {
        Ok((0, _, _)) => {}
        Ok((_, pages, copied)) => {
            tracing::debug!(
                pages,
                copied,
                "the WAL checkpoint could not finish: readers held it"
            );
        }
        Err(err) => tracing::warn!(error = %err, "cannot checkpoint the WAL"),
    }
}

#[cfg(test)]
mod tests {
    use partner_center_model::Timestamp;

    use super::*;

    /// The writer remembers whether the partners its jobs find are sandboxes, and nothing of a
    /// tenant that has none (the memo is bounded by the partners table, whatever tenants requests
    /// name); a change to partners makes it read them again.
    #[test]
    fn the_writer_remembers_partners_that_exist_until_partners_change() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::migrations::apply(&conn, None).unwrap();
        let memo = WriterMemo::default();
        let mut tx = Tx {
            conn: &conn,
            changes: Vec::new(),
            saved: Saved::default(),
            memo: &memo,
            located: persist::Located::default(),
        };
        let known: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let unknown: TenantId = "b1e5d2a0-0000-4000-8000-000000000002".parse().unwrap();
        let partner = |sandbox| Partner {
            tenant_id: known,
            name: "P".into(),
            sandbox,
        };
        let loads = std::cell::Cell::new(0);
        let load = |sandbox| {
            let loads = &loads;
            move |_: &Connection, tenant: TenantId| {
                loads.set(loads.get() + 1);
                Ok((tenant == known).then(|| partner(sandbox)))
            }
        };
        for _ in 0..2 {
            assert!(tx.sandbox(known, load(true)).unwrap());
            assert!(!tx.sandbox(unknown, load(true)).unwrap());
        }
        // The known partner was read once; the tenant without one each time.
        assert_eq!(loads.get(), 3);
        tx.decided(Decision {
            outcome: (),
            changes: vec![Change::PartnerPut {
                partner: partner(false),
                at: Timestamp::now(),
            }],
        })
        .unwrap();
        assert!(!tx.sandbox(known, load(false)).unwrap());
        assert_eq!(loads.get(), 4);
    }
}
