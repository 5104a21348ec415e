//! `mail.*`: where the notifier's mail goes (`mail.backend`) and the SMTP
//! server it goes through, under Sentry's key names; `notifications.*`:
//! where its chat and webhook requests may go.

use crate::{ConfigError, RawConfig, Secret};

/// `mail.backend`, as Sentry's: where notification mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailBackend {
    /// To the SMTP server of `mail.host`.
    Smtp,
    /// Written to the log instead of sent.
    Console,
    /// Dropped.
    Dummy,
}

impl MailBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            MailBackend::Smtp => "smtp",
            MailBackend::Console => "console",
            MailBackend::Dummy => "dummy",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub backend: MailBackend,
    /// `mail.host`; unset, no mail is sent.
    pub host: Option<String>,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// STARTTLS after connecting.
    pub use_tls: bool,
    /// TLS from the first byte (SMTPS); excludes `use_tls`.
    pub use_ssl: bool,
    /// The sender address.
    pub from: String,
    pub subject_prefix: String,
}

impl Mail {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let backend = match raw
            .text("mail.backend")
            .expect("mail.backend has a default")
        {
            "smtp" => MailBackend::Smtp,
            "console" => MailBackend::Console,
            "dummy" => MailBackend::Dummy,
            other => {
                return Err(raw.invalid(
                    "mail.backend",
                    format!("`{other}` is not one of smtp, console, dummy"),
                ));
            }
        };
        let host = raw.text("mail.host").map(str::to_owned);
        if let Some(host) = &host
            && (host.contains("://") || host.contains(char::is_whitespace))
        {
            return Err(raw.invalid(
                "mail.host",
                format!("`{host}` is not a host name like smtp.example.com"),
            ));
        }
        let port = raw.number_in("mail.port", 1..=u16::MAX)?;
        let use_tls = raw.flag("mail.use-tls")?;
        let use_ssl = raw.flag("mail.use-ssl")?;
        if use_tls && use_ssl {
            return Err(raw.invalid(
                "mail.use-ssl",
                "cannot be true together with mail.use-tls (SMTPS or STARTTLS, not both)",
            ));
        }
        let from = raw
            .text("mail.from")
            .expect("mail.from has a default")
            .to_owned();
        if !from.contains('@') {
            return Err(raw.invalid("mail.from", format!("`{from}` is not an email address")));
        }
        Ok(Mail {
            backend,
            host,
            port,
            username: raw.text("mail.username").map(str::to_owned),
            password: raw.text("mail.password").map(|p| Secret(p.to_owned())),
            use_tls,
            use_ssl,
            from,
            subject_prefix: raw
                .text("mail.subject-prefix")
                .expect("mail.subject-prefix has a default")
                .to_owned(),
        })
    }
}

/// `notifications.*`: the notifier's outbound HTTP requests.
#[derive(Debug, Clone, Default)]
pub struct Notifications {
    /// `notifications.allow-private-targets`: whether a webhook may point
    /// at a loopback or link-local address (this machine, or a cloud
    /// metadata endpoint). Private LAN ranges are always allowed.
    pub allow_private_targets: bool,
}

impl Notifications {
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        Ok(Notifications {
            allow_private_targets: raw.flag("notifications.allow-private-targets")?,
        })
    }
}
