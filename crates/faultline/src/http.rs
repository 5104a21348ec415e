//! Endpoints every service serves: `/health` and `/metrics`.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use faultline_storage::Backends;

pub struct Health {
    pub backends: Backends,
}

pub fn configure(cfg: &mut web::ServiceConfig, health: Arc<Health>) {
    cfg.app_data(web::Data::from(health))
        .route("/health", web::get().to(health_check))
        .route("/health/", web::get().to(health_check))
        .route("/metrics", web::get().to(metrics));
}

/// Readiness: every store answers.
async fn health_check(health: web::Data<Health>) -> HttpResponse {
    let b = &health.backends;
    let checks = [
        ("queue", b.queue.ping().await.err()),
        ("metadata", b.meta.ping().await.err()),
        ("events", b.events.ping().await.err()),
    ];
    let failing: Vec<String> = checks
        .iter()
        .filter_map(|(name, err)| err.as_ref().map(|e| format!("{name}: {e}")))
        .collect();
    if failing.is_empty() {
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "unavailable", "failing": failing}))
    }
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(faultline_telemetry::encode())
}

/// Unknown paths answer in JSON like every API error.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .json(serde_json::json!({"detail": "The requested resource does not exist"}))
}
