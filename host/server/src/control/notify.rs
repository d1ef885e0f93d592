//! Telling people that a run failed and its integration is paused: e-mail
//! through an SMTP relay and a signed webhook. A notification that cannot
//! be delivered is logged; it never changes the outcome of the run.

use lettre::message::Mailbox;
use lettre::{Message, SmtpTransport, Transport};

use std::sync::Arc;

use hrsync_runtime::capability::http::guarded_agent;
use hrsync_runtime::{EgressAllowance, Secret};

/// Where mail goes out.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` or
    /// `smtps://user:pass@host`; lettre's URL format.
    pub smtp_url: String,
    pub from: String,
}

#[derive(Debug, Clone, Default)]
pub struct Notifier {
    pub mail: Option<MailSettings>,
    /// The non-public addresses a webhook may be sent to (the same as
    /// for tenants' plugins: none unless the operator allows some).
    pub egress: Arc<EgressAllowance>,
}

/// What happened, for the message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunFailed {
    pub event: &'static str,
    pub tenant: String,
    pub integration: String,
    pub integration_name: String,
    pub run: String,
    pub reason: String,
    pub at: i64,
}

impl Notifier {
    /// Sends the failure to `emails` and `webhook`; returns what could not
    /// be delivered, one line each.
    pub fn run_failed(&self, failure: &RunFailed, emails: &[String], webhook: Option<(&str, &Secret)>) -> Vec<String> {
        let mut problems = Vec::new();
        if !emails.is_empty() {
            match &self.mail {
                Some(mail) => {
                    if let Err(problem) = send_mail(mail, failure, emails) {
                        problems.push(problem);
                    }
                }
                None => problems.push("e-mail: no SMTP relay configured (hrsync serve --smtp-url)".into()),
            }
        }
        if let Some((url, secret)) = webhook {
            if let Err(problem) = post_webhook(&self.egress, url, secret, failure) {
                problems.push(problem);
            }
        }
        problems
    }
}

fn send_mail(mail: &MailSettings, failure: &RunFailed, emails: &[String]) -> Result<(), String> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| format!("e-mail: sender `{}`: {e}", mail.from))?;
    let mut builder = Message::builder().from(from).subject(format!(
        "hrsync: {} paused after a failed run",
        failure.integration_name
    ));
    for email in emails {
        let to: Mailbox = email.parse().map_err(|e| format!("e-mail: recipient `{email}`: {e}"))?;
        builder = builder.to(to);
    }
    let body = format!(
        "The run {} of the integration {} ({}) failed:\n\n  {}\n\nThe schedule is paused until an admin resumes it \
         (POST /api/v1/integrations/{}/resume) or a manual run succeeds.\n",
        failure.run, failure.integration_name, failure.integration, failure.reason, failure.integration
    );
    let message = builder.body(body).map_err(|e| format!("e-mail: {e}"))?;
    let transport = SmtpTransport::from_url(&mail.smtp_url)
        .map_err(|e| format!("e-mail: SMTP URL: {e}"))?
        .timeout(Some(std::time::Duration::from_secs(10)))
        .build();
    transport.send(&message).map(|_| ()).map_err(|e| format!("e-mail: {e}"))
}

/// Posts the signed failure. The URL is the tenant's: its addresses are
/// checked before connecting, and redirects are not followed (a redirect
/// could lead anywhere).
fn post_webhook(egress: &Arc<EgressAllowance>, url: &str, secret: &Secret, failure: &RunFailed) -> Result<(), String> {
    let body = serde_json::to_vec(failure).map_err(|e| format!("webhook: {e}"))?;
    // Only the origin is told: the path of a webhook URL is often a secret.
    let origin =
        url::Url::parse(url).map_or_else(|_| "(invalid URL)".to_string(), |u| u.origin().ascii_serialization());
    let signature = super::signature::sign(secret.expose().as_bytes(), failure.at / 1000, &body);
    let result = guarded_agent(Arc::clone(egress), std::time::Duration::from_secs(10))
        .post(url)
        .set("content-type", "application/json")
        .set(super::signature::HEADER, &signature)
        .send_bytes(&body);
    match result {
        Ok(response) if (300..400).contains(&response.status()) => Err(format!(
            "webhook {origin}: answered {} (a redirect, not followed)",
            response.status()
        )),
        Ok(_) => Ok(()),
        Err(ureq::Error::Status(status, _)) => Err(format!("webhook {origin}: answered {status}")),
        Err(ureq::Error::Transport(transport)) => Err(format!("webhook {origin}: {}", transport_reason(&transport))),
    }
}

/// The refusal of the egress check, or the kind of transport failure.
fn transport_reason(transport: &ureq::Transport) -> String {
    hrsync_runtime::capability::http::refusal_of(transport).unwrap_or_else(|| transport.kind().to_string())
}
