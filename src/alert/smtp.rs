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

    async fn connect(
        &self,
    ) -> Result<AsyncSmtpConnection, (SetupStep, lettre::transport::smtp::Error)> {
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
        .await
        .map_err(|e| (SetupStep::Connect, e))?;
        if let SmtpTls::Starttls(parameters) = &self.tls {
            connection
                .starttls(parameters.clone(), &hello)
                .await
                .map_err(|e| (SetupStep::Starttls, e))?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| (SetupStep::Auth, e))?;
        }
        Ok(connection)
    }

    /// What the security mode is called in the configuration.
    fn security(&self) -> &'static str {
        match self.tls {
            SmtpTls::Starttls(_) => "starttls",
            SmtpTls::Wrapper(_) => "tls",
            SmtpTls::None => "none",
        }
    }
}

/// Where setting up the connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetupStep {
    /// TCP connect, TLS from the first byte (security = "tls"), greeting, EHLO.
    Connect,
    Starttls,
    Auth,
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
                Ok(Err((step, e))) => return Err(setup_error(self.client, step, &e)),
                Err(_) => return Err(setup_timeout(self.client)),
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

/// A failure before any message could be offered, named by the server and, where the
/// configuration is the cause, with what to change in it.
fn setup_error(
    client: &SmtpClient,
    step: SetupStep,
    error: &lettre::transport::smtp::Error,
) -> DeliveryError {
    let server = client.server();
    let text = crate::error_text::with_causes(error);
    match step {
        SetupStep::Starttls if error.is_client() => DeliveryError::NeedsConfigChange(format!(
            "{server}: the server does not offer STARTTLS: set security = \"none\" for a local \
             relay or \"tls\" for port 465"
        )),
        SetupStep::Auth if error.is_permanent() => DeliveryError::NeedsConfigChange(format!(
            "{server}: authentication refused ({text}): check [email.smtp] username and the \
             password"
        )),
        SetupStep::Auth if error.is_client() => DeliveryError::NeedsConfigChange(format!(
            "{server}: cannot log in ({text}): the server offers no login method over this \
             connection; with a username set, use security = \"starttls\" or \"tls\""
        )),
        SetupStep::Connect if connection_refused(error) => DeliveryError::Unavailable(format!(
            "{server}: nothing listens on {server} (connection refused): is the mail server \
             running, and are [email.smtp] host and port right?"
        )),
        SetupStep::Connect | SetupStep::Starttls if tls_mode_mismatch(error) => {
            DeliveryError::NeedsConfigChange(format!(
                "{server}: the TLS handshake failed ({text}): the server does not speak TLS \
                 the way security = \"{}\" expects on this port: match security to the port \
                 (\"tls\" for 465, \"starttls\" for 587, \"none\" for a local relay on 25)",
                client.security()
            ))
        }
        _ => DeliveryError::Unavailable(format!("{server}: {text}")),
    }
}

/// No complete answer while connecting. A client speaking plain SMTP to a port that expects
/// TLS from the first byte waits for a greeting that never comes: that is a stall too.
fn setup_timeout(client: &SmtpClient) -> DeliveryError {
    let server = client.server();
    let timeout = humantime::format_duration(client.timeout);
    if client.port == 465 && !matches!(client.tls, SmtpTls::Wrapper(_)) {
        return DeliveryError::NeedsConfigChange(format!(
            "{server}: no greeting within {timeout}: port 465 expects TLS from the first byte; \
             set security = \"tls\" (or use port 587 with security = \"starttls\")"
        ));
    }
    DeliveryError::Unavailable(format!(
        "{server}: no complete answer within {timeout} while connecting (greeting, EHLO, \
         STARTTLS or login): the server is stalled or too slow, or it expects TLS from the \
         first byte (then set security = \"tls\")"
    ))
}

/// Whether the connection was refused (nothing listens there).
fn connection_refused(error: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether the TLS handshake failed on what the server sent not being TLS at all (rustls's
/// "received corrupt message": an SMTP greeting where a TLS record was expected), not on its
/// certificate: the security mode does not match what the port speaks.
fn tls_mode_mismatch(error: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        // An io::Error's `source` skips the error it wraps: look at that too.
        let wrapped = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(cause), wrapped].into_iter().flatten() {
            if let Some(rustls::Error::InvalidMessage(_)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

fn reply_text(reply: &Response) -> String {
    let lines: Vec<&str> = reply.message().collect();
    format!("{} {}", reply.code(), lines.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(port: u16, tls: SmtpTls) -> SmtpClient {
        SmtpClient {
            host: "mail.example.org".into(),
            port,
            tls,
            credentials: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn plain_smtp_to_port_465_that_stays_silent_asks_for_tls() {
        match setup_timeout(&client(465, SmtpTls::None)) {
            DeliveryError::NeedsConfigChange(text) => assert_eq!(
                text,
                "mail.example.org:465: no greeting within 5s: port 465 expects TLS from the \
                 first byte; set security = \"tls\" (or use port 587 with security = \
                 \"starttls\")"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_silent_server_elsewhere_is_unavailable_and_named() {
        match setup_timeout(&client(587, SmtpTls::None)) {
            DeliveryError::Unavailable(text) => {
                assert!(text.starts_with("mail.example.org:587: no complete answer within 5s"));
                assert!(text.contains("set security = \"tls\""), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
}
