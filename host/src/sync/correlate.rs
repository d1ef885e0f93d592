//! Step 5 of a run: pair each in-scope employee with the target account it
//! owns. Links first; an unlinked employee is matched against unlinked
//! accounts by the configured attributes in order (e-mail by default,
//! case-insensitive), and the match is adopted only where the integration
//! allows it.

use std::collections::{HashMap, HashSet};

use crate::runtime::types::{Account, DesiredAccount};

/// How an account came to belong to the integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOrigin {
    /// The integration created it.
    Created,
    /// It existed and was matched and adopted.
    Adopted,
}

/// The durable pairing of an HR employee with a target account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub hr_id: String,
    pub account_id: String,
    pub origin: LinkOrigin,
}

/// Account attributes an unlinked employee can be matched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchAttribute {
    Email,
    UserName,
    ExternalId,
}

impl MatchAttribute {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "user-name" | "user_name" | "username" => Some(Self::UserName),
            "external-id" | "external_id" => Some(Self::ExternalId),
            _ => None,
        }
    }

    fn of_account(self, account: &Account) -> Option<&str> {
        match self {
            Self::Email => account.email.as_deref(),
            Self::UserName => Some(account.user_name.as_str()),
            Self::ExternalId => account.external_id.as_deref(),
        }
    }

    fn of_desired(self, desired: &DesiredAccount) -> Option<&str> {
        match self {
            Self::Email => desired.email.as_deref(),
            Self::UserName => Some(desired.user_name.as_str()),
            Self::ExternalId => Some(desired.external_id.as_str()),
        }
    }
}

/// Where an in-scope employee stands against the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// Linked to an account that exists.
    Linked { account_id: String },
    /// Not linked; an unlinked account matches and may be adopted.
    Adopt { account_id: String, by: MatchAttribute },
    /// Not linked; an unlinked account matches but adopting is off.
    MatchedNotAdopted { account_id: String, by: MatchAttribute },
    /// Nothing to pair with: a new account is needed.
    Missing,
}

