//! Delivery: SMTP through lettre (pooled connections, TLS as the URL asks) when
//! `MATCHWELL_SMTP_URL` is set, otherwise `.eml` files in
//! the outbox directory.

use std::path::PathBuf;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use store::mail::QueuedEmail;

/// SMTP connections used at once unless configured (`MATCHWELL_SMTP_CONNECTIONS`). lettre
/// 0.11.23 leaves Nagle's algorithm on, so each message waits out the server's delayed ACK
/// (about 40 ms on Linux) before its final `.`; throughput comes from messages in flight on
/// several connections (lettre/lettre#1159 sets `TCP_NODELAY` upstream, not yet released).
/// Postfix exempts its own networks from its limit of 50 connections per client; a relay
/// with a lower limit is configured with a lower number.
pub const DEFAULT_CONNECTIONS: usize = 64;

/// Outbox files written at once.
const OUTBOX_WRITERS: usize = 8;

/// Where emails go, and how many may be on their way at once.
#[derive(Clone)]
pub struct Mailer {
    delivery: Delivery,
    from: Mailbox,
    concurrency: usize,
}

#[derive(Clone)]
enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.delivery {
            Delivery::Smtp(_) => f.debug_struct("Mailer::Smtp").field("connections", &self.concurrency).finish(),
            Delivery::Outbox(dir) => f.debug_struct("Mailer::Outbox").field("dir", dir).finish(),
        }
    }
}

impl Mailer {
    /// SMTP for `smtp://…` or `smtps://user:pass@host` URLs, otherwise the outbox directory.
    pub fn new(smtp_url: Option<&str>, outbox: PathBuf, from: &str) -> anyhow::Result<Mailer> {
        Mailer::with_connections(smtp_url, outbox, from, DEFAULT_CONNECTIONS)
    }

    /// [`Mailer::new`] with at most `connections` SMTP connections, kept open between messages
    /// in a pool, one per message in flight.
    pub fn with_connections(
        smtp_url: Option<&str>,
        outbox: PathBuf,
        from: &str,
        connections: usize,
    ) -> anyhow::Result<Mailer> {
        let from: Mailbox = from.parse().context("the sender address is not valid")?;
        anyhow::ensure!(connections > 0, "at least one SMTP connection is needed");
        match smtp_url {
            Some(url) => {
                let pool = PoolConfig::new().max_size(u32::try_from(connections).unwrap_or(u32::MAX));
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("MATCHWELL_SMTP_URL is not a valid smtp:// or smtps:// URL")?
                    .pool_config(pool)
                    .build();
                Ok(Mailer { delivery: Delivery::Smtp(transport), from, concurrency: connections })
            }
            None => Ok(Mailer { delivery: Delivery::Outbox(outbox), from, concurrency: OUTBOX_WRITERS }),
        }
    }

    /// How many messages are sent at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn message(&self, email: &QueuedEmail) -> anyhow::Result<Message> {
        let from = self.from.clone();
        let to: Mailbox = email.recipient.parse().context("the recipient address is not valid")?;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(format!("<{}@matchwell>", file_stem(&email.idempotency_key))));
        if let Some(url) = &email.list_unsubscribe {
            // RFC 8058: a one-click unsubscribe that a mail client may POST to.
            use lettre::message::header::{HeaderName, HeaderValue};
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text_body.clone());
        let message = match &email.html_body {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(text)
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            ),
            None => builder.singlepart(text),
        };
        message.context("failed to build the message")
    }

    /// Delivers one email.
    pub async fn send(&self, email: &QueuedEmail) -> anyhow::Result<()> {
        let message = self.message(email)?;
        match &self.delivery {
            Delivery::Smtp(transport) => {
                transport.send(message).await.context("the SMTP server refused the message")?;
            }
            Delivery::Outbox(dir) => {
                let dir = dir.clone();
                let name = format!("{}.eml", file_stem(&email.idempotency_key));
                let formatted = message.formatted();
                tokio::task::spawn_blocking(move || write_to_outbox(&dir, &name, &formatted))
                    .await
                    .context("the outbox thread failed")??;
            }
        }
        Ok(())
    }
}

/// Writes one message into the outbox: the directory and the file readable by their owner
/// only (emails carry verification and reset links), written whole and then renamed into
/// place, so that a reader never sees half a message.
fn write_to_outbox(dir: &std::path::Path, name: &str, message: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).context("failed to create the outbox directory")?;
    }
    let path = dir.join(name);
    let partial = path.with_extension("eml.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).context("failed to write to the outbox")?;
    file.write_all(message).context("failed to write to the outbox")?;
    file.sync_all().context("failed to write to the outbox")?;
    std::fs::rename(&partial, &path).context("failed to move the email into the outbox")?;
    Ok(())
}

/// An idempotency key as a file name: letters, digits, `-` and `_` kept, the rest `_`.
fn file_stem(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}
