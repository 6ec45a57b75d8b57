//! Idempotency records on SQLite: a table appended to in the order requests come, and an index of
//! it that the writer thread keeps in memory.
//!
//! # Why not a keyed table
//!
//! A record is found by its key: partner, `MS-RequestId`, method and path. Partner Center's SDKs
//! send a new random GUID as each request's id, so a table keyed by it (as this one was) puts each
//! new record in a random leaf of a B-tree that grows to many times the writer's page cache: every
//! POST read a leaf, dirtied it, wrote it to the WAL, and the checkpointer copied it back (about 5
//! reads and 8 page writes a registration, docs/benchmark-history.md). Appended in arrival order,
//! a batch of records fills the table's last page or two.
//!
//! # The index
//!
//! This process is the database's only writer (see `Location::claim`), and every idempotent write
//! goes through the writer thread, so an index the writer keeps is exact. It maps a key's 40-bit
//! tag (SipHash-1-3, keyed at random once for the database, so that nobody can aim requests at
//! one tag) to the row that holds its record: 4,096 shards selected by the tag's top 12 bits, each
//! a sorted vector of its records as one 64-bit number, the tag's low 32 bits above the row id's
//! low 32 bits. That is 8 bytes a record, and a shard grows by an eighth at a time: about 9 bytes
//! a record in all, where a hash map from the 32 bits to the row (as this index was) took 9 bytes a
//! slot and doubled its slots at once, 10 to 20 bytes a record, all shards near the same record.
//! A shard holds a few hundred records at a million, so an insertion or a removal moves a few
//! kilobytes at most.
//! The row id is whole again given the newest row id, as long as the records kept span fewer than
//! 2^32 rows: a day's retention would need 50,000 POSTs a second, all day, to reach that.
//!
//! Two keys may share a tag: each has its entry, and the row found is checked against the whole
//! key (the lookup's `where` names it). A key has at most one row: an expired record is deleted
//! when its key is recorded again.
//!
//! The writer reads the table into the index before its first batch, and changes it only beside
//! the writes of a batch: a batch rolled back undoes its changes to the index too. Each record
//! keeps its tag, and the expiry index holds it beside the row id, so reading the index in is a
//! scan of that index (a few bytes a record), not of every key, hashed again. The tags are part of
//! the database's format: the hash and how a key is fed to it must never change.

use std::hash::Hasher as _;

use partner_center_model::TenantId;
use rusqlite::{Connection, OptionalExtension as _, params};
use siphasher::sip::SipHasher13;

use super::Guid;
use crate::{Idempotency, StoreError};

/// A key's place in the index: a shard (top 12 bits) and a fingerprint in it (low 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag(u64);

/// Shards are selected by this many of a tag's 40 bits, the top ones.
const SHARD_BITS: u32 = 12;

impl Tag {
    fn shard(self) -> usize {
        usize::try_from((self.0 >> (40 - SHARD_BITS)) & ((1 << SHARD_BITS) - 1)).unwrap_or(0)
    }

    fn fingerprint(self) -> u32 {
        low(self.0.cast_signed())
    }

    /// As the `tag` column holds it (40 bits: never negative).
    fn stored(self) -> i64 {
        self.0.cast_signed()
    }

    /// From the `tag` column.
    fn from_stored(stored: i64) -> Self {
        Self(stored.cast_unsigned())
    }
}

/// Each shard: its records as `fingerprint << 32 | row id's low 32 bits`, sorted.
type Shards = Vec<Vec<u64>>;

/// A shard's entry for row `id` of a key with this tag.
fn entry(tag: Tag, id: i64) -> u64 {
    (u64::from(tag.fingerprint()) << 32) | u64::from(low(id))
}

/// How an index change is undone.
#[derive(Debug)]
enum Undo {
    /// An entry was added to a shard.
    Inserted { tag: Tag, entry: u64 },
    /// An entry was taken from a shard.
    Removed { tag: Tag, entry: u64 },
    /// Everything, before it was cleared.
    Cleared(Box<Shards>),
}

/// The writer's index of idempotency records (see the module).
#[derive(Debug)]
pub(crate) struct RecordIndex {
    /// Keyed by the database's key once the table is read in.
    hasher: SipHasher13,
    shards: Shards,
    /// The highest row id seen: row ids are stored as their low 32 bits, and made whole from it.
    newest: i64,
    /// How to undo what the batch under way changed, in order.
    undo: Vec<Undo>,
    /// Whether the table has been read in.
    loaded: bool,
}

