//! `newswatch send-test --to ADDRESS`: one short test mail through the configured transport,
//! and what became of it: the SMTP server's reply, the file written, or sendmail's exit. The
//! first thing to run after filling in `[email]`.

use std::path::Path;
use std::process::ExitCode;

use lettre::Address;
use lettre::message::{Mailbox, header::ContentType};

use newswatch::alert::transport::{DeliveryError, Mailer, OutgoingMail, RecipientOutcome};
use newswatch::config::Config;
use newswatch::log_text::untrusted;

use super::{EXIT_CONFIG, EXIT_FAILURE, loaded};

#[derive(Debug, clap::Args)]
pub struct SendTestArgs {
    /// The address to send the test mail to.
    #[arg(long, value_name = "ADDRESS")]
    pub to: Address,
}

pub async fn run(path: &Path, args: &SendTestArgs) -> ExitCode {
    // As `check`, `run` and `once` load it: the password's variable or file, the CA file.
    let config = match loaded(Config::load_to_run(path)) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let mailer = match Mailer::from_config(&config.email) {
        Ok(mailer) => mailer,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let from: Mailbox = match config.email.from.get_ref().parse() {
        Ok(from) => from,
        Err(e) => {
            eprintln!("error: [email] from: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let message = match test_message(&from, &args.to) {
        Ok(message) => message,
        Err(e) => {
            eprintln!("error: cannot build the test message: {}", untrusted(e));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let bytes = message.formatted();
    let stem = format!(
        "send-test-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let mail = OutgoingMail {
        from: &from.email,
        bytes: &bytes,
        file_stem: &stem,
    };
    let mut session = mailer.session();
    let outcome = session.send(&mail, &args.to).await;
    session.finish().await;
    match outcome {
        Ok(RecipientOutcome::Accepted(reply)) => {
            match &mailer {
                Mailer::Smtp(client) => say!(
                    "{} accepted the test mail to {}: {}",
                    untrusted(client.server()),
                    args.to,
                    untrusted(&reply)
                ),
                Mailer::File { dir } => say!(
                    "the test mail to {} was written to {}",
                    args.to,
                    untrusted(dir.join(format!("{stem}.eml")).display())
                ),
                Mailer::Sendmail(_) => say!(
                    "sendmail exited successfully: it took the test mail to {}",
                    args.to
                ),
            }
            ExitCode::SUCCESS
        }
        Ok(RecipientOutcome::Refused(reply)) => {
            eprintln!(
                "error: the test mail to {} was refused for good: {}",
                args.to,
                untrusted(&reply)
            );
            ExitCode::from(EXIT_FAILURE)
        }
        Ok(RecipientOutcome::Deferred(reply)) if matches!(mailer, Mailer::Sendmail(_)) => {
            eprintln!("error: {}", untrusted(&reply));
            ExitCode::from(EXIT_FAILURE)
        }
        Ok(RecipientOutcome::Deferred(reply)) => {
            eprintln!(
                "error: the test mail to {} was not taken (try again later): {}",
                args.to,
                untrusted(&reply)
            );
            ExitCode::from(EXIT_FAILURE)
        }
        Err(
            DeliveryError::Unavailable(reason)
            | DeliveryError::NeedsConfigChange(reason)
            | DeliveryError::Permanent(reason),
        ) => {
            eprintln!(
                "error: the test mail to {} was not sent: {}",
                args.to,
                untrusted(&reason)
            );
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// A short plain-text message saying what it is.
fn test_message(from: &Mailbox, to: &Address) -> Result<lettre::Message, lettre::error::Error> {
    lettre::Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to.clone()))
        .subject("[newswatch] test mail")
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "This is a test mail from newswatch {}, sent by `newswatch send-test`.\n\
             If you can read it, alerts can reach this address through the configured transport.\n",
            env!("CARGO_PKG_VERSION"),
        ))
}
