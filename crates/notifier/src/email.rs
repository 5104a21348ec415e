//! Alert email: the message (text and HTML parts) and the SMTP transport
//! from Sentry's `mail.*` keys, with lettre.

use std::time::Duration;

use faultline_config::{Mail, MailBackend};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::deliver::SendError;
use crate::message::{Notification, Summary};

/// How long the SMTP server may take to answer one step.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where alert email goes, and how its subjects begin.
pub struct Mailer {
    transport: Transport,
    subject_prefix: String,
}

enum Transport {
    Smtp {
        smtp: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
    /// `mail.backend: console`: each message is written to the log.
    Console,
    /// `mail.backend: dummy`: messages are dropped (and recorded as sent).
    Dummy,
    /// SMTP without `mail.host`: every email delivery fails saying so.
    Unconfigured,
}

impl Mailer {
    pub fn from_config(mail: &Mail) -> Result<Self, String> {
        let transport = match mail.backend {
            MailBackend::Console => Transport::Console,
            MailBackend::Dummy => Transport::Dummy,
            MailBackend::Smtp => match &mail.host {
                None => Transport::Unconfigured,
                Some(host) => smtp(mail, host)?,
            },
        };
        Ok(Mailer {
            transport,
            subject_prefix: mail.subject_prefix.clone(),
        })
    }

    /// Sends one alert to `to`.
    pub async fn send_alert(&self, to: &str, n: &Notification) -> Result<(), SendError> {
        let subject = subject(&self.subject_prefix, &n.short_id, &n.title);
        self.deliver(to, &subject, text(n), html(n)).await
    }

    /// Sends the note that a project's alerts are held back for a while.
    pub async fn send_summary(&self, to: &str, s: &Summary) -> Result<(), SendError> {
        let subject = subject(
            &self.subject_prefix,
            &s.project_slug.to_ascii_uppercase(),
            &format!("more than {} alerts in one minute", s.limit),
        );
        self.deliver(to, &subject, summary_text(s), summary_html(s))
            .await
    }

    async fn deliver(
        &self,
        to: &str,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp { smtp, from } => {
                let to = to
                    .parse::<Mailbox>()
                    .map_err(|e| SendError::Permanent(format!("recipient {to}: {e}")))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .multipart(MultiPart::alternative_plain_html(text, html))
                    .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
                match smtp.send(message).await {
                    Ok(_) => Ok(()),
                    // A 5xx answer will not change by asking again.
                    Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                    Err(e) => Err(SendError::Transient(e.to_string())),
                }
            }
            Transport::Console => {
                tracing::info!(
                    to,
                    subject,
                    body = text,
                    "alert email (mail.backend: console)"
                );
                Ok(())
            }
            Transport::Dummy => Ok(()),
            Transport::Unconfigured => Err(SendError::Permanent(
                "mail.host is not set, so no email can be sent".into(),
            )),
        }
    }

    /// Sends the admin page's test message and reports the server's answer.
    pub async fn send_test(&self, to: &str) -> Result<String, String> {
        match &self.transport {
            Transport::Smtp { smtp, from } => {
                let to = to
                    .parse::<Mailbox>()
                    .map_err(|e| format!("recipient: {e}"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(format!("{} Test email", self.subject_prefix))
                    .body("This is a test email from Faultline: mail is set up.".to_owned())
                    .map_err(|e| e.to_string())?;
                match smtp.send(message).await {
                    Ok(response) => Ok(response_text(&response)),
                    Err(e) => Err(e.to_string()),
                }
            }
            Transport::Console => Ok("written to the log (mail.backend: console)".into()),
            Transport::Dummy => Ok("dropped (mail.backend: dummy)".into()),
            Transport::Unconfigured => Err("mail.host is not set".into()),
        }
    }
}

/// The SMTP transport of `mail.*`: implicit TLS, STARTTLS or plain.
fn smtp(mail: &Mail, host: &str) -> Result<Transport, String> {
    let builder = if mail.use_ssl {
        AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| format!("mail.host: {e}"))?
    } else if mail.use_tls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| format!("mail.host: {e}"))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    };
    let mut builder = builder.port(mail.port).timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &mail.username {
        let password = mail
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    let from = mail
        .from
        .parse::<Mailbox>()
        .map_err(|e| format!("mail.from: {e}"))?;
    Ok(Transport::Smtp {
        smtp: Box::new(builder.build()),
        from,
    })
}

fn response_text(response: &lettre::transport::smtp::response::Response) -> String {
    let lines: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), lines.join(" "))
}

/// `[Faultline] WEB-1 - ZeroDivisionError: division by zero`, as Sentry's
/// alert subjects read.
pub fn subject(prefix: &str, short_id: &str, title: &str) -> String {
    let title: String = title.chars().filter(|c| !c.is_control()).collect();
    format!("{} {short_id} - {title}", prefix.trim_end())
        .trim_start()
        .to_owned()
}

