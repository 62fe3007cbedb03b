//! A real SMTP server that keeps every message it is handed, so a test can read the
//! mail the binary sends exactly as a mail server would receive it.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailin::{response, Action, Handler, Response, SessionBuilder};
use mailparse::MailHeaderMap;

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope recipients (`RCPT TO`), lower-cased: who the mail was really sent
    /// to, whatever its headers claim.
    pub to: Vec<String>,
    /// The message as transmitted after `DATA`: headers and encoded body.
    pub raw: String,
}

impl ReceivedMail {
    /// Whether the message was addressed to `email`, by envelope or by `To`/`Cc` header.
    pub fn is_addressed_to(&self, email: &str) -> bool {
        let email = email.to_lowercase();
        if self.to.contains(&email) {
            return true;
        }
        self.parsed()
            .map(|mail| {
                ["To", "Cc"].iter().any(|name| {
                    mail.headers
                        .get_all_values(name)
                        .iter()
                        .any(|value| value.to_lowercase().contains(&email))
                })
            })
            .unwrap_or(false)
    }

    /// The decoded `Subject` header, or "" when there is none.
    pub fn subject(&self) -> String {
        self.parsed()
            .and_then(|mail| mail.headers.get_first_value("Subject"))
            .unwrap_or_default()
    }

    /// The decoded text of the message: its `text/plain` parts, or its `text/html` parts
    /// when it has no plain ones. Transfer encodings (quoted-printable, base64) and
    /// charsets are undone, so a test can search for what a reader would see.
    pub fn body_text(&self) -> String {
        let Some(mail) = self.parsed() else {
            return self.raw.clone();
        };
        let text_of = |mimetype: &str| -> Vec<String> {
            mail.parts()
                .filter(|part| part.subparts.is_empty() && part.ctype.mimetype == mimetype)
                .filter_map(|part| part.get_body().ok())
                .collect()
        };
        let plain = text_of("text/plain");
        if plain.is_empty() {
            text_of("text/html").join("\n")
        } else {
            plain.join("\n")
        }
    }

    /// The first invitation link in the decoded body:
    /// `<public url>/invitations/<account>/<invitation>?secret=<hex>`.
    pub fn link(&self) -> Option<String> {
        find_invitation_link(&self.body_text())
    }

    /// The first link in the decoded body whose path contains `path`, such as
    /// `/password-reset/`.
    pub fn link_to(&self, path: &str) -> Option<String> {
        find_link(&self.body_text(), path)
    }

    /// The `Message-ID` header as sent (`<…>`), if the message has one.
    pub fn message_id(&self) -> Option<String> {
        self.parsed()
            .and_then(|mail| mail.headers.get_first_value("Message-ID"))
            .map(|id| id.trim().to_owned())
    }

    fn parsed(&self) -> Option<mailparse::ParsedMail<'_>> {
        mailparse::parse_mail(self.raw.as_bytes()).ok()
    }
}

/// Finds the first `http(s)://…/invitations/…` URL in `text`.
fn find_invitation_link(text: &str) -> Option<String> {
    find_link(text, "/invitations/")
}

/// Finds the first `http(s)://…<path>…` URL in `text`.
fn find_link(text: &str, path: &str) -> Option<String> {
    // A URL ends at the first character that cannot be part of one; this also cuts it
    // out of HTML attributes (`href="…"`) and angle brackets (`<…>`).
    let is_url_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'*+,;=%".contains(c);
    let mut rest = text;
    while let Some(at) = rest.find(path) {
        let start = rest[..at].rfind("http").filter(|start| {
            let candidate = &rest[*start..at];
            (candidate.starts_with("http://") || candidate.starts_with("https://"))
                && candidate.chars().all(is_url_char)
        });
        if let Some(start) = start {
            let url: String = rest[start..]
                .chars()
                .take_while(|c| is_url_char(*c))
                .collect();
            let url = url.trim_end_matches(['.', ',', ';', ')', '\'']);
            return Some(url.replace("&amp;", "&"));
        }
        rest = &rest[at + 1..];
    }
    None
}

/// An SMTP server on a free port of 127.0.0.1: plain SMTP, no TLS, no authentication,
/// accepting every message. It stops when dropped.
///
/// It can also play a mail server that is down: [`SmtpSink::reserve`] holds a port that
/// refuses connections, and [`SmtpSink::open`] starts answering on it later.
pub struct SmtpSink {
    address: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    stopped: Arc<AtomicBool>,
    /// The port of a sink that is down: bound, so nobody else takes it, but not
    /// listening, so every connection to it is refused.
    reserved: Option<tokio::net::TcpSocket>,
}

impl SmtpSink {
    /// Binds a free port and serves it from a background thread.
    pub fn start() -> SmtpSink {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind a free port for the SMTP sink");
        let address = listener
            .local_addr()
            .expect("read the SMTP sink's bound address");
        let sink = SmtpSink::on(address, None);
        sink.serve(listener);
        sink
    }

    /// Takes a free port without answering on it: a mail server that is down. Whoever
    /// connects to [`SmtpSink::url`] is refused until [`SmtpSink::open`].
    pub fn reserve() -> SmtpSink {
        let socket = tokio::net::TcpSocket::new_v4().expect("create the SMTP sink's socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind a free port for the SMTP sink");
        let address = socket
            .local_addr()
            .expect("read the SMTP sink's bound address");
        SmtpSink::on(address, Some(socket))
    }

