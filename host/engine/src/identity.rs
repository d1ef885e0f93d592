//! What identifies an account: its e-mail and user name. HR data is dirty —
//! e-mails with spaces, in another case, missing or broken — so both are
//! trimmed before anything else looks at them, compared case-insensitively,
//! and an employee without a valid e-mail gets no account unless a rule
//! gave them a user name (docs/integration.md, "Identity").

use std::borrow::Cow;

use hrsync_model::{Account, AccountDraft, DesiredAccount};

/// The form in which e-mails and user names are compared: trimmed, lower
/// case (Unicode-aware: `Müller@Firma.de` and `müller@firma.de` are one).
pub fn normalize(value: &str) -> String {
    normalized(value).into_owned()
}

/// [`normalize`], borrowing a value already in that form (nearly all of
/// them: a run compares hundreds of thousands).
pub fn normalized(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim();
    if trimmed.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(trimmed)
    } else {
        Cow::Owned(trimmed.to_lowercase())
    }
}

/// The normalized e-mail and user name, each with its kind; empty ones
/// are none.
fn keys<'a>(email: Option<&'a str>, user_name: &'a str) -> impl Iterator<Item = (KeyKind, Cow<'a, str>)> {
    let present = |value: &'a str| Some(normalized(value)).filter(|v| !v.is_empty());
    let email = email.and_then(present).map(|v| (KeyKind::Email, v));
    let user_name = present(user_name).map(|v| (KeyKind::UserName, v));
    email.into_iter().chain(user_name)
}

/// Why `value` (already trimmed) is not an e-mail address, if it is not.
pub fn email_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("it is empty");
    }
    if value.len() > 254 {
        return Some("it is longer than 254 characters");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains spaces");
    }
    let Some((local, domain)) = value.split_once('@') else {
        return Some("it has no @");
    };
    if domain.contains('@') {
        return Some("it has more than one @");
    }
    if local.is_empty() {
        return Some("nothing comes before the @");
    }
    let labels_ok = domain.split('.').all(|label| !label.is_empty());
    if !domain.contains('.') || !labels_ok {
        return Some("what follows the @ is not a domain");
    }
    None
}

/// The identity values of an account, normalized: two accounts (or an
/// account and what an employee wants) with one of them in common cannot
/// both exist in a target that keys on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKeys {
    pub email: Option<String>,
    pub user_name: Option<String>,
}

/// Which identity value a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    Email,
    UserName,
}

impl KeyKind {
    pub fn noun(self) -> &'static str {
        match self {
            KeyKind::Email => "e-mail",
            KeyKind::UserName => "user name",
        }
    }
}

impl AccountKeys {
    fn from_parts(email: Option<&str>, user_name: &str) -> Self {
        let mut owned = Self::default();
        owned.take(keys(email, user_name));
        owned
    }

    /// Takes on the keys of `account`, copying only what changed (a run
    /// refreshes every link's keys: nearly all are unchanged).
    pub fn follow(&mut self, account: &Account) {
        self.take(Self::borrowed_of_account(account));
    }

    /// Whether these are the keys of `account` already ([`Self::follow`]
    /// would change nothing).
    pub fn are_of(&self, account: &Account) -> bool {
        let (email, user_name) = Self::split(Self::borrowed_of_account(account));
        self.email.as_deref() == email.as_deref() && self.user_name.as_deref() == user_name.as_deref()
    }

    fn split<'k>(keys: impl Iterator<Item = (KeyKind, Cow<'k, str>)>) -> (Option<Cow<'k, str>>, Option<Cow<'k, str>>) {
        let (mut email, mut user_name) = (None, None);
        for (kind, value) in keys {
            match kind {
                KeyKind::Email => email = Some(value),
                KeyKind::UserName => user_name = Some(value),
            }
        }
        (email, user_name)
    }

    /// Becomes `keys` (a missing kind is none), copying only what changed.
    fn take<'k>(&mut self, keys: impl Iterator<Item = (KeyKind, Cow<'k, str>)>) {
        let (email, user_name) = Self::split(keys);
        if self.email.as_deref() != email.as_deref() {
            self.email = email.map(Cow::into_owned);
        }
        if self.user_name.as_deref() != user_name.as_deref() {
            self.user_name = user_name.map(Cow::into_owned);
        }
    }

    /// An account's keys, without copies.
    pub fn borrowed_of_account(account: &Account) -> impl Iterator<Item = (KeyKind, Cow<'_, str>)> {
        keys(account.email.as_deref(), &account.user_name)
    }

    /// The keys of what an employee wants, without copies.
    pub fn borrowed_of_desired(desired: &DesiredAccount) -> impl Iterator<Item = (KeyKind, Cow<'_, str>)> {
        keys(desired.email.as_deref(), &desired.user_name)
    }

    pub fn of_account(account: &Account) -> Self {
        Self::from_parts(account.email.as_deref(), &account.user_name)
    }

    pub fn of_desired(desired: &DesiredAccount) -> Self {
        Self::from_parts(desired.email.as_deref(), &desired.user_name)
    }

    pub fn of_draft(draft: &AccountDraft) -> Self {
        Self::from_parts(draft.email.as_deref(), &draft.user_name)
    }

    /// The keys, each with its kind.
    pub fn iter(&self) -> impl Iterator<Item = (KeyKind, &str)> {
        let email = self.email.as_deref().map(|v| (KeyKind::Email, v));
        let user_name = self.user_name.as_deref().map(|v| (KeyKind::UserName, v));
        email.into_iter().chain(user_name)
    }
}

