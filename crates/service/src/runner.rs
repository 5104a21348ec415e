//! The one way services are started, whether one runs in its own process
//! (`faultline run <service>`) or all of them share one (`faultline
//! devserver`): their routes on one HTTP listener with `/health` over the
//! stores they declare, their background work as tasks, and one shutdown
//! for everything. A task that ends stops the process, loudly: relay
//! accepting events that no consumer processes would lose nothing at once
//! but hide the failure.

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{Readiness, Service, Serving, WorkError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot serve HTTP: {0}")]
    Listen(#[source] std::io::Error),
    #[error("{name} stopped: {reason}")]
    Stopped { name: &'static str, reason: String },
}

/// Hands out the shutdown signal services are built with, then starts them.
pub struct Runner {
    stop: watch::Sender<bool>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            stop: watch::channel(false).0,
        }
    }
}

impl Runner {
    pub fn new() -> Self {
        Runner::default()
    }

    /// Becomes true when the services are to stop.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Serves every service's routes on `listener` and spawns their work.
    pub fn start(
        self,
        listener: std::net::TcpListener,
        services: Vec<Service>,
    ) -> Result<Running, RunError> {
        let readiness = Readiness::new(services.iter().flat_map(|s| s.probes.clone()));
        let routes: Vec<_> = services.iter().filter_map(|s| s.routes.clone()).collect();
        let serving = crate::serve(listener, readiness, move |cfg| {
            for mount in &routes {
                mount(cfg);
            }
        })
        .map_err(RunError::Listen)?;
        tracing::info!(addr = %serving.addr, "listening");
        let mut work = JoinSet::new();
        for service in services {
            for (name, task) in service.work {
                work.spawn(async move { (name, task.await) });
            }
        }
        Ok(Running {
            serving,
            stop: self.stop,
            work,
        })
    }
}

/// Services that are running.
pub struct Running {
    serving: Serving,
    stop: watch::Sender<bool>,
    work: JoinSet<(&'static str, Result<(), WorkError>)>,
}

impl Running {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.serving.addr
    }

    /// Runs until `stop` resolves ([`crate::shutdown_signal`] in the
    /// binary: Ctrl-C or SIGTERM) or a task ends (an error naming it); then
    /// drains HTTP requests, signals shutdown and waits for the remaining
    /// work to finish its batch.
    pub async fn until(mut self, stop: impl Future<Output = ()>) -> Result<(), RunError> {
        let ended = tokio::select! {
            _ = stop => None,
            Some(joined) = self.work.join_next() => Some(stopped(joined)),
            served = &mut self.serving.task => Some(RunError::Stopped {
                name: "HTTP server",
                reason: match served {
                    Ok(Ok(())) => "it exited".to_owned(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => format!("it panicked: {e}"),
                },
            }),
        };
        tracing::info!("shutting down");
        self.serving.handle.stop(true).await;
        let _ = self.stop.send(true);
        while let Some(joined) = self.work.join_next().await {
            if let Err(RunError::Stopped { name, reason }) = finished(joined) {
                tracing::warn!(task = name, %reason, "stopped with an error while shutting down");
            }
        }
        match ended {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

type Joined = Result<(&'static str, Result<(), WorkError>), tokio::task::JoinError>;

/// A task that ended before shutdown was asked for: always a failure.
fn stopped(joined: Joined) -> RunError {
    match finished(joined) {
        Ok(name) => RunError::Stopped {
            name,
            reason: "it exited".to_owned(),
        },
        Err(error) => error,
    }
}

fn finished(joined: Joined) -> Result<&'static str, RunError> {
    match joined {
        Ok((name, Ok(()))) => Ok(name),
        Ok((name, Err(e))) => Err(RunError::Stopped {
            name,
            reason: e.to_string(),
        }),
        Err(e) => Err(RunError::Stopped {
            name: "a task",
            reason: format!("it panicked: {e}"),
        }),
    }
}
