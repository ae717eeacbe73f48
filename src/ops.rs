//! The operator's HTTP endpoint (`[http] listen`): `/metrics` for Prometheus, `/healthz` (the
//! scheduler loop is alive) and `/readyz` (the database answers with the schema this version
//! needs; 503 once shutting down). It reads the daemon and never writes, so a scraper cannot
//! change what the daemon does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::daemon::Daemon;

/// The content types of the two expositions: OpenMetrics for a scraper that asks for it
/// (Prometheus does), the classic text format for everyone else.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a request may wait for the database before it answers without it.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(5);

struct Endpoint {
    daemon: Arc<Daemon>,
    /// Cancelled when the daemon begins to stop: `/readyz` says 503 from then on.
    stopping: CancellationToken,
}

/// Binds the endpoint's socket; done before the daemon reports ready, so that an address in
/// use stops the start with a clear error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on [http] listen {addr}: {e}"))
}

/// Serves until `stop`; `stopping` marks the start of the daemon's shutdown (the endpoint
/// keeps answering while the work in hand finishes).
pub async fn serve(
    listener: TcpListener,
    daemon: Arc<Daemon>,
    stopping: CancellationToken,
    stop: CancellationToken,
) {
    let endpoint = Arc::new(Endpoint { daemon, stopping });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(endpoint);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        error!(error = %e, "the HTTP endpoint stopped");
    }
}

async fn metrics(State(endpoint): State<Arc<Endpoint>>, headers: HeaderMap) -> Response {
    match tokio::time::timeout(DATABASE_TIMEOUT, endpoint.daemon.refresh_metrics()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            warn!(error = %e, "metrics: cannot read the outbox and feeds; their gauges are stale")
        }
        Err(_) => warn!(
            "metrics: the database did not answer in time; the outbox and feed gauges are stale"
        ),
    }
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    let metrics = endpoint.daemon.metrics();
    if wants_openmetrics {
        (
            [(header::CONTENT_TYPE, OPENMETRICS)],
            metrics.encode_openmetrics(),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
            metrics.encode_prometheus_text(),
        )
            .into_response()
    }
}

async fn healthz(State(endpoint): State<Arc<Endpoint>>) -> Response {
    let heartbeat = endpoint.daemon.heartbeat();
    if heartbeat.healthy() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let silent = heartbeat.since_last().as_secs();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the scheduler loop has not run for {silent} s\n"),
        )
            .into_response()
    }
}

async fn readyz(State(endpoint): State<Arc<Endpoint>>) -> Response {
    if endpoint.stopping.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let store = endpoint.daemon.store();
    match tokio::time::timeout(DATABASE_TIMEOUT, store.check_ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database did not answer in time\n",
        )
            .into_response(),
    }
}