/// Pairs desired accounts (by HR id) with target accounts.
pub fn correlate<'a>(
    desired: impl IntoIterator<Item = (&'a str, &'a DesiredAccount)>,
    accounts: &[Account],
    links: &[Link],
    matching: &[MatchAttribute],
    adopt: bool,
) -> HashMap<String, Pairing> {
    let existing: HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    let by_hr: HashMap<&str, &Link> = links.iter().map(|l| (l.hr_id.as_str(), l)).collect();
    let linked_accounts: HashSet<&str> = links.iter().map(|l| l.account_id.as_str()).collect();
    // Index unlinked accounts once per attribute: no per-employee scans.
    let indexes: Vec<(MatchAttribute, HashMap<String, &str>)> = matching
        .iter()
        .map(|attribute| {
            let index = accounts
                .iter()
                .filter(|a| !linked_accounts.contains(a.id.as_str()))
                .filter_map(|a| Some((attribute.of_account(a)?.to_lowercase(), a.id.as_str())))
                .collect();
            (*attribute, index)
        })
        .collect();
    let mut claimed: HashSet<String> = HashSet::new();
    let mut pairings = HashMap::new();
    for (hr_id, wanted) in desired {
        let pairing = match by_hr.get(hr_id) {
            Some(link) if existing.contains(link.account_id.as_str()) => Pairing::Linked {
                account_id: link.account_id.clone(),
            },
            // A linked account deleted in the app: treat as unlinked.
            _ => {
                let found = indexes.iter().find_map(|(attribute, index)| {
                    let key = attribute.of_desired(wanted)?.to_lowercase();
                    let id = index.get(&key)?;
                    (!claimed.contains(*id)).then(|| (attribute, id.to_string()))
                });
                match found {
                    Some((by, account_id)) => {
                        claimed.insert(account_id.clone());
                        if adopt {
                            Pairing::Adopt { account_id, by: *by }
                        } else {
                            Pairing::MatchedNotAdopted { account_id, by: *by }
                        }
                    }
                    None => Pairing::Missing,
                }
            }
        };
        pairings.insert(hr_id.to_string(), pairing);
    }
    pairings
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn account(id: &str, email: &str) -> Account {
        Account {
            id: id.into(),
            external_id: None,
            user_name: email.into(),
            email: Some(email.into()),
            first_name: None,
            last_name: None,
            active: true,
            attributes: vec![],
            manager_id: None,
        }
    }

    fn desired(hr_id: &str, email: &str) -> DesiredAccount {
        DesiredAccount {
            external_id: hr_id.into(),
            user_name: email.into(),
            email: Some(email.into()),
            first_name: "F".into(),
            last_name: "L".into(),
            attributes: vec![],
            create_only: vec![],
            teams: vec![],
            manager_hr_id: None,
        }
    }

    fn pair(
        wanted: &[(&str, DesiredAccount)],
        accounts: &[Account],
        links: &[Link],
        order: &[MatchAttribute],
        adopt: bool,
    ) -> HashMap<String, Pairing> {
        correlate(wanted.iter().map(|(id, d)| (*id, d)), accounts, links, order, adopt)
    }

    #[test]
    fn links_first_then_matching_case_insensitive() {
        let accounts = [account("a1", "linked@example.com"), account("a2", "Manual@Example.com")];
        let links = [Link {
            hr_id: "1".into(),
            account_id: "a1".into(),
            origin: LinkOrigin::Created,
        }];
        let wanted = [
            ("1", desired("1", "changed@example.com")),
            ("2", desired("2", "manual@example.com")),
            ("3", desired("3", "new@example.com")),
        ];
        let pairings = pair(&wanted, &accounts, &links, &[MatchAttribute::Email], true);
        assert_eq!(
            pairings["1"],
            Pairing::Linked {
                account_id: "a1".into()
            }
        );
        assert_eq!(
            pairings["2"],
            Pairing::Adopt {
                account_id: "a2".into(),
                by: MatchAttribute::Email
            }
        );
        assert_eq!(pairings["3"], Pairing::Missing);
    }

    #[test]
    fn matching_never_takes_over_when_adopt_is_off_or_the_account_is_linked() {
        let accounts = [account("a1", "ada@example.com"), account("a2", "bob@example.com")];
        let links = [Link {
            hr_id: "9".into(),
            account_id: "a2".into(),
            origin: LinkOrigin::Adopted,
        }];
        let wanted = [
            ("1", desired("1", "ada@example.com")),
            ("2", desired("2", "bob@example.com")),
        ];
        let pairings = pair(&wanted, &accounts, &links, &[MatchAttribute::Email], false);
        assert_eq!(
            pairings["1"],
            Pairing::MatchedNotAdopted {
                account_id: "a1".into(),
                by: MatchAttribute::Email
            }
        );
        assert_eq!(pairings["2"], Pairing::Missing, "a2 belongs to employee 9");
    }

    #[test]
    fn attributes_are_tried_in_order_and_each_account_is_claimed_once() {
        let mut by_external = account("a1", "other@example.com");
        by_external.external_id = Some("1".into());
        let accounts = [by_external, account("a2", "ada@example.com")];
        let wanted = [
            ("1", desired("1", "ada@example.com")),
            ("2", desired("2", "ada@example.com")),
        ];
        let order = [MatchAttribute::ExternalId, MatchAttribute::Email];
        let pairings = pair(&wanted, &accounts, &[], &order, true);
        assert_eq!(
            pairings["1"],
            Pairing::Adopt {
                account_id: "a1".into(),
                by: MatchAttribute::ExternalId
            }
        );
        assert_eq!(
            pairings["2"],
            Pairing::Adopt {
                account_id: "a2".into(),
                by: MatchAttribute::Email
            }
        );
    }

    #[test]
    fn a_link_to_a_deleted_account_falls_back_to_matching() {
        let accounts = [account("a7", "ada@example.com")];
        let links = [Link {
            hr_id: "1".into(),
            account_id: "gone".into(),
            origin: LinkOrigin::Created,
        }];
        let wanted = [("1", desired("1", "ada@example.com"))];
        let pairings = pair(&wanted, &accounts, &links, &[MatchAttribute::Email], true);
        assert_eq!(
            pairings["1"],
            Pairing::Adopt {
                account_id: "a7".into(),
                by: MatchAttribute::Email
            }
        );
    }
}