impl Default for RecordIndex {
    fn default() -> Self {
        Self {
            hasher: SipHasher13::new(),
            shards: Self::empty_shards(),
            newest: 0,
            undo: Vec::new(),
            loaded: false,
        }
    }
}

/// A row id's low 32 bits.
fn low(id: i64) -> u32 {
    let [.., a, b, c, d] = id.to_be_bytes();
    u32::from_be_bytes([a, b, c, d])
}

/// Adds `entry` to the sorted `shard`; whether it was not there. A full shard grows by an eighth:
/// doubling would leave up to half of every shard unused, and the shards fill at the same pace, so
/// they would double together.
fn add(shard: &mut Vec<u64>, entry: u64) -> bool {
    match shard.binary_search(&entry) {
        Ok(_) => false,
        Err(at) => {
            grow(shard);
            shard.insert(at, entry);
            true
        }
    }
}

/// Makes room for one more entry in `shard`, by an eighth of it if it is full.
fn grow(shard: &mut Vec<u64>) {
    if shard.len() == shard.capacity() {
        shard.reserve_exact((shard.len() / 8).max(4));
    }
}

/// Takes `entry` from the sorted `shard`; whether it was there.
fn take(shard: &mut Vec<u64>, entry: u64) -> bool {
    match shard.binary_search(&entry) {
        Ok(at) => {
            shard.remove(at);
            true
        }
        Err(_) => false,
    }
}

impl RecordIndex {
    fn empty_shards() -> Shards {
        (0..1 << SHARD_BITS).map(|_| Vec::new()).collect()
    }

    /// The tag of the key `(partner, request_id, method, path)`.
    pub(crate) fn tag(&self, partner: TenantId, idem: &Idempotency) -> Tag {
        // Before the table is read in, the hash is not keyed yet: such a tag, stored, would never
        // be found again.
        debug_assert!(self.loaded, "a tag asked for before the index was read");
        self.tag_of(partner, &idem.request_id, &idem.method, &idem.path)
    }

    /// Stored with the record: the bytes fed to the hash, and their order, are fixed (lengths as
    /// 64-bit little-endian, on every platform).
    fn tag_of(&self, partner: TenantId, request_id: &str, method: &str, path: &str) -> Tag {
        let mut hasher = self.hasher;
        hasher.write(partner.as_uuid().as_bytes());
        for part in [request_id, method, path] {
            hasher.write(&(part.len() as u64).to_le_bytes());
            hasher.write(part.as_bytes());
        }
        Tag(hasher.finish() >> 24)
    }

    /// The whole row id of a stored low half.
    fn whole(&self, low_bits: u32) -> i64 {
        self.newest - i64::from(low(self.newest).wrapping_sub(low_bits))
    }

