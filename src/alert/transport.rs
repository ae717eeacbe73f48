//! Getting a message out: SMTP (STARTTLS or TLS with verified certificates, every step bounded
//! in time), one `.eml` file per alert written atomically, or the local `sendmail`. Messages
//! go one recipient at a time, and each recipient's outcome is reported as the server gives
//! it: accepted, refused for good, or deferred.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::{AsyncSendmailTransport, AsyncTransport, Tokio1Executor};

use super::smtp::{SmtpClient, SmtpSession, SmtpTls};
use crate::config::{EmailConfig, SmtpConfig, SmtpSecurity, Transport};
use crate::log_text::untrusted;

/// The server's verdict on one recipient of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// Accepted; the text is the server's reply.
    Accepted(String),
    /// Refused for good (a 5xx about the address or the message).
    Refused(String),
    /// Refused for now (a 4xx): try this recipient again later.
    Deferred(String),
}

/// Why a message could not be offered to the server at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// The server or the destination could not be reached or talked to (refused, stalled,
    /// broke off, unwritable directory): nothing was delivered; try later, after a pause.
    #[error("{0}")]
    Unavailable(String),
    /// The server refuses this configuration (the TLS mode does not match the port, the
    /// login is refused): like `Unavailable` nothing was delivered and delivery pauses, but
    /// waiting will not heal it; the configuration must change.
    #[error("{0}")]
    NeedsConfigChange(String),
    /// The message cannot be sent as it is (an address that is not one).
    #[error("{0}")]
    Permanent(String),
}

/// Why the transport could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("email transport: {message}")]
pub struct TransportSetupError {
    /// The `[email.smtp]` key the problem comes from, when one does (`password_env`), so
    /// that `check` can point at its line.
    pub key: Option<&'static str>,
    pub message: String,
}

impl TransportSetupError {
    fn of_key(key: &'static str, message: String) -> Self {
        Self {
            key: Some(key),
            message,
        }
    }
}

/// The configured way to send mail.
pub enum Mailer {
    File { dir: PathBuf },
    Smtp(SmtpClient),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::File { dir } => write!(f, "file transport into {}", dir.display()),
            Mailer::Smtp(client) => write!(f, "SMTP transport to {}", client.server()),
            Mailer::Sendmail(_) => f.write_str("sendmail transport"),
        }
    }
}

/// A message ready to go: the envelope sender, the bytes, and the file name for the file
/// transport (the same alert always gets the same file, so a retry cannot make a second one).
pub struct OutgoingMail<'a> {
    pub from: &'a Address,
    pub bytes: &'a [u8],
    pub file_stem: &'a str,
}

impl Mailer {
    /// Builds the transport; reads the SMTP password from its environment variable or file.
    pub fn from_config(email: &EmailConfig) -> Result<Mailer, TransportSetupError> {
        match email.transport {
            Transport::File => Ok(Mailer::File {
                dir: email.dir.clone(),
            }),
            Transport::Sendmail => Ok(Mailer::Sendmail(match &email.sendmail_command {
                Some(command) => AsyncSendmailTransport::new_with_command(command),
                None => AsyncSendmailTransport::new(),
            })),
            Transport::Smtp => {
                let smtp = email.smtp.as_ref().ok_or_else(|| TransportSetupError {
                    key: None,
                    message: "transport = \"smtp\" needs an [email.smtp] table".into(),
                })?;
                smtp_client(smtp.get_ref()).map(Mailer::Smtp)
            }
        }
    }

    /// The longest one recipient's send may take: for SMTP, connecting (greeting, EHLO,
    /// STARTTLS, login) and one transaction, each bounded by the timeout. A message in
    /// flight when a stop is asked for gets this long to finish, so that a server that
    /// accepts it is recorded as having it (cutting it short would send it again after the
    /// restart). Sendmail and files have no timeout of their own: bounded at a minute.
    pub fn longest_send(&self) -> Duration {
        match self {
            Mailer::Smtp(client) => client.timeout.saturating_mul(2),
            Mailer::File { .. } | Mailer::Sendmail(_) => Duration::from_secs(60),
        }
    }

    /// A delivery pass: for SMTP one connection, opened on the first send and reused.
    pub fn session(&self) -> MailSession<'_> {
        MailSession {
            mailer: self,
            smtp: match self {
                Mailer::Smtp(client) => Some(client.session()),
                _ => None,
            },
            written: None,
        }
    }
}

/// Sends messages one recipient at a time over one pass of the outbox.
pub struct MailSession<'a> {
    mailer: &'a Mailer,
    smtp: Option<SmtpSession<'a>>,
    /// The file transport writes one file per message, whatever the recipients.
    written: Option<String>,
}