    /// Starts answering on the port [`SmtpSink::reserve`] took: the mail server comes up.
    /// Call it from within a Tokio runtime, as every test runs in one.
    pub fn open(&mut self) {
        let socket = self
            .reserved
            .take()
            .expect("only a sink made by `SmtpSink::reserve` opens, and only once");
        let listener = socket
            .listen(128)
            .and_then(tokio::net::TcpListener::into_std)
            .expect("listen on the SMTP sink's reserved port");
        // The accept loop runs on a plain thread, which blocks.
        listener
            .set_nonblocking(false)
            .expect("make the SMTP sink's listener blocking");
        self.serve(listener);
    }

    fn on(address: SocketAddr, reserved: Option<tokio::net::TcpSocket>) -> SmtpSink {
        SmtpSink {
            address,
            mails: Arc::new(Mutex::new(Vec::new())),
            stopped: Arc::new(AtomicBool::new(false)),
            reserved,
        }
    }

    fn serve(&self, listener: TcpListener) {
        let mails = Arc::clone(&self.mails);
        let stopped = Arc::clone(&self.stopped);
        std::thread::spawn(move || accept_connections(listener, mails, stopped));
    }

    /// The value for `EXTRANET_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Every message received so far, in the order they arrived.
    pub fn all(&self) -> Vec<ReceivedMail> {
        self.mails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the first message (already received or still to come) that matches
    /// `predicate`, and panics with what did arrive if none does within `timeout`.
    pub async fn wait_for(
        &self,
        predicate: impl Fn(&ReceivedMail) -> bool,
        timeout: Duration,
    ) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mail) = self.all().into_iter().find(|mail| predicate(mail)) {
                return mail;
            }
            if tokio::time::Instant::now() >= deadline {
                let received: Vec<String> = self
                    .all()
                    .iter()
                    .map(|mail| format!("  to {:?}: {:?}", mail.to, mail.subject()))
                    .collect();
                panic!(
                    "no matching mail arrived within {timeout:?}; received:\n{}",
                    received.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        if self.reserved.is_none() {
            // The accept loop blocks in `accept`; one last connection wakes it to see the flag.
            let _ = TcpStream::connect(self.address);
        }
    }
}

fn accept_connections(
    listener: TcpListener,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    stopped: Arc<AtomicBool>,
) {
    for stream in listener.incoming() {
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let mails = Arc::clone(&mails);
        std::thread::spawn(move || {
            // A client that hangs up mid-session only loses its own unfinished message.
            let _ = serve_session(stream, mails);
        });
    }
}

/// Runs one SMTP session: mailin parses the protocol, [`Collector`] keeps the messages.
fn serve_session(stream: TcpStream, mails: Arc<Mutex<Vec<ReceivedMail>>>) -> io::Result<()> {
    let remote = stream.peer_addr()?.ip();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let collector = Collector {
        mails,
        to: Vec::new(),
        data: Vec::new(),
    };
    let mut session = SessionBuilder::new("smtp-sink.test").build(remote, collector);
    session.greeting().write_to(&mut writer)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let reply = session.process(&line);
        match reply.action {
            Action::Reply => reply.write_to(&mut writer)?,
            Action::Close => return reply.write_to(&mut writer),
            Action::NoReply => {}
            // STARTTLS is never advertised, so a client asking for it is broken.
            Action::UpgradeTls => return Err(io::Error::other("STARTTLS was not offered")),
        }
    }
}

/// Collects each message of a session into the shared list once its data is complete.
struct Collector {
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to
            .iter()
            .map(|address| address.trim_matches(['<', '>']).to_lowercase())
            .collect();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            to: std::mem::take(&mut self.to),
            raw: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.mails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mail);
        response::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_link_in_plain_text() {
        let text = "Open https://x.test/invitations/a/b?secret=00ff to join.\n";
        assert_eq!(
            find_invitation_link(text).as_deref(),
            Some("https://x.test/invitations/a/b?secret=00ff")
        );
    }

    #[test]
    fn finds_a_link_in_html() {
        let text = r#"<a href="http://127.0.0.1:1/invitations/a/b?secret=ab">accept</a>"#;
        assert_eq!(
            find_invitation_link(text).as_deref(),
            Some("http://127.0.0.1:1/invitations/a/b?secret=ab")
        );
    }

    #[test]
    fn ignores_a_path_without_a_scheme() {
        assert_eq!(find_invitation_link("see /invitations/a/b"), None);
    }

    #[test]
    fn decodes_quoted_printable_before_searching() {
        let raw =
            "To: gus@client.test\r\nSubject: Hi\r\nContent-Type: text/plain; charset=utf-8\r\n\
                   Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                   http://h.test/invitations/a/b?secret=3D=\r\nabc\r\n";
        let mail = ReceivedMail {
            to: vec!["gus@client.test".into()],
            raw: raw.into(),
        };
        assert_eq!(
            mail.link().as_deref(),
            Some("http://h.test/invitations/a/b?secret=abc")
        );
    }
}
