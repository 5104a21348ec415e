//! `mail.*`: the SMTP server notification mail will go through, under
//! Sentry's key names. Checked at start-up now, so that a config written
//! for the notifier is right before the notifier exists.

use crate::{ConfigError, RawConfig, Secret};

#[derive(Debug, Clone)]
pub struct Mail {
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
