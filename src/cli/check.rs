//! `newswatch check`: every problem in the configuration at once, or a short summary.

use std::path::Path;
use std::process::ExitCode;

use newswatch::config::Config;
use newswatch::wording::plural;

use super::{compile_watches, loaded};

pub fn run(path: &Path) -> ExitCode {
    // What `run` and `once` load too: what passes here starts there.
    let config = match loaded(Config::load_to_run(path)) {
        Ok(config) => config,
        Err(code) => return code,
    };
    for warning in config.warnings() {
        eprintln!("{}\n", warning.warning());
    }
    let watches = match compile_watches(&config) {
        Ok(watches) => watches,
        Err(code) => return code,
    };
    say!(
        "{}: OK: {}, {}, {}",
        path.display(),
        plural(config.feeds().count(), "feed", "feeds"),
        plural(watches.len(), "watch", "watches"),
        plural(config.lists.len(), "list", "lists")
    );
    ExitCode::SUCCESS
}