const HELD_BACK: &str = "so the rest are held back until it calms down: one email like this \
                         one per minute instead of one per issue";

pub fn summary_text(s: &Summary) -> String {
    format!(
        "More than {} alerts fired for the project {} ({}) within a minute, {HELD_BACK}.\n\nSee the new issues: {}\n",
        s.limit, s.project_name, s.project_slug, s.link
    )
}

pub fn summary_html(s: &Summary) -> String {
    format!(
        "<!DOCTYPE html><html><body style=\"font-family: sans-serif\"><p>More than {} alerts \
         fired for the project {} ({}) within a minute, {HELD_BACK}.</p>\
         <p><a href=\"{}\">See the new issues</a></p></body></html>",
        s.limit,
        escape(&s.project_name),
        escape(&s.project_slug),
        escape(&s.link)
    )
}

pub fn text(n: &Notification) -> String {
    let mut out = format!("{}\n", n.title);
    if !n.culprit.is_empty() {
        out.push_str(&format!("{}\n", n.culprit));
    }
    out.push_str(&format!(
        "\nProject: {} ({})\nLevel: {}\n",
        n.project_name, n.project_slug, n.level
    ));
    if let Some(env) = &n.environment {
        out.push_str(&format!("Environment: {env}\n"));
    }
    if let Some(release) = &n.release {
        out.push_str(&format!("Release: {release}\n"));
    }
    out.push_str(&format!("Events: {}  Users: {}\n", n.count, n.user_count));
    if !n.frames.is_empty() {
        out.push_str("\nStack trace (most recent call first):\n");
        for frame in &n.frames {
            out.push_str(&format!("  {frame}\n"));
        }
    }
    out.push_str(&format!("\nView this issue: {}\n", n.link));
    out.push_str(&format!(
        "\nSent because of the alert rule \"{}\". You can turn alert emails off for this project in your account settings.\n",
        n.rules.join("\", \"")
    ));
    out
}

/// The HTML part: everything from the event is escaped.
pub fn html(n: &Notification) -> String {
    let e = escape;
    let mut rows = format!(
        "<tr><th align=\"left\">Project</th><td>{} ({})</td></tr>\
         <tr><th align=\"left\">Level</th><td>{}</td></tr>",
        e(&n.project_name),
        e(&n.project_slug),
        e(&n.level)
    );
    if let Some(env) = &n.environment {
        rows.push_str(&format!(
            "<tr><th align=\"left\">Environment</th><td>{}</td></tr>",
            e(env)
        ));
    }
    if let Some(release) = &n.release {
        rows.push_str(&format!(
            "<tr><th align=\"left\">Release</th><td>{}</td></tr>",
            e(release)
        ));
    }
    rows.push_str(&format!(
        "<tr><th align=\"left\">Events</th><td>{}</td></tr><tr><th align=\"left\">Users</th><td>{}</td></tr>",
        n.count, n.user_count
    ));
    let frames = if n.frames.is_empty() {
        String::new()
    } else {
        let items: String = n
            .frames
            .iter()
            .map(|f| format!("<li><code>{}</code></li>", e(f)))
            .collect();
        format!("<h3>Stack trace (most recent call first)</h3><ul>{items}</ul>")
    };
    format!(
        "<!DOCTYPE html><html><body style=\"font-family: sans-serif\">\
         <h2>{title}</h2><p>{culprit}</p><table>{rows}</table>{frames}\
         <p><a href=\"{link}\">View this issue on Faultline</a></p>\
         <p style=\"color: #666; font-size: small\">Sent because of the alert rule &quot;{rules}&quot;. \
         You can turn alert emails off for this project in your account settings.</p>\
         </body></html>",
        title = e(&n.title),
        culprit = e(&n.culprit),
        link = e(&n.link),
        rules = e(&n.rules.join("\", \"")),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        Notification {
            title: "TypeError: <script>alert(1)</script>".into(),
            ..crate::message::tests::notification()
        }
    }

    #[test]
    fn alert_mail_says_what_happened_and_escapes_the_event() {
        let n = notification();
        assert_eq!(
            subject("[Faultline]", &n.short_id, &n.title),
            "[Faultline] WEB-7 - TypeError: <script>alert(1)</script>"
        );
        let text = text(&n);
        for part in [
            "app.views in checkout",
            "Environment: production",
            "Release: web@1.2.3",
            "checkout (app/views.py:42)",
            &n.link,
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let html = html(&n);
        assert!(!html.contains("<script>"));
        assert!(html.contains("TypeError: &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains(
            "href=\"https://faultline.example.com/organizations/acme/issues/7/?referrer=alert\""
        ));
    }

    #[test]
    fn subjects_carry_no_line_breaks() {
        let mut n = notification();
        n.title = "a\r\nBcc: x@example.com".into();
        assert!(!subject("[F]", &n.short_id, &n.title).contains('\n'));
    }
}
