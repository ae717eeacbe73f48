//! `newswatch healthcheck`: asks the running daemon's `/healthz` (at `[http] listen`) whether
//! its scheduler is alive, and exits 0 or 1: what a container's HEALTHCHECK or a monitoring
//! script runs where no HTTP client is installed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use newswatch::log_text::untrusted;

use super::{EXIT_CONFIG, EXIT_FAILURE, load_config};

pub async fn run(path: &Path) -> ExitCode {
    let config = match load_config(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(listen) = config.http.listen_addr() else {
        eprintln!(
            "error: {}: [http] listen is not set, so the daemon serves no /healthz; set e.g. listen = \"127.0.0.1:9464\"",
            path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    let url = format!("http://{}/healthz", reachable(listen));
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: HTTP client: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match client.get(&url).send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            say!("{url}: {} {}", status.as_u16(), untrusted(body.trim()));
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
        Err(e) => {
            eprintln!("error: {url}: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The address to connect to for a listen address: a daemon listening on every interface
/// is asked on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}
