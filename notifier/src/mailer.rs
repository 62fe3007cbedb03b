//! Delivery: to a real SMTP server when one is configured, otherwise to `.eml` files in
//! an outbox folder (the embedded default, so the service runs with no mail server).

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("the SMTP URL {0:?} is not of the form smtp://host:port")]
    BadUrl(String),
    #[error("{0:?} is not an address an email can be sent to")]
    BadAddress(String),
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("could not reach the SMTP server: {0}")]
    Connect(std::io::Error),
    #[error("could not write to the mail outbox folder: {0}")]
    Io(#[from] std::io::Error),
}

/// One message to deliver. `key` identifies it for ever (it is derived from the event
/// that caused it) and becomes its Message-ID, so a repeat delivery is recognisable.
pub struct Outgoing<'a> {
    pub key: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

pub enum Mailer {
    Smtp(Smtp),
    Files(PathBuf),
}

pub struct Smtp {
    host: String,
    port: u16,
    connection: Mutex<Option<AsyncSmtpConnection>>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Mailer {
    /// `smtp://host:port` (plain SMTP; the relay is expected on a trusted network).
    pub fn smtp(url: &str) -> Result<Self, MailerError> {
        let bad = || MailerError::BadUrl(url.to_string());
        let rest = url.strip_prefix("smtp://").ok_or_else(bad)?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| bad())?),
            None => (rest, 25),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Mailer::Smtp(Smtp {
            host: host.to_string(),
            port,
            connection: Mutex::new(None),
        }))
    }

    pub fn files(dir: PathBuf) -> Self {
        Mailer::Files(dir)
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(s) => format!("SMTP server {}:{}", s.host, s.port),
            Mailer::Files(dir) => format!("outbox folder {}", dir.display()),
        }
    }

    pub async fn deliver(&self, from: &Mailbox, m: &Outgoing<'_>) -> Result<(), MailerError> {
        let to: Mailbox =
            m.to.parse()
                .map_err(|_| MailerError::BadAddress(m.to.to_string()))?;
        let id = hex::encode(&Sha256::digest(m.key.as_bytes())[..16]);
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(m.subject)
            .message_id(Some(format!("<{id}@extranet>")))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.to_string())?;
        match self {
            Mailer::Smtp(smtp) => smtp.send(&message).await,
            Mailer::Files(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{id}.eml"));
                let partial = dir.join(format!(".{id}.eml.partial"));
                // Written whole, then renamed: a reader never sees half a message.
                tokio::fs::write(&partial, message.formatted()).await?;
                tokio::fs::rename(&partial, &path).await?;
                Ok(())
            }
        }
    }
}

impl Smtp {
    async fn send(&self, message: &Message) -> Result<(), MailerError> {
        let mut slot = self.connection.lock().await;
        // A kept connection may have been closed by the server: try it once, then
        // reconnect and try again.
        for attempt in 0..2 {
            if slot.as_ref().is_none_or(|c| c.has_broken()) {
                *slot = Some(self.connect().await?);
            }
            let Some(conn) = slot.as_mut() else { continue };
            match conn.send(message.envelope(), &message.formatted()).await {
                Ok(_) => return Ok(()),
                Err(error) => {
                    *slot = None;
                    if attempt == 1 || error.is_permanent() {
                        return Err(error.into());
                    }
                }
            }
        }
        Ok(())
    }

    /// lettre's own transport leaves Nagle's algorithm on, and every message then waits
    /// ~40 ms for a delayed ACK; our own socket with TCP_NODELAY does not.
    async fn connect(&self) -> Result<AsyncSmtpConnection, MailerError> {
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| MailerError::Connect(std::io::ErrorKind::TimedOut.into()))?
        .map_err(MailerError::Connect)?;
        stream.set_nodelay(true).map_err(MailerError::Connect)?;
        let hello = ClientId::Domain("extranet.localhost".to_string());
        Ok(AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello).await?)
    }
}
