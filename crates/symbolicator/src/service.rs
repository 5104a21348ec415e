//! The symbolicator as `faultline run symbolicator` starts it: the gRPC
//! API on `symbolicator.grpc-bind`, `/health` (the artifact index answers)
//! and `/metrics` on `symbolicator.bind`.

use std::sync::Arc;

use async_trait::async_trait;
use faultline_storage::{MetaStore, Probe};
use tokio::sync::watch;

use crate::grpc::{self, Ready};
use crate::{SymbolicateError, Symbolicator};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen for gRPC: {0}")]
    Listen(std::io::Error),
    #[error("gRPC server: {0}")]
    Grpc(String),
}

/// The artifact index lives in the metadata database: its ping is the
/// symbolicator's readiness.
struct MetaReady(Arc<dyn MetaStore>);

#[async_trait]
impl Ready for MetaReady {
    async fn ready(&self) -> Result<(), SymbolicateError> {
        Ok(self.0.ping().await?)
    }
}

pub fn service(
    symbolicator: Arc<Symbolicator>,
    meta: Arc<dyn MetaStore>,
    grpc: std::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> faultline_service::Service {
    faultline_service::Service::new("symbolicator", vec![Probe::Metadata(meta.clone())]).with_work(
        "symbolicator gRPC server",
        serve(symbolicator, Arc::new(MetaReady(meta)), grpc, shutdown),
    )
}

async fn serve(
    symbolicator: Arc<Symbolicator>,
    ready: Arc<dyn Ready>,
    listener: std::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    listener.set_nonblocking(true).map_err(ServeError::Listen)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Listen)?;
    tracing::info!(addr = ?listener.local_addr().ok(), "gRPC listening");
    tonic::transport::Server::builder()
        .add_service(grpc::service(symbolicator, ready))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            faultline_service::shutdown_requested(shutdown),
        )
        .await
        .map_err(|e| ServeError::Grpc(e.to_string()))
}