/// What [`settle`] found wrong with an employee's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityIssue {
    /// No account for this employee: the reason (a skip).
    NoAccount(String),
    /// The account is made without the invalid e-mail: a warning.
    EmailDropped(String),
}

/// Trims the e-mail and user name the rules want, drops an invalid e-mail
/// and fills an empty user name with the e-mail. An employee left without
/// a user name gets no account.
pub fn settle(desired: &mut DesiredAccount) -> Option<IdentityIssue> {
    let given = desired.email.take();
    let trimmed = given.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let problem = trimmed.and_then(|email| email_problem(email).map(|why| (email, why)));
    desired.email = match problem {
        None => trimmed.map(str::to_string),
        Some(_) => None,
    };
    // The default user name is the e-mail (wit/worlds.wit, `subject`): a
    // user name equal to the e-mail follows it, valid or not.
    let user_name = desired.user_name.trim();
    let follows_email = user_name.is_empty() || trimmed.is_some_and(|email| normalize(email) == normalize(user_name));
    if follows_email {
        match &desired.email {
            Some(email) => desired.user_name = email.clone(),
            None => {
                let reason = match problem {
                    Some((email, why)) => format!("no valid e-mail: \"{}\" — {why}", shorten(email)),
                    None => "no valid e-mail: the HR record has none".to_string(),
                };
                return Some(IdentityIssue::NoAccount(reason));
            }
        }
    } else if user_name.len() != desired.user_name.len() {
        desired.user_name = user_name.to_string();
    }
    problem.map(|(email, why)| {
        IdentityIssue::EmailDropped(format!(
            "e-mail \"{}\" is not valid ({why}); the account is kept without it",
            shorten(email)
        ))
    })
}

/// At most 80 characters of a value quoted in a message.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_account_and_compare_normalized() {
        let mut account = crate::correlate::tests::account("u1", "ada@example.com");
        let mut keys = AccountKeys::of_account(&account);
        assert_eq!(keys.email.as_deref(), Some("ada@example.com"));
        account.email = Some(" Ada.Lovelace@Example.COM ".into());
        keys.follow(&account);
        assert_eq!(keys.email.as_deref(), Some("ada.lovelace@example.com"));
        assert_eq!(keys.user_name.as_deref(), Some("ada@example.com"), "unchanged");
        account.email = None;
        account.user_name = "  ".into();
        keys.follow(&account);
        assert_eq!(keys, AccountKeys::default());
        assert!(matches!(normalized("ada@example.com"), Cow::Borrowed(_)));
        assert_eq!(normalized(" MÜLLER@firma.de"), "müller@firma.de");
    }

    fn desired(email: Option<&str>, user_name: &str) -> DesiredAccount {
        DesiredAccount {
            external_id: "1".into(),
            user_name: user_name.into(),
            email: email.map(str::to_string),
            first_name: "A".into(),
            last_name: "B".into(),
            attributes: vec![],
            create_only: vec![],
            teams: vec![],
            manager_hr_id: None,
        }
    }

    #[test]
    fn valid_and_invalid_emails() {
        for ok in [
            "a@b.de",
            "k.schmidt@example.com",
            "müller@firma.de",
            "x+tag@sub.example.co.uk",
        ] {
            assert_eq!(email_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("anna schmidt@example.com", "spaces"),
            ("anna.schmidt", "no @"),
            ("a@b@example.com", "more than one @"),
            ("@example.com", "before the @"),
            ("anna@localhost", "not a domain"),
            ("anna@example..com", "not a domain"),
            ("anna@.example.com", "not a domain"),
        ] {
            assert!(email_problem(bad).is_some_and(|p| p.contains(why)), "{bad}");
        }
    }

    #[test]
    fn settling_trims_fills_and_refuses() {
        let mut d = desired(Some("  Anna.Schmidt@Example.com "), " Anna.Schmidt@Example.com ");
        assert_eq!(settle(&mut d), None);
        assert_eq!(d.email.as_deref(), Some("Anna.Schmidt@Example.com"));
        assert_eq!(d.user_name, "Anna.Schmidt@Example.com");
        assert_eq!(
            AccountKeys::of_desired(&d).email.as_deref(),
            Some("anna.schmidt@example.com")
        );

        let mut d = desired(None, "");
        assert_eq!(
            settle(&mut d),
            Some(IdentityIssue::NoAccount(
                "no valid e-mail: the HR record has none".into()
            ))
        );
        // The default user name is the e-mail: it follows the e-mail, and
        // an invalid e-mail leaves the employee without an account.
        for user_name in ["anna.schmidt(at)example.com", ""] {
            let mut d = desired(Some(" anna.schmidt(at)example.com"), user_name);
            let Some(IdentityIssue::NoAccount(reason)) = settle(&mut d) else {
                panic!("{user_name:?}")
            };
            assert!(
                reason.contains("has no @") && reason.contains("\"anna.schmidt(at)example.com\""),
                "{reason}"
            );
        }

        let mut d = desired(Some("broken"), "asmith");
        assert!(matches!(settle(&mut d), Some(IdentityIssue::EmailDropped(_))));
        assert_eq!(
            (d.email, d.user_name.as_str()),
            (None, "asmith"),
            "a user name a rule chose stays"
        );
    }
}
