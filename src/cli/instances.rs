//! `newswatch instances`: the daemons sharing this database, as they registered themselves.

use std::path::Path;
use std::process::ExitCode;

use newswatch::daemon::INSTANCE_LIVE_FOR;

use super::{EXIT_FAILURE, format_time, load_config, open_existing_store};

pub async fn run(config_path: &Path, json: bool) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let store = match open_existing_store(&config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let listed = store.live_instances(INSTANCE_LIVE_FOR).await;
    store.close().await;
    let instances = match listed {
        Ok(instances) => instances,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if json {
        for instance in &instances {
            if let Ok(line) = serde_json::to_string(instance) {
                say!("{line}");
            }
        }
        return ExitCode::SUCCESS;
    }
    say!(
        "{:<40}  {:<8}  {:<23}  {:<23}  CONFIG",
        "INSTANCE",
        "VERSION",
        "STARTED",
        "LAST SEEN"
    );
    for instance in &instances {
        say!(
            "{:<40}  {:<8}  {:<23}  {:<23}  {}",
            instance.id,
            instance.version,
            format_time(Some(instance.started_at)),
            format_time(Some(instance.last_seen)),
            instance.config_fingerprint
        );
    }
    if instances.is_empty() {
        say!(
            "(no instance seen in the last {} s)",
            INSTANCE_LIVE_FOR.as_secs()
        );
    }
    ExitCode::SUCCESS
}
