//! `newswatch check`: every problem in the configuration at once, or a short summary.

use std::path::Path;
use std::process::ExitCode;

use newswatch::alert::Mailer;
use newswatch::config::Config;
use newswatch::wording::plural;

use super::{compile_watches, loaded};

pub fn run(path: &Path) -> ExitCode {
    let config = match loaded(Config::load_for_delivery(path)) {
        Ok(config) => config,
        Err(code) => return code,
    };
    for warning in config.warnings() {
        eprintln!("{}\n", warning.warning());
    }
    if let Err(e) = Mailer::from_config(&config.email) {
        eprintln!("{}: warning: {e}\n", path.display());
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