impl MailSession<'_> {
    /// Offers `mail` for `to`.
    pub async fn send(
        &mut self,
        mail: &OutgoingMail<'_>,
        to: &Address,
    ) -> Result<RecipientOutcome, DeliveryError> {
        match self.mailer {
            Mailer::File { dir } => {
                if self.written.as_deref() != Some(mail.file_stem) {
                    write_eml(dir, mail.file_stem, mail.bytes).await?;
                    self.written = Some(mail.file_stem.to_string());
                }
                Ok(RecipientOutcome::Accepted(format!(
                    "written to {}",
                    dir.display()
                )))
            }
            Mailer::Smtp(_) => match self.smtp.as_mut() {
                Some(session) => session.send(mail.from, to, mail.bytes).await,
                None => Err(DeliveryError::Unavailable("no SMTP session".into())),
            },
            Mailer::Sendmail(transport) => {
                let envelope = Envelope::new(Some(mail.from.clone()), vec![to.clone()])
                    .map_err(|e| DeliveryError::Permanent(format!("envelope: {e}")))?;
                match transport.send_raw(&envelope, mail.bytes).await {
                    Ok(()) => Ok(RecipientOutcome::Accepted("sendmail accepted it".into())),
                    Err(e) => Ok(RecipientOutcome::Deferred(sendmail_failure(&e))),
                }
            }
        }
    }

    /// Ends the pass (QUIT for SMTP, briefly).
    pub async fn finish(self) {
        if let Some(session) = self.smtp {
            session.finish().await;
        }
    }
}

/// What a failed `sendmail` said. lettre's error carries the command's standard error, which
/// is empty for a command that fails silently (`false`): say so instead of an empty message.
fn sendmail_failure(error: &lettre::transport::sendmail::Error) -> String {
    let text = crate::error_text::with_causes(error);
    let said = text
        .strip_prefix("internal client error")
        .unwrap_or(&text)
        .trim_start_matches(':')
        .trim();
    if said.is_empty() {
        "sendmail failed and printed nothing on its standard error".to_string()
    } else {
        format!("sendmail: {}", text.trim_end())
    }
}

fn password(smtp: &SmtpConfig) -> Result<Option<String>, TransportSetupError> {
    if let Some(var) = &smtp.password_env {
        return std::env::var(var).map(Some).map_err(|e| {
            let why = match e {
                std::env::VarError::NotPresent => "is not set in the environment",
                std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
            };
            TransportSetupError::of_key(
                "password_env",
                format!(
                    "[email.smtp] password_env: the SMTP password variable {} {why}",
                    untrusted(var)
                ),
            )
        });
    }
    if let Some(path) = &smtp.password_file {
        return std::fs::read_to_string(path)
            .map(|p| Some(p.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| {
                TransportSetupError::of_key(
                    "password_file",
                    format!(
                        "[email.smtp] password_file: cannot read the SMTP password file {}: {e}",
                        untrusted(path.display())
                    ),
                )
            });
    }
    Ok(smtp.password.clone())
}

fn tls_parameters(smtp: &SmtpConfig) -> Result<TlsParameters, TransportSetupError> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(ca_file) = &smtp.ca_file {
        let pem = std::fs::read(ca_file).map_err(|e| {
            TransportSetupError::of_key(
                "ca_file",
                format!(
                    "[email.smtp] ca_file: cannot read {}: {e}",
                    untrusted(ca_file.display())
                ),
            )
        })?;
        // lettre takes a file with no certificate in it (a key, a typo'd path's other file)
        // as an empty list, and delivery then fails on every message: refuse it here.
        let certificates = {
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            CertificateDer::pem_slice_iter(&pem).count()
        };
        if certificates == 0 {
            return Err(TransportSetupError::of_key(
                "ca_file",
                format!(
                    "[email.smtp] ca_file: {} is not a PEM certificate: it holds no \
                     \"BEGIN CERTIFICATE\" block",
                    untrusted(ca_file.display())
                ),
            ));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            TransportSetupError::of_key(
                "ca_file",
                format!(
                    "[email.smtp] ca_file: {} is not a PEM certificate: {e}",
                    untrusted(ca_file.display())
                ),
            )
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| {
        TransportSetupError::of_key(
            "host",
            format!("[email.smtp] TLS setup for {}: {e}", untrusted(&smtp.host)),
        )
    })
}

fn smtp_client(smtp: &SmtpConfig) -> Result<SmtpClient, TransportSetupError> {
    let tls = match smtp.security {
        SmtpSecurity::Starttls => SmtpTls::Starttls(tls_parameters(smtp)?),
        SmtpSecurity::Tls => SmtpTls::Wrapper(tls_parameters(smtp)?),
        SmtpSecurity::None => SmtpTls::None,
    };
    let credentials = match &smtp.username {
        Some(username) => Some(Credentials::new(
            username.clone(),
            password(smtp)?.unwrap_or_default(),
        )),
        None => None,
    };
    Ok(SmtpClient {
        host: smtp.host.clone(),
        port: smtp.port(),
        tls,
        credentials,
        timeout: smtp.timeout.0,
    })
}

/// Writes `bytes` to `dir/stem.eml` atomically: a temporary file, flushed, then renamed.
async fn write_eml(dir: &Path, stem: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    let io_error = |e: std::io::Error| {
        DeliveryError::Unavailable(format!("writing to {}: {e}", dir.display()))
    };
    tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
    let final_path = dir.join(format!("{stem}.eml"));
    let temp_path = dir.join(format!(".{stem}.eml.tmp"));
    let mut file = tokio::fs::File::create(&temp_path)
        .await
        .map_err(io_error)?;
    tokio::io::AsyncWriteExt::write_all(&mut file, bytes)
        .await
        .map_err(io_error)?;
    file.sync_all().await.map_err(io_error)?;
    drop(file);
    tokio::fs::rename(&temp_path, &final_path)
        .await
        .map_err(io_error)?;
    Ok(())
}
