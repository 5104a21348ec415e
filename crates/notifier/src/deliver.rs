//! The delivery loop: claims the deliveries that are due, sends each, and
//! records how it went. Failures are retried with growing waits, then
//! recorded as failed with the error text; a notifier that dies while
//! sending leaves its claims to run out and be taken again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use faultline_rules::Plugin;
use faultline_storage::{AlertDelivery, AlertStore, AttemptResult, ProjectPlugin};
use serde::Deserialize;
use tokio::sync::{Notify, watch};

use crate::channels;
use crate::email::Mailer;
use crate::http::HttpClient;
use crate::message::Payload;
use tracing::Instrument as _;

/// How long a claimed delivery is left to its notifier before another
/// takes it: longer than a send takes (SMTP's timeout is 20 s a step, a
/// webhook's 10 s in all),
/// short enough that a notifier killed while sending is made up for
/// within a minute.
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries claimed at once.
const CLAIM: usize = 16;
/// How often the outbox is looked at when nothing wakes the loop.
const POLL: Duration = Duration::from_secs(1);
/// Attempts before a delivery is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a send did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again (connection refused, a 4xx answer, a timeout).
    Transient(String),
    /// Asking again will not help (a 5xx answer, nothing configured).
    Permanent(String),
}

/// The wait before attempt `attempts + 1`, after `attempts` failed.
pub fn backoff(attempts: u32) -> Duration {
    match attempts {
        0 | 1 => Duration::from_secs(10),
        2 => Duration::from_secs(60),
        3 => Duration::from_secs(300),
        _ => Duration::from_secs(1800),
    }
}

/// What the failed attempt number `attempt` (from 1) leads to.
pub fn after_failure(error: SendError, attempt: u32) -> AttemptResult {
    match error {
        SendError::Permanent(error) => AttemptResult::Failed { error },
        SendError::Transient(error) if attempt >= MAX_ATTEMPTS => AttemptResult::Failed { error },
        SendError::Transient(error) => AttemptResult::Retry {
            at: Utc::now() + backoff(attempt),
            error,
        },
    }
}

pub struct Channels {
    pub mailer: Mailer,
    pub http: HttpClient,
}

impl Channels {
    async fn send(
        &self,
        alerts: &dyn AlertStore,
        delivery: &AlertDelivery,
    ) -> Result<(), SendError> {
        let payload = Payload::deserialize(&delivery.payload)
            .map_err(|e| SendError::Permanent(format!("unreadable notification: {e}")))?;
        if delivery.channel == "email" {
            return match &payload {
                Payload::Alert(n) => self.mailer.send_alert(&delivery.target, n).await,
                Payload::Summary { summary } => {
                    self.mailer.send_summary(&delivery.target, summary).await
                }
            };
        }
        let plugin = Plugin::parse(&delivery.channel).ok_or_else(|| {
            SendError::Permanent(format!("the {} channel is not available", delivery.channel))
        })?;
        // The settings as they are now: a webhook URL corrected after a
        // failure is what the retry uses.
        let settings = alerts
            .plugins(delivery.project_id)
            .await
            .map_err(|e| SendError::Transient(format!("cannot read the plugin settings: {e}")))?
            .into_iter()
            .find(|p| p.slug == delivery.channel);
        let config = plugin_config(plugin, settings.as_ref())?;
        let targets = plugin.targets(config);
        let target = match plugin {
            // Each callback URL is its own delivery; one no longer listed
            // is not posted to.
            Plugin::Webhooks => {
                targets
                    .iter()
                    .find(|t| **t == delivery.target)
                    .ok_or_else(|| {
                        SendError::Permanent(format!(
                            "{} is no longer one of the WebHooks plugin's callback URLs",
                            delivery.target
                        ))
                    })?
            }
            _ => &targets[0],
        };
        channels::send(&self.http, plugin, config, target, &payload).await
    }
}

