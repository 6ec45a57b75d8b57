//! Purges expired idempotency records in the background.
//!
//! Records are deleted in small batches, each its own short transaction, so that purging never holds
//! the store's write lock long enough to delay requests; expired records are ignored by lookups in
//! the meantime, so purging is only about space.

use std::sync::Arc;
use std::time::Duration;

use partner_center_model::Timestamp;
use partner_center_store::{JobQueue, StoreError};
use tokio_util::sync::CancellationToken;

/// How often the janitor looks for expired records.
const INTERVAL: Duration = Duration::from_secs(60);
/// Records deleted per transaction.
const BATCH: u32 = 1000;

/// Runs until `shutdown` is cancelled.
pub(crate) async fn run(store: Arc<dyn JobQueue>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(INTERVAL) => {}
        }
        match purge_expired(store.as_ref(), Timestamp::now(), &shutdown).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged expired idempotency records"),
            Err(err) => {
                tracing::warn!(error = %err, "cannot purge expired idempotency records; will retry")
            }
        }
    }
}

/// Deletes every record expired at `now`, batch by batch, yielding between batches so that waiting
/// requests get the write lock; stops early on shutdown. Returns how many it deleted.
async fn purge_expired(
    store: &dyn JobQueue,
    now: Timestamp,
    shutdown: &CancellationToken,
) -> Result<u64, StoreError> {
    let mut purged = 0;
    while !shutdown.is_cancelled() {
        let deleted = store.purge_idempotency(now, BATCH).await?;
        purged += deleted;
        if deleted < u64::from(BATCH) {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use partner_center_domain::SubscriptionKey;
    use partner_center_model::RegistrationEnding;
    use partner_center_store::{Idempotency, RequestStore as _, SqliteStore};

    use super::*;

    #[tokio::test]
    async fn a_pass_deletes_every_expired_record_across_batches() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let key = SubscriptionKey {
            partner: partner_center_model::TenantId::new_random(),
            customer: partner_center_model::CustomerId::new_random(),
            subscription: partner_center_model::SubscriptionId::new_random(),
        };
        let t0 = Timestamp::from_millis(1_000_000);
        let total = u64::from(BATCH) * 2 + 5;
        for i in 0..total {
            let idempotency = Idempotency {
                request_id: format!("r{i}"),
                method: "POST".into(),
                path: "/v1/x".into(),
                expires_at: t0,
            };
            store
                .register(&key, t0, Some(&idempotency), RegistrationEnding::Registered)
                .await
                .unwrap();
        }
        let kept = Idempotency {
            request_id: "kept".into(),
            method: "POST".into(),
            path: "/v1/x".into(),
            expires_at: t0.saturating_add(INTERVAL),
        };
        store
            .register(&key, t0, Some(&kept), RegistrationEnding::Registered)
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        assert_eq!(purge_expired(&store, t0, &shutdown).await.unwrap(), total);
        assert_eq!(purge_expired(&store, t0, &shutdown).await.unwrap(), 0);
        assert!(
            store
                .register(&key, t0, Some(&kept), RegistrationEnding::Registered)
                .await
                .unwrap()
                .replayed,
            "the unexpired record stays"
        );
    }
}