    /// The rows that may hold the record of a key with this tag.
    fn candidates(&self, tag: Tag) -> impl Iterator<Item = i64> + '_ {
        let shard = &self.shards[tag.shard()];
        let fingerprint = u64::from(tag.fingerprint());
        let from = shard.partition_point(|&e| e >> 32 < fingerprint);
        shard[from..]
            .iter()
            .take_while(move |&&e| e >> 32 == fingerprint)
            .map(|&e| self.whole(low(e.cast_signed())))
    }

    /// Row `id` holds the record of a key with this tag.
    fn insert(&mut self, tag: Tag, id: i64) {
        self.newest = self.newest.max(id);
        let entry = entry(tag, id);
        if add(&mut self.shards[tag.shard()], entry) {
            self.undo.push(Undo::Inserted { tag, entry });
        }
    }

    /// Row `id` holds the record of a key with this tag, as the table is read in: the shards are
    /// sorted once it has been.
    fn push(&mut self, tag: Tag, id: i64) {
        self.newest = self.newest.max(id);
        let shard = &mut self.shards[tag.shard()];
        grow(shard);
        shard.push(entry(tag, id));
    }

    /// Row `id`, of a key with this tag, is gone.
    fn remove(&mut self, tag: Tag, id: i64) {
        let entry = entry(tag, id);
        if take(&mut self.shards[tag.shard()], entry) {
            self.undo.push(Undo::Removed { tag, entry });
        }
    }

    /// Every record is gone (a reset).
    pub(crate) fn clear(&mut self) {
        let shards = std::mem::replace(&mut self.shards, Self::empty_shards());
        self.undo.push(Undo::Cleared(Box::new(shards)));
    }

    /// The batch's changes are committed: they stay.
    pub(crate) fn commit(&mut self) {
        self.undo.clear();
    }

    /// The batch was rolled back: so are its changes here.
    pub(crate) fn roll_back(&mut self) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Inserted { tag, entry } => {
                    take(&mut self.shards[tag.shard()], entry);
                }
                Undo::Removed { tag, entry } => {
                    add(&mut self.shards[tag.shard()], entry);
                }
                Undo::Cleared(cleared) => self.shards = *cleared,
            }
        }
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(Vec::len).sum()
    }

    /// Reads the table in, unless it has been: called by the writer before each batch, outside a
    /// transaction.
    pub(crate) fn load(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.loaded {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // What a load that failed half-way left.
        self.shards = Self::empty_shards();
        let (k0, k1): (i64, i64) = conn
            .query_row("select k0, k1 from idempotency_tag_key", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?
            .ok_or_else(|| {
                StoreError::Corrupt("the idempotency records' tag key is gone".into())
            })?;
        self.hasher = SipHasher13::new_with_keys(k0.cast_unsigned(), k1.cast_unsigned());
        // Sized once for the rows there are (as many as their ids span, at most), filled in the
        // table's order, then sorted.
        let span: Option<i64> = conn.query_row(
            // Two subqueries: each finds its end of the rowid B-tree (`max(id) - min(id)` in one
            // would scan the table).
            "select (select max(id) from idempotency_records)
                  - (select min(id) from idempotency_records) + 1",
            [],
            |row| row.get(0),
        )?;
        let per_shard = usize::try_from(span.unwrap_or(0)).unwrap_or(0) / self.shards.len();
        for shard in &mut self.shards {
            shard.reserve_exact(per_shard + per_shard / 8);
        }
        let mut untagged = Vec::new();
        {
            let mut select = conn.prepare(
                "select id, tag from idempotency_records indexed by idempotency_records_by_expiry",
            )?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let id = row.get(0)?;
                match row.get::<_, Option<i64>>(1)? {
                    Some(tag) => self.push(Tag::from_stored(tag), id),
                    None => untagged.push(id),
                }
            }
        }
        if !untagged.is_empty() {
            self.tag_untagged(conn, &untagged)?;
        }
        for shard in &mut self.shards {
            shard.sort_unstable();
        }
        self.loaded = true;
        tracing::debug!(
            records = self.len(),
            ms = started.elapsed().as_millis(),
            "read the idempotency records"
        );
        Ok(())
    }
}

impl RecordIndex {
    /// Gives the records written before their tags were stored (by a build before migration 9)
    /// their tags, in one transaction, and indexes them: once, at the first start after the
    /// migration.
    fn tag_untagged(&mut self, conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
        let tx = conn.unchecked_transaction()?;
        {
            let mut select = tx.prepare(
                "select id, partner_tenant_id, request_id, method, path from idempotency_records
                 where id = ?1",
            )?;
            let mut update = tx.prepare("update idempotency_records set tag = ?2 where id = ?1")?;
            for &id in ids {
                let tag = select.query_row([id], |row| Ok(self.row_tag(row)))??;
                update.execute(params![id, tag.stored()])?;
                self.push(tag, id);
            }
        }
        tx.commit()?;
        tracing::info!(
            records = ids.len(),
            "tagged the idempotency records of an earlier build"
        );
        Ok(())
    }

    /// The tag of a row `(id, partner_tenant_id, request_id, method, path)`, made from its key.
    fn row_tag(&self, row: &rusqlite::Row<'_>) -> Result<Tag, StoreError> {
        let text = |column: usize| -> Result<&str, StoreError> {
            row.get_ref(column)?
                .as_str()
                .map_err(|e| StoreError::Corrupt(format!("an idempotency record: {e}")))
        };
        let partner = text(1)?;
        let partner = partner.parse().map_err(|_| {
            StoreError::Corrupt(format!("an idempotency record of partner `{partner}`"))
        })?;
        Ok(self.tag_of(partner, text(2)?, text(3)?, text(4)?))
    }
}

/// A stored record of a key.
#[derive(Debug)]
pub(crate) struct Found {
    id: i64,
    pub(crate) outcome: String,
    pub(crate) expires_at: i64,
}

