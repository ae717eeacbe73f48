//! An SMTP client whose every step is bounded in time. lettre's transport bounds only the TCP
//! connect: a server that accepts and then never answers (a hung MTA, a half-open connection)
//! or answers a byte a second would hold the notifier forever. Here the connection set-up
//! (greeting, EHLO, STARTTLS, AUTH) and each message transaction (MAIL, RCPT, DATA, the body
//! and the server's final reply) must each finish within `timeout`, or the connection is
//! dropped and the server counted as unavailable.
//!
//! Each message goes to one recipient per transaction, so the server's reply about one address
//! is recorded before the next address is tried: a refused address fails only itself, and a
//! crash can repeat the mail to at most the one address whose reply was being awaited.

use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::{Category, Response};

use super::transport::{DeliveryError, RecipientOutcome};

/// How the connection is secured.
#[derive(Clone)]
pub enum SmtpTls {
    /// Plain TCP, then STARTTLS, which the server must offer.
    Starttls(TlsParameters),
    /// TLS from the first byte.
    Wrapper(TlsParameters),
    None,
}

/// Where and how to send: one per configuration.
#[derive(Clone)]
pub struct SmtpClient {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
}

impl SmtpClient {
    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A session that connects when it first sends.
    pub fn session(&self) -> SmtpSession<'_> {
        SmtpSession {
            client: self,
            connection: None,
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let hello = ClientId::default();
        let wrapper = match &self.tls {
            SmtpTls::Wrapper(parameters) => Some(parameters.clone()),
            _ => None,
        };
        let mut connection = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &hello,
            wrapper,
            None,
        )
        .await?;
        if let SmtpTls::Starttls(parameters) = &self.tls {
            connection.starttls(parameters.clone(), &hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// One connection, opened on the first send and reused for the next while the server accepts.
pub struct SmtpSession<'a> {
    client: &'a SmtpClient,
    connection: Option<AsyncSmtpConnection>,
}

/// At which step of a transaction the server said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Mail,
    Rcpt,
    Data,
}

impl SmtpSession<'_> {
    /// Sends `message` to `to` alone. `Ok` carries the server's verdict on this address;
    /// `Err(Unavailable)` means the server could not be talked to at all (nothing was sent).
    pub async fn send(
        &mut self,
        from: &Address,
        to: &Address,
        message: &[u8],
    ) -> Result<RecipientOutcome, DeliveryError> {
        let timeout = self.client.timeout;
        let server = self.client.server();
        if self.connection.is_none() {
            tracing::debug!(server = %server, "connecting to the SMTP server");
            let connected = tokio::time::timeout(timeout, self.client.connect()).await;
            self.connection = Some(match connected {
                Ok(Ok(connection)) => connection,
                Ok(Err(e)) => return Err(setup_error(&server, &e)),
                Err(_) => {
                    return Err(DeliveryError::Unavailable(format!(
                        "{server}: no complete answer within {} while connecting (greeting, \
                         EHLO, STARTTLS or login): the server is stalled or too slow",
                        humantime::format_duration(timeout)
                    )));
                }
            });
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(DeliveryError::Unavailable(format!(
                "{server}: not connected"
            )));
        };
        let sent = tokio::time::timeout(timeout, transaction(connection, from, to, message)).await;
        match sent {
            Ok(Ok(reply)) => {
                tracing::debug!(server = %server, to = %to, bytes = message.len(), "message accepted");
                Ok(RecipientOutcome::Accepted(reply_text(&reply)))
            }
            Ok(Err((step, e))) => {
                // After a refusal the session is reset by starting afresh: some servers do
                // not take a second MAIL after RSET in an authenticated session.
                self.connection = None;
                outcome_of_refusal(&server, step, &e)
            }
            Err(_) => {
                self.connection = None;
                Err(DeliveryError::Unavailable(format!(
                    "{server}: the message to {to} was not answered within {}: the server is \
                     stalled or too slow; the connection was dropped",
                    humantime::format_duration(timeout)
                )))
            }
        }
    }

    /// Says goodbye, briefly: a server that does not answer QUIT is simply left.
    pub async fn finish(self) {
        if let Some(mut connection) = self.connection {
            let bound = self.client.timeout.min(Duration::from_secs(5));
            let _ = tokio::time::timeout(bound, connection.quit()).await;
        }
    }
}

type StepError = (Step, lettre::transport::smtp::Error);

async fn transaction(
    connection: &mut AsyncSmtpConnection,
    from: &Address,
    to: &Address,
    message: &[u8],
) -> Result<Response, StepError> {
    let mut parameters = Vec::new();
    if !message.is_ascii()
        && connection
            .server_info()
            .supports_feature(Extension::EightBitMime)
    {
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let non_ascii_address =
        !AsRef::<str>::as_ref(from).is_ascii() || !AsRef::<str>::as_ref(to).is_ascii();
    if non_ascii_address
        && connection
            .server_info()
            .supports_feature(Extension::SmtpUtfEight)
    {
        parameters.push(MailParameter::SmtpUtfEight);
    }
    connection
        .command(Mail::new(Some(from.clone()), parameters))
        .await
        .map_err(|e| (Step::Mail, e))?;
    connection
        .command(Rcpt::new(to.clone(), Vec::new()))
        .await
        .map_err(|e| (Step::Rcpt, e))?;
    connection
        .command(Data)
        .await
        .map_err(|e| (Step::Data, e))?;
    connection
        .message(message)
        .await
        .map_err(|e| (Step::Data, e))
}

/// What a refused or broken transaction means for the recipient.
fn outcome_of_refusal(
    server: &str,
    step: Step,
    error: &lettre::transport::smtp::Error,
) -> Result<RecipientOutcome, DeliveryError> {
    let text = format!("{server}: {}", crate::error_text::with_causes(error));
    let Some(code) = error.status() else {
        // No reply at all: the connection broke.
        return Err(DeliveryError::Unavailable(text));
    };
    // A 5xx about the session, such as 530 (login needed) or 521 (no mail here), is our
    // configuration's fault, not the address's: it is retried like a 4xx.
    let about_the_session = matches!(
        code.category,
        Category::Connections | Category::Unspecified3
    ) && step != Step::Rcpt;
    if error.is_permanent() && !about_the_session {
        Ok(RecipientOutcome::Refused(text))
    } else {
        Ok(RecipientOutcome::Deferred(text))
    }
}

/// A failure before any message could be offered.
fn setup_error(server: &str, error: &lettre::transport::smtp::Error) -> DeliveryError {
    DeliveryError::Unavailable(format!(
        "{server}: {}",
        crate::error_text::with_causes(error)
    ))
}

fn reply_text(reply: &Response) -> String {
    let lines: Vec<&str> = reply.message().collect();
    format!("{} {}", reply.code(), lines.join(" "))
}
