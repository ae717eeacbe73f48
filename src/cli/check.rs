//! `newswatch check`: every problem in the configuration at once, or a short summary.

use std::path::Path;
use std::process::ExitCode;

use newswatch::alert::Mailer;
use newswatch::config::Config;

use super::{EXIT_CONFIG, compile_watches};

pub fn run(path: &Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let problems = config.delivery_problems();
    if !problems.is_empty() {
        eprintln!("{problems}");
        return ExitCode::from(EXIT_CONFIG);
    }
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
    println!(
        "{}: OK: {} feeds, {} watches, {} lists",
        path.display(),
        config.feeds().count(),
        watches.len(),
        config.lists.len()
    );
    ExitCode::SUCCESS
}