/// The record of `partner`'s key `idem` (whose tag is `tag`), expired or not.
pub(crate) fn find(
    conn: &Connection,
    index: &RecordIndex,
    tag: Tag,
    partner: TenantId,
    idem: &Idempotency,
) -> Result<Option<Found>, StoreError> {
    let mut candidates = index.candidates(tag).peekable();
    if candidates.peek().is_none() {
        return Ok(None);
    }
    let mut select = conn.prepare_cached(
        "select outcome, expires_at from idempotency_records
         where id = ?1 and partner_tenant_id = ?2 and request_id = ?3 and method = ?4 and path = ?5",
    )?;
    let partner = Guid::of(partner.encode());
    for id in candidates {
        let found = select
            .query_row(
                params![id, partner, idem.request_id, idem.method, idem.path],
                |row| {
                    Ok(Found {
                        id,
                        outcome: row.get(0)?,
                        expires_at: row.get(1)?,
                    })
                },
            )
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Stores `outcome` as the record of `partner`'s key `idem`, in place of `expired`, the key's
/// record found before (if any; a live one is answered, not replaced).
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    conn: &Connection,
    index: &mut RecordIndex,
    tag: Tag,
    partner: TenantId,
    idem: &Idempotency,
    expired: Option<Found>,
    outcome: &str,
    now: i64,
) -> Result<(), StoreError> {
    if let Some(expired) = expired {
        conn.prepare_cached("delete from idempotency_records where id = ?1")?
            .execute([expired.id])?;
        index.remove(tag, expired.id);
    }
    conn.prepare_cached(
        "insert into idempotency_records
           (partner_tenant_id, request_id, method, path, outcome, created_at, expires_at, tag)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        Guid::of(partner.encode()),
        idem.request_id,
        idem.method,
        idem.path,
        outcome,
        now,
        idem.expires_at.as_millis(),
        tag.stored()
    ])?;
    index.insert(tag, conn.last_insert_rowid());
    Ok(())
}

