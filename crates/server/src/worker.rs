//! The background worker: completes accepted registrations, and provisions reservation orders,
//! once their delay has passed.
//!
//! The queues are durable (they live in the store), so a registration accepted or an order placed
//! before a crash or a restart completes after it. The worker sleeps until the earliest queued job
//! is due, and is woken early when a new one is queued. Claims carry a lease: if the worker dies
//! between claim and completion, the job is claimed again after the lease; completion is
//! idempotent.
//!
//! Tests and operators drive it deterministically with [`Worker::run_due`] instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use partner_center_domain::CompletedRegistration;
use partner_center_model::Timestamp;
use partner_center_store::{JobQueue, StoreError};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::config::{RegistrationDelay, WorkerSettings};
use crate::ops::metrics::Metrics;

/// Registrations claimed and completed per transaction.
const BATCH: u32 = 256;
/// Pause after a store failure before trying again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// Handle to the registration worker; cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn JobQueue>,
    delay: RegistrationDelay,
    order_delay: RegistrationDelay,
    lease: Duration,
    processing: Duration,
    metrics: Metrics,
    wake: Notify,
    completed: broadcast::Sender<CompletedRegistration>,
}

impl Worker {
    pub(crate) fn new(
        store: Arc<dyn JobQueue>,
        settings: &WorkerSettings,
        metrics: Metrics,
    ) -> Self {
        let (completed, _) = broadcast::channel(1024);
        if settings.processing >= settings.lease {
            tracing::warn!(
                lease = %humantime::format_duration(settings.lease),
                processing = %humantime::format_duration(settings.processing),
                "registration processing takes as long as the lease: other instances will take the work over"
            );
        }
        Self {
            inner: Arc::new(Inner {
                store,
                delay: settings.delay,
                order_delay: settings.order_delay,
                lease: settings.lease,
                processing: settings.processing,
                metrics,
                wake: Notify::new(),
                completed,
            }),
        }
    }

    /// Tells the worker a registration was accepted or an order placed, so that it recomputes when
    /// to wake.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Completed registrations, as they happen.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<CompletedRegistration> {
        self.inner.completed.subscribe()
    }

    /// Completes every registration due at `now` (accepted at least the delay before it), and
    /// returns how many it completed. With a `manual` delay, nothing is ever due.
    ///
    /// # Errors
    ///
    /// A store failure; registrations completed before it stay completed.
    pub async fn run_due(&self, now: Timestamp) -> Result<usize, StoreError> {
        let RegistrationDelay::After(delay) = self.inner.delay else {
            return Ok(0);
        };
        let accepted_by = now.saturating_sub(delay);
        let mut total = 0;
        loop {
            let claimed = self
                .inner
                .store
                .claim_registrations(accepted_by, now, self.inner.lease, BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(total);
            }
            if !self.inner.processing.is_zero() {
                // The work itself, as Partner Center does it, under the claim's lease.
                tokio::time::sleep(self.inner.processing).await;
            }
            let completed = self
                .inner
                .store
                .complete_registrations(&claimed, Timestamp::now())
                .await?;
            for registration in &completed {
                let waited = registration
                    .completed_at
                    .duration_since(registration.requested_at);
                self.inner
                    .metrics
                    .registration_completed(registration.ending, waited.as_secs_f64());
                tracing::info!(
                    partner = %registration.key.partner,
                    customer = %registration.key.customer,
                    subscription = %registration.key.subscription,
                    waited_ms = waited.as_millis(),
                    ending = %registration.ending,
                    "registration completed"
                );
                // No receiver is not an error: nobody is watching.
                let _ = self.inner.completed.send(*registration);
            }
            total += completed.len();
            if claimed.len() < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// Provisions every reservation order due at `now` (placed at least the order provisioning
    /// delay before it), and returns how many it provisioned. With a `manual` delay, nothing is
    /// ever due.
    ///
    /// # Errors
    ///
    /// A store failure; orders provisioned before it stay provisioned.
    pub async fn run_due_orders(&self, now: Timestamp) -> Result<usize, StoreError> {
        let RegistrationDelay::After(delay) = self.inner.order_delay else {
            return Ok(0);
        };
        let placed_by = now.saturating_sub(delay);
        let mut total = 0;
        loop {
            let claimed = self
                .inner
                .store
                .claim_orders(placed_by, now, self.inner.lease, BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(total);
            }
            let provisioned = self
                .inner
                .store
                .provision_orders(&claimed, Timestamp::now())
                .await?;
            for order in &provisioned {
                tracing::info!(
                    partner = %order.customer.partner,
                    customer = %order.customer.customer,
                    order = %order.id,
                    status = order.status.as_str(),
                    "order provisioned"
                );
            }
            total += provisioned.len();
            if claimed.len() < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        loop {
            // Stopping abandons claimed work mid-way (its transaction rolls back); its lease runs
            // out and it is done again, here after a restart or by another instance.
            let step = tokio::select! {
                () = shutdown.cancelled() => return,
                step = self.step() => step,
            };
            let sleep = match step {
                Ok(sleep) => sleep,
                Err(err) => {
                    tracing::error!(error = %err, "registration worker failed; retrying");
                    Some(RETRY_AFTER_ERROR)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.inner.wake.notified() => {}
                () = sleep_for(sleep) => {}
            }
        }
    }

    /// Completes what is due and says how long to sleep before the next job is due (`None`:
    /// until woken).
    async fn step(&self) -> Result<Option<Duration>, StoreError> {
        let mut next: Option<Timestamp> = None;
        if let RegistrationDelay::After(delay) = self.inner.delay {
            self.run_due(Timestamp::now()).await?;
            next = self.inner.store.next_registration_due(delay).await?;
        }
        if let RegistrationDelay::After(delay) = self.inner.order_delay {
            self.run_due_orders(Timestamp::now()).await?;
            let due = self.inner.store.next_order_due(delay).await?;
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(next.map(|due| due.duration_since(Timestamp::now())))
    }
}

async fn sleep_for(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
