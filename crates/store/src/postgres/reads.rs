//! Registration status reads, answered together: the read clients poll most (`GET
//! .../registrationstatus` until a registration settles), and the one whose cost per request is
//! the database round trip, not the lookup.
//!
//! A request hands its key to a batcher task and awaits the answer. The batcher takes every key
//! waiting (up to [`MAX_BATCH`]) and looks them all up in one statement on one pooled
//! connection, with at most [`IN_FLIGHT`] such statements running at once; keys that arrive
//! meanwhile wait for the next. A lone request therefore goes at once, as it would alone, and under
//! load each statement answers many: PostgreSQL's work per read (a round trip, a wake-up, a
//! statement's start and end) is shared by the batch.
//!
//! Each statement starts after every key in it was handed over, so a read sees every write
//! committed before the request began, as a statement of its own would (read committed).

use std::sync::Arc;

use partner_center_domain::{Lookup, SubscriptionKey};
use partner_center_model::RegistrationState;
use sqlx::Row;
use sqlx::postgres::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::parse_column;
use crate::StoreError;

/// Most keys looked up by one statement.
const MAX_BATCH: usize = 256;
/// Most statements running at once, and the connections of the readers' pool. Fewer make larger
/// batches (one at a time answered the most reads in the benchmark, 19-21k/s against 15-17k/s
/// for two and 12-13k/s for four); two, so that one slow statement (pages read from disk) does not
/// hold up every status read.
pub(super) const IN_FLIGHT: u32 = 2;
/// Keys waiting for the batcher at most; requests wait beyond that (within their deadline).
const QUEUE: usize = 4096;

type Answer = oneshot::Sender<Result<Lookup<RegistrationState>, StoreError>>;

/// Where requests hand their keys; the batcher stops once every clone of it is dropped.
#[derive(Debug, Clone)]
pub(super) struct StatusReads {
    keys: mpsc::Sender<(SubscriptionKey, Answer)>,
}

impl StatusReads {
    /// Starts the batcher on the current runtime, on the connections of `readers`.
    pub(super) fn start(readers: PgPool) -> Self {
        let (keys, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(batcher(readers, waiting));
        Self { keys }
    }

    /// The subscription's registration state, read in the next statement.
    pub(super) async fn read(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationState>, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.keys
            .send((*key, answer))
            .await
            .map_err(|_| StoreError::Unavailable("the status reader has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Unavailable("the status reader dropped a read".into()))?
    }
}

async fn batcher(pool: PgPool, mut waiting: mpsc::Receiver<(SubscriptionKey, Answer)>) {
    let statements = Arc::new(Semaphore::new(IN_FLIGHT as usize));
    loop {
        // A turn first, then the keys: while every turn is taken, keys gather for the next.
        let Ok(turn) = statements.clone().acquire_owned().await else {
            return;
        };
        let mut keys = Vec::with_capacity(MAX_BATCH);
        if waiting.recv_many(&mut keys, MAX_BATCH).await == 0 {
            return;
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let _turn = turn;
            answer(&pool, keys).await;
        });
    }
}

/// Looks up `keys` in one statement and answers each (a failure, to all of them).
async fn answer(pool: &PgPool, keys: Vec<(SubscriptionKey, Answer)>) {
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|(_, answer)| !answer.is_closed())
        .collect();
    if keys.is_empty() {
        return;
    }
    match lookup(pool, &keys).await {
        Ok(found) => {
            for ((_, answer), found) in keys.into_iter().zip(found) {
                let _ = answer.send(found);
            }
        }
        Err(err) => {
            let err = Arc::new(err);
            for (_, answer) in keys {
                let _ = answer.send(Err(StoreError::Shared(err.clone())));
            }
        }
    }
}

/// One lookup per key, in the keys' order: the customer within its partner, then the subscription
/// within its customer, as a single read does.
async fn lookup(
    pool: &PgPool,
    keys: &[(SubscriptionKey, Answer)],
) -> Result<Vec<Result<Lookup<RegistrationState>, StoreError>>, StoreError> {
    let column = |of: fn(&SubscriptionKey) -> String| -> Vec<String> {
        keys.iter().map(|(key, _)| of(key)).collect()
    };
    let rows = sqlx::query(
        // Lateral lookups, each limited to its one row, so that every key is two index probes:
        // as plain joins, the plan for an unknown number of keys hashes them and scans customers.
        "select k.n, c.id is not null, s.registration_state
         from unnest($1::text[], $2::text[], $3::text[])
              with ordinality as k(partner, customer, subscription, n)
         left join lateral (
             select id from customers
             where partner_tenant_id = k.partner and customer_id = k.customer limit 1) c on true
         left join lateral (
             select registration_state from subscriptions
             where customer_ref = c.id and subscription_id = k.subscription limit 1) s on true",
    )
    .bind(column(|key| key.partner.to_string()))
    .bind(column(|key| key.customer.to_string()))
    .bind(column(|key| key.subscription.to_string()))
    .fetch_all(pool)
    .await?;
    let mut found: Vec<Option<Result<Lookup<RegistrationState>, StoreError>>> =
        std::iter::repeat_with(|| None).take(keys.len()).collect();
    for row in rows {
        let n: i64 = row.try_get(0)?;
        let slot = usize::try_from(n - 1)
            .ok()
            .and_then(|i| found.get_mut(i))
            .ok_or_else(|| super::corrupt(format!("a batched read's ordinal {n}")))?;
        *slot = Some(if !row.try_get::<bool, _>(1)? {
            Ok(Lookup::CustomerNotFound)
        } else if row.try_get::<Option<&str>, _>(2)?.is_none() {
            Ok(Lookup::SubscriptionNotFound)
        } else {
            parse_column(&row, 2).map(Lookup::Found)
        });
    }
    Ok(found
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(super::corrupt("a batched read lost a row"))))
        .collect())
}