/// Deletes at most `limit` records expired at `now`; returns how many.
pub(crate) fn purge(
    conn: &Connection,
    index: &mut RecordIndex,
    now: i64,
    limit: u32,
) -> Result<u64, StoreError> {
    let mut delete = conn.prepare_cached(
        "delete from idempotency_records where id in (
             select id from idempotency_records where expires_at <= ?1 order by expires_at limit ?2)
         returning id, tag",
    )?;
    let mut rows = delete.query(params![now, limit])?;
    let mut deleted = 0;
    while let Some(row) = rows.next()? {
        index.remove(Tag::from_stored(row.get(1)?), row.get(0)?);
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(index: &RecordIndex, tag: Tag) -> Vec<i64> {
        let mut ids: Vec<i64> = index.candidates(tag).collect();
        ids.sort_unstable();
        ids
    }

    /// Keys that share a tag are all found, and each goes alone; keys in other shards that share
    /// the tag's low 32 bits are not among them.
    #[test]
    fn keys_that_share_a_tag_are_all_kept() {
        let mut index = RecordIndex::default();
        let (tag, other) = (Tag(0xab_1234_5678), Tag(0xac_1234_5678));
        for id in [3, 9, 12] {
            index.insert(tag, id);
        }
        index.insert(other, 4);
        assert_eq!(sorted(&index, tag), [3, 9, 12]);
        assert_eq!(sorted(&index, other), [4]);
        index.remove(tag, 3);
        assert_eq!(sorted(&index, tag), [9, 12]);
        index.remove(tag, 12);
        index.remove(tag, 9);
        assert!(sorted(&index, tag).is_empty());
        assert_eq!(index.len(), 1);
        // A row that is not there changes nothing.
        index.remove(other, 5);
        assert_eq!(sorted(&index, other), [4]);
    }

    /// A rolled-back batch leaves the index as the last commit left it, whatever it did: insert,
    /// remove, clear, in any order.
    #[test]
    fn a_rolled_back_batch_undoes_its_changes() {
        let mut index = RecordIndex::default();
        let (a, b) = (Tag(1), Tag(2));
        index.insert(a, 1);
        index.insert(a, 2);
        index.insert(b, 3);
        index.commit();
        index.remove(a, 1);
        index.insert(b, 4);
        index.clear();
        index.insert(a, 5);
        index.remove(a, 5);
        index.insert(b, 6);
        index.roll_back();
        assert_eq!(sorted(&index, a), [1, 2]);
        assert_eq!(sorted(&index, b), [3]);
        assert_eq!(index.len(), 3);
        // Committed changes survive a later rollback.
        index.remove(a, 2);
        index.commit();
        index.insert(a, 7);
        index.roll_back();
        assert_eq!(sorted(&index, a), [1]);
    }

    /// A 40-bit tag from a number, spread as SipHash's would be (SplitMix64).
    fn spread(n: u64) -> Tag {
        let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Tag((z ^ (z >> 31)) >> 24)
    }

    /// Any sequence of insertions, removals, commits and rollbacks leaves the index holding what a
    /// set of `(tag, row)` would, and each tag finds exactly its rows.
    #[test]
    fn the_index_holds_what_a_set_would() {
        use std::collections::BTreeSet;
        let mut index = RecordIndex::default();
        let (mut committed, mut current) = (BTreeSet::new(), BTreeSet::new());
        // Few tags, so that many rows share one.
        let tags: Vec<Tag> = (0..40).map(spread).collect();
        for step in 0..5_000u64 {
            let draw = spread(step).0;
            let tag = tags[usize::try_from(draw % 40).unwrap()];
            match draw % 7 {
                0..=3 => {
                    let id = i64::try_from(step).unwrap() + 1;
                    index.insert(tag, id);
                    current.insert((tag.0, id));
                }
                4 => {
                    if let Some(&(t, id)) = current.iter().nth(usize::try_from(draw % 97).unwrap())
                    {
                        index.remove(Tag(t), id);
                        current.remove(&(t, id));
                    }
                }
                5 => {
                    index.commit();
                    committed.clone_from(&current);
                }
                _ => {
                    index.roll_back();
                    current.clone_from(&committed);
                }
            }
            assert_eq!(index.len(), current.len());
        }
        for tag in tags {
            let expected: Vec<i64> = current
                .iter()
                .filter(|(t, _)| *t == tag.0)
                .map(|&(_, id)| id)
                .collect();
            assert_eq!(sorted(&index, tag), expected);
        }
    }

    /// A record takes about 8 bytes, however many there are: shards grow by an eighth, not by
    /// doubling.
    #[test]
    fn a_record_takes_about_eight_bytes() {
        let mut index = RecordIndex::default();
        let mut n = 0;
        for records in [50_000, 100_000, 150_000, 200_000] {
            while n < records {
                index.insert(spread(n), i64::try_from(n).unwrap() + 1);
                n += 1;
            }
            index.commit();
            assert_eq!(index.len() as u64, records);
            let bytes: usize = index.shards.iter().map(|s| s.capacity() * 8).sum();
            let per_record = bytes as f64 / records as f64;
            assert!(
                per_record < 9.5,
                "{per_record:.2} bytes a record at {records}"
            );
        }
    }

    /// Row ids are kept as their low 32 bits and made whole from the newest, across the boundary.
    #[test]
    fn row_ids_past_32_bits_are_found_whole() {
        let mut index = RecordIndex::default();
        let ids = [(1 << 32) - 3, (1 << 32) + 5, (1 << 32) + 100];
        for (n, id) in ids.into_iter().enumerate() {
            index.insert(Tag(n as u64), id);
        }
        index.remove(Tag(2), (1 << 32) + 100);
        // The newest stays the highest seen; the others are within 2^32 of it.
        for (n, id) in ids.into_iter().take(2).enumerate() {
            let found: Vec<i64> = index.candidates(Tag(n as u64)).collect();
            assert_eq!(found, [id]);
        }
    }

    /// The migration to the appended table keeps every record of the keyed one, and the index read
    /// from it finds each by its whole key.
    #[test]
    fn records_of_the_keyed_table_are_found_after_the_migration() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::migrations::apply(&conn, Some(7)).unwrap();
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let request = |id: &str| Idempotency {
            request_id: id.to_owned(),
            method: "POST".into(),
            path: "/v1/p".into(),
            expires_at: partner_center_model::Timestamp::from_millis(9),
        };
        for (id, outcome) in [("b", "second"), ("a", "first")] {
            conn.execute(
                "insert into idempotency_records values (?1, ?2, 'POST', '/v1/p', ?3, 1, 9)",
                params![Guid::of(partner.encode()), id, outcome],
            )
            .unwrap();
        }
        crate::sqlite::migrations::apply(&conn, None).unwrap();
        let mut index = RecordIndex::default();
        index.load(&conn).unwrap();
        assert_eq!(index.len(), 2);
        // Their tags were made when the index was first read, and stored.
        let untagged: i64 = conn
            .query_row(
                "select count(*) from idempotency_records where tag is null",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(untagged, 0);
        for (id, outcome) in [("a", "first"), ("b", "second")] {
            let request = request(id);
            let tag = index.tag(partner, &request);
            let found = find(&conn, &index, tag, partner, &request)
                .unwrap()
                .unwrap();
            assert_eq!((found.outcome.as_str(), found.expires_at), (outcome, 9));
        }
        let other = request("c");
        let tag = index.tag(partner, &other);
        assert!(find(&conn, &index, tag, partner, &other).unwrap().is_none());
        // Purged, a record leaves the index too.
        assert_eq!(purge(&conn, &mut index, 9, 10).unwrap(), 2);
        assert_eq!(index.len(), 0);
    }

    /// Tags are stored, so what a key's tag is must never change: SipHash-1-3 under the
    /// database's key, over the partner's 16 bytes, then each part's length (64 bits, little
    /// endian) and bytes. The value is pinned as the first build that stored tags computed it.
    #[test]
    fn a_tag_is_the_same_in_every_build() {
        const PINNED: u64 = 295_898_979_516;
        let index = RecordIndex {
            hasher: SipHasher13::new_with_keys(1, 2),
            ..RecordIndex::default()
        };
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let tag = index.tag_of(partner, "r", "POST", "/p");
        let mut bytes = partner.as_uuid().as_bytes().to_vec();
        for part in ["r", "POST", "/p"] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
        assert_eq!(tag.0, SipHasher13::new_with_keys(1, 2).hash(&bytes) >> 24);
        assert_eq!(tag.0, PINNED);
    }

    /// A second index read from the same database (the writer after a restart) finds what the
    /// first recorded: the tags' key is the database's, not the process's.
    #[test]
    fn an_index_read_again_finds_what_was_recorded() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::migrations::apply(&conn, None).unwrap();
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let request = Idempotency {
            request_id: "7a3c2f0e-1b2d-4c5e-8f90-123456789abc".into(),
            method: "POST".into(),
            path: "/v1/p".into(),
            expires_at: partner_center_model::Timestamp::from_millis(9),
        };
        let mut first = RecordIndex::default();
        first.load(&conn).unwrap();
        let tag = first.tag(partner, &request);
        record(&conn, &mut first, tag, partner, &request, None, "done", 1).unwrap();
        first.commit();
        let mut again = RecordIndex::default();
        again.load(&conn).unwrap();
        assert_eq!(again.len(), 1);
        let tag = again.tag(partner, &request);
        let found = find(&conn, &again, tag, partner, &request)
            .unwrap()
            .unwrap();
        assert_eq!(found.outcome, "done");
        let stored: i64 = conn
            .query_row("select tag from idempotency_records", [], |row| row.get(0))
            .unwrap();
        assert_eq!(stored, tag.stored());
        // Keyed by the database's key, not by none.
        let unkeyed = RecordIndex::default().tag_of(partner, &request.request_id, "POST", "/v1/p");
        assert_ne!(tag, unkeyed);
        // Read from the stored tags, not made again from the keys: a record whose key no longer
        // hashes to its stored tag is still indexed under the stored tag.
        conn.execute("update idempotency_records set path = '/v1/elsewhere'", [])
            .unwrap();
        let mut stored_tags = RecordIndex::default();
        stored_tags.load(&conn).unwrap();
        assert_eq!(sorted(&stored_tags, tag), [1]);
    }

    /// Tags come from the whole key, from one hash per index.
    #[test]
    fn tags_tell_keys_apart() {
        let index = RecordIndex::default();
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let other: TenantId = "b1e5d2a0-0000-4000-8000-000000000002".parse().unwrap();
        let tag = |partner, request: &str, method: &str, path: &str| {
            index.tag_of(partner, request, method, path)
        };
        let one = tag(partner, "r", "POST", "/p");
        assert_eq!(one, tag(partner, "r", "POST", "/p"));
        assert!(one.0 < 1 << 40);
        for different in [
            tag(other, "r", "POST", "/p"),
            tag(partner, "s", "POST", "/p"),
            tag(partner, "r", "PUT", "/p"),
            tag(partner, "r", "POST", "/q"),
            tag(partner, "rP", "OST", "/p"),
        ] {
            assert_ne!(one, different);
        }
    }
}