/// A plugin's settings, if it is enabled and configured: otherwise why
/// nothing can be sent (shown in the rule's history).
pub fn plugin_config(
    plugin: Plugin,
    settings: Option<&ProjectPlugin>,
) -> Result<&serde_json::Map<String, serde_json::Value>, SendError> {
    let title = plugin.title();
    let settings = settings.filter(|s| s.enabled).ok_or_else(|| {
        SendError::Permanent(format!(
            "the {title} plugin is not enabled for this project"
        ))
    })?;
    let config = settings
        .config
        .as_object()
        .filter(|c| plugin.is_configured(c));
    config.ok_or_else(|| SendError::Permanent(format!("the {title} plugin has no webhook URL")))
}

/// Runs until `shutdown`; `wake` is notified when new deliveries are due.
pub async fn run(
    alerts: Arc<dyn AlertStore>,
    channels: Channels,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), std::convert::Infallible> {
    let channels = Arc::new(channels);
    while !*shutdown.borrow() {
        let now = Utc::now();
        let claimed = match alerts.claim_deliveries(now, now + LEASE, CLAIM).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the delivery outbox; will retry");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => break,
            }
            continue;
        }
        // Sent side by side: a target that times out holds up no other,
        // and a batch takes one send's time, well within the lease.
        let mut sends = tokio::task::JoinSet::new();
        for delivery in claimed {
            let (alerts, channels) = (alerts.clone(), channels.clone());
            sends.spawn(async move { deliver(alerts.as_ref(), &channels, &delivery).await });
        }
        while sends.join_next().await.is_some() {}
    }
    Ok(())
}

/// The `notifier.deliver` span of one send, in the trace of the event it
/// is for (the context its firing kept); none without traces.
fn deliver_span(delivery: &AlertDelivery) -> tracing::Span {
    if !faultline_telemetry::traces::enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        parent: None,
        "notifier.deliver",
        otel.kind = "client",
        project.id = delivery.project_id.0,
        channel = delivery.channel.as_str(),
        attempt = delivery.attempts + 1,
    );
    faultline_telemetry::traces::continue_trace(&span, delivery.traceparent.as_deref());
    span
}

/// Sends one claimed delivery and records how it went.
pub async fn deliver(alerts: &dyn AlertStore, channels: &Channels, delivery: &AlertDelivery) {
    let span = deliver_span(delivery);
    let started = std::time::Instant::now();
    let result = match channels.send(alerts, delivery).instrument(span).await {
        Ok(()) => AttemptResult::Sent,
        Err(e) => after_failure(e, delivery.attempts + 1),
    };
    let outcome = match &result {
        AttemptResult::Sent => "sent",
        AttemptResult::Retry { .. } => "retry",
        AttemptResult::Failed { .. } => "failed",
    };
    crate::metrics::delivered(&delivery.channel, outcome, started.elapsed());
    match &result {
        AttemptResult::Sent => {
            tracing::info!(
                id = delivery.id,
                channel = delivery.channel,
                "notification sent"
            )
        }
        AttemptResult::Retry { error, at } => {
            tracing::warn!(id = delivery.id, channel = delivery.channel, error, retry_at = %at, "notification failed; will retry")
        }
        AttemptResult::Failed { error } => {
            tracing::error!(
                id = delivery.id,
                channel = delivery.channel,
                error,
                "notification failed"
            )
        }
    }
    // If this write is lost, the claim runs out and the delivery is sent
    // again: at least once, never silently dropped.
    if let Err(e) = alerts.finish_delivery(delivery.id, &result).await {
        tracing::error!(error = %e, id = delivery.id, "cannot record a delivery's outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retried_with_growing_waits_then_given_up() {
        assert!(backoff(1) < backoff(2) && backoff(2) < backoff(3) && backoff(3) < backoff(4));
        assert!(matches!(
            after_failure(SendError::Transient("421".into()), 1),
            AttemptResult::Retry { .. }
        ));
        assert_eq!(
            after_failure(SendError::Transient("421".into()), MAX_ATTEMPTS),
            AttemptResult::Failed {
                error: "421".into()
            }
        );
        assert_eq!(
            after_failure(SendError::Permanent("550".into()), 1),
            AttemptResult::Failed {
                error: "550".into()
            }
        );
    }
}
