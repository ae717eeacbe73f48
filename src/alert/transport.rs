//! Getting a message out: SMTP (lettre, pooled connections, STARTTLS or TLS with verified
//! certificates), one `.eml` file per alert written atomically, or the local `sendmail`.
//! Failures are sorted into transient (try again later) and permanent (give up).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Category;
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{EmailConfig, SmtpConfig, SmtpSecurity, Transport};

/// Why a message was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: connection failures, timeouts, 4xx replies.
    #[error("{0}")]
    Transient(String),
    /// Will not get better: 5xx replies, an unusable message.
    #[error("{0}")]
    Permanent(String),
}

/// Why the transport could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("email transport: {0}")]
pub struct TransportSetupError(pub String);

/// The configured way to send mail.
pub enum Mailer {
    File { dir: PathBuf },
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::File { dir } => write!(f, "file transport into {}", dir.display()),
            Mailer::Smtp(_) => f.write_str("SMTP transport"),
            Mailer::Sendmail(_) => f.write_str("sendmail transport"),
        }
    }
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
                let smtp = email.smtp.as_ref().ok_or_else(|| {
                    TransportSetupError("transport = \"smtp\" needs an [email.smtp] table".into())
                })?;
                smtp_transport(smtp.get_ref()).map(Mailer::Smtp)
            }
        }
    }

    /// Sends one message. `file_stem` names the file for the file transport: the same alert
    /// always gets the same file, so a retry after a crash cannot make a second one.
    pub async fn send(&self, message: &Message, file_stem: &str) -> Result<(), DeliveryError> {
        match self {
            Mailer::File { dir } => write_eml(dir, file_stem, &message.formatted()).await,
            Mailer::Smtp(transport) => transport
                .send(message.clone())
                .await
                .map(|_| ())
                .map_err(classify_smtp),
            Mailer::Sendmail(transport) => transport
                .send(message.clone())
                .await
                .map_err(|e| DeliveryError::Transient(format!("sendmail: {e}"))),
        }
    }
}

fn password(smtp: &SmtpConfig) -> Result<Option<String>, TransportSetupError> {
    if let Some(var) = &smtp.password_env {
        return std::env::var(var).map(Some).map_err(|_| {
            TransportSetupError(format!(
                "the SMTP password variable {var} is not set in the environment \
                 (set it, or use password_file)"
            ))
        });
    }
    if let Some(path) = &smtp.password_file {
        return std::fs::read_to_string(path)
            .map(|p| Some(p.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| {
                TransportSetupError(format!(
                    "cannot read the SMTP password file {}: {e}",
                    path.display()
                ))
            });
    }
    Ok(smtp.password.clone())
}

fn tls_parameters(smtp: &SmtpConfig) -> Result<TlsParameters, TransportSetupError> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(ca_file) = &smtp.ca_file {
        let pem = std::fs::read(ca_file).map_err(|e| {
            TransportSetupError(format!("cannot read ca_file {}: {e}", ca_file.display()))
        })?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            TransportSetupError(format!(
                "ca_file {} is not a PEM certificate: {e}",
                ca_file.display()
            ))
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .map_err(|e| TransportSetupError(format!("TLS setup for {}: {e}", smtp.host)))
}

fn smtp_transport(
    smtp: &SmtpConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, TransportSetupError> {
    let tls = match smtp.security {
        SmtpSecurity::Starttls => Tls::Required(tls_parameters(smtp)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(smtp)?),
        SmtpSecurity::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port())
        .tls(tls)
        .timeout(Some(smtp.timeout.0))
        .pool_config(
            PoolConfig::new()
                .max_size(2)
                .idle_timeout(Duration::from_secs(60)),
        );
    if let Some(username) = &smtp.username {
        let password = password(smtp)?.unwrap_or_default();
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    Ok(builder.build())
}

/// A 5xx reply about the message or its recipients (5.0.z syntax, 5.5.z mail system: unknown
/// user, rejected content) is permanent. A 5xx about the session, such as 530/535 (login
/// refused) or 521 (no mail here), is our configuration's fault, not the alert's: it is retried
/// like a 4xx, so fixing the password lets the queue drain instead of failing every alert.
fn classify_smtp(error: lettre::transport::smtp::Error) -> DeliveryError {
    let text = crate::error_text::with_causes(&error);
    let about_the_session = error.status().is_some_and(|code| {
        matches!(
            code.category,
            Category::Connections | Category::Unspecified3
        )
    });
    if error.is_permanent() && !about_the_session {
        DeliveryError::Permanent(text)
    } else {
        DeliveryError::Transient(text)
    }
}

/// Writes `bytes` to `dir/stem.eml` atomically: a temporary file, flushed, then renamed.
async fn write_eml(dir: &Path, stem: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    let io_error =
        |e: std::io::Error| DeliveryError::Transient(format!("writing to {}: {e}", dir.display()));
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
