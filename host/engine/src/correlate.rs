//! Step 5 of a run: pair each employee in scope with the account it owns,
//! so that an account belongs to at most one employee, always.
//!
//! Links (by HR id) come first. An employee without one is matched against
//! the accounts nobody is linked to, by the configured attributes in order
//! (e-mail by default, trimmed and case-insensitive), and adopted where the
//! integration allows it. Before any of that, the whole read is grouped by
//! identity (e-mail and user name, see `identity.rs`): when two employees
//! want the same value — two people sharing a mailbox, a typo — neither
//! gets a new link, create or update from this run; one that already holds
//! the account keeps it and stays synced; each gets a conflict naming the
//! other. An active record wins over an inactive or vanished one with the
//! same e-mail (a rehire): the link moves to it. Manual links
//! (`hrsync link`) win over matching and claim no e-mail of their own.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use smallvec::SmallVec;

use super::identity::{normalize, AccountKeys, KeyKind};
use hrsync_model::{Account, DesiredAccount};

/// How an account came to belong to the integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOrigin {
    /// The integration created it.
    Created,
    /// It existed and was matched and adopted.
    Adopted,
    /// An admin linked it (`hrsync link`, the admin API): kept until an
    /// admin removes it, and its e-mail and user name are left as they are.
    Manual,
}

impl LinkOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkOrigin::Created => "created",
            LinkOrigin::Adopted => "adopted",
            LinkOrigin::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(LinkOrigin::Created),
            "adopted" => Some(LinkOrigin::Adopted),
            "manual" => Some(LinkOrigin::Manual),
            _ => None,
        }
    }
}

/// The durable pairing of an HR employee with a target account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub hr_id: String,
    pub account_id: String,
    pub origin: LinkOrigin,
    /// The account's e-mail and user name as last seen or written: what
    /// the account holds when a run does not read it (incremental runs).
    pub keys: AccountKeys,
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

    fn name(self) -> &'static str {
        match self {
            Self::Email => "e-mail",
            Self::UserName => "user name",
            Self::ExternalId => "external id",
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

impl std::fmt::Display for MatchAttribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an employee who wants an account stands against the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// Linked to an account that exists (possibly moved to it this run).
    Linked { account_id: String },
    /// Not linked; an account nobody is linked to matches and may be adopted.
    Adopt { account_id: String, by: MatchAttribute },
    /// Not linked; an account matches but adopting is off.
    MatchedNotAdopted { account_id: String, by: MatchAttribute },
    /// Nothing to pair with: a new account is needed.
    Missing,
}

/// Two or more employees want one account, or one e-mail or user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub hr_id: String,
    /// `e-mail k.schmidt@example.com is also the e-mail of employee 90004`
    pub message: String,
    /// Holds the account in question: keeps its link and stays synced.
    /// Otherwise the employee gets nothing from this run.
    pub keeps_account: bool,
}

/// A rehire: the account of an inactive or vanished record goes to the
/// active record with the same e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMove {
    pub account_id: String,
    pub from: String,
    pub to: String,
}

pub struct CorrelateInputs<'a> {
    /// Employees in scope who want an account, with the account they want.
    pub wanting: Vec<(&'a str, &'a DesiredAccount)>,
    /// Linked employees whose account may go to someone else: inactive in
    /// the read, gone from a full read, or not read with the account
    /// already deactivated.
    pub leaving: HashSet<&'a str>,
    /// Employees whose links this run drops (excluded by the rules).
    pub disconnected: HashSet<&'a str>,
    pub accounts: &'a [Account],
    pub links: &'a [Link],
    pub matching: &'a [MatchAttribute],
    pub adopt: bool,
}

#[derive(Debug, Default)]
pub struct Correlation {
    /// Employees who want an account and are free to get or keep it; an
    /// employee in `wanting` without a pairing is blocked by a conflict.
    pub pairings: HashMap<String, Pairing>,
    /// One per employee involved, sorted by HR id.
    pub conflicts: Vec<Conflict>,
    pub moves: Vec<LinkMove>,
}

impl Correlation {
    pub fn blocked(&self, hr_id: &str) -> bool {
        self.conflicts.iter().any(|c| c.hr_id == hr_id && !c.keeps_account)
    }
}

/// The accounts whose e-mail or user name (as the links remember them) an
/// employee of `wanting` wants: an incremental run reads these too, to
/// tell a rehire (the holder's account is deactivated) from a conflict.
pub fn holders_of<'a>(wanting: &[(&str, &DesiredAccount)], links: &'a [Link]) -> Vec<&'a str> {
    let mut wanted: [HashSet<String>; 2] = Default::default();
    for (_, desired) in wanting {
        for (kind, value) in AccountKeys::of_desired(desired).iter() {
            wanted[kind as usize].insert(value.to_string());
        }
    }
    links
        .iter()
        .filter(|l| l.keys.iter().any(|(kind, value)| wanted[kind as usize].contains(value)))
        .map(|l| l.account_id.as_str())
        .collect()
}

/// Collects each employee's conflict messages and whether it keeps its
/// account; each message with what makes it distinct.
#[derive(Default)]
struct Conflicts {
    by_employee: BTreeMap<String, (Vec<(String, String)>, bool)>,
}

impl Conflicts {
    fn add(&mut self, hr_id: &str, message: String, keeps: bool) {
        self.add_distinct(hr_id, message.clone(), message, keeps);
    }

    /// One shared value. The user name is the e-mail in most targets: a
    /// value shared with the same employees is said once.
    fn add_clash(&mut self, hr_id: &str, kind: KeyKind, value: &str, others: &[&str], keeps: bool) {
        let others = employees(others);
        let noun = kind.noun();
        let message = format!("{noun} {value} is also the {noun} of {others}");
        self.add_distinct(hr_id, format!("{value} {others}"), message, keeps);
    }

    fn add_distinct(&mut self, hr_id: &str, distinct: String, message: String, keeps: bool) {
        let entry = self
            .by_employee
            .entry(hr_id.to_string())
            .or_insert_with(|| (Vec::new(), true));
        if !entry.0.iter().any(|(d, _)| *d == distinct) {
            entry.0.push((distinct, message));
        }
        entry.1 &= keeps;
    }

    fn blocked(&self, hr_id: &str) -> bool {
        self.by_employee.get(hr_id).is_some_and(|(_, keeps)| !keeps)
    }

    fn into_list(self) -> Vec<Conflict> {
        self.by_employee
            .into_iter()
            .map(|(hr_id, (messages, keeps_account))| Conflict {
                hr_id,
                message: messages
                    .into_iter()
                    .map(|(_, message)| message)
                    .collect::<Vec<_>>()
                    .join("; "),
                keeps_account,
            })
            .collect()
    }
}

/// Who holds and who wants one value, each with the kinds (e-mail, user
/// name) they hold or want it as; nearly always one or none of each, kept
/// inline.
#[derive(Default)]
struct Stake<'a> {
    holders: SmallVec<[(&'a str, u8); 1]>,
    claimants: SmallVec<[(&'a str, u8); 1]>,
}

impl<'a> Stake<'a> {
    fn bit(kind: KeyKind) -> u8 {
        1 << kind as u8
    }

    fn join(side: &mut SmallVec<[(&'a str, u8); 1]>, hr_id: &'a str, kinds: u8) {
        match side.iter_mut().find(|(id, _)| *id == hr_id) {
            Some((_, joined)) => *joined |= kinds,
            None => side.push((hr_id, kinds)),
        }
    }

    /// Keys by value, each with the kinds it is (e-mail and user name are
    /// mostly one value).
    fn by_value<'k>(keys: impl Iterator<Item = (KeyKind, Cow<'k, str>)>) -> SmallVec<[(Cow<'k, str>, u8); 2]> {
        let mut values: SmallVec<[(Cow<'k, str>, u8); 2]> = SmallVec::new();
        for (kind, value) in keys {
            match values.iter_mut().find(|(v, _)| *v == value) {
                Some((_, kinds)) => *kinds |= Self::bit(kind),
                None => values.push((value, Self::bit(kind))),
            }
        }
        values
    }

    /// Wanted by several, or held by someone for a kind they do not want
    /// it as: worth a closer look.
    fn contested(&self) -> bool {
        match self.claimants.as_slice() {
            [] => false,
            [(claimant, wants)] => self
                .holders
                .iter()
                .any(|(holder, holds)| holder != claimant || holds & !wants != 0),
            _ => true,
        }
    }

    fn of_kind(side: &[(&'a str, u8)], kind: KeyKind) -> Vec<&'a str> {
        side.iter()
            .filter(|(_, kinds)| kinds & Self::bit(kind) != 0)
            .map(|(hr_id, _)| *hr_id)
            .collect()
    }
}

/// `employee 7` or `employees 3, 5`, sorted.
fn employees(ids: &[&str]) -> String {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    match ids.as_slice() {
        [one] => format!("employee {one}"),
        many => format!("employees {}", many.join(", ")),
    }
}

/// Pairs the employees who want an account with target accounts.
pub fn correlate(input: CorrelateInputs<'_>) -> Correlation {
    let accounts: HashMap<&str, &Account> = input.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let links: Vec<&Link> = input
        .links
        .iter()
        .filter(|l| !input.disconnected.contains(l.hr_id.as_str()))
        .collect();
    let link_of: HashMap<&str, &Link> = links.iter().map(|l| (l.hr_id.as_str(), *l)).collect();
    let wanting: HashMap<&str, &DesiredAccount> = input.wanting.iter().copied().collect();
    let manual = |hr_id: &str| link_of.get(hr_id).is_some_and(|l| l.origin == LinkOrigin::Manual);
    // Who holds each e-mail and user name (the linked account's, as read
    // now or as last remembered) and who wants it: one map over every
    // employee, by value (the user name is mostly the e-mail), borrowing.
    let mut stakes: HashMap<Cow<'_, str>, Stake<'_>> = HashMap::with_capacity(links.len() + wanting.len() / 8);
    for link in &links {
        let hr_id = link.hr_id.as_str();
        let holds = match accounts.get(link.account_id.as_str()) {
            Some(account) => Stake::by_value(AccountKeys::borrowed_of_account(account)),
            None => Stake::by_value(link.keys.iter().map(|(kind, value)| (kind, Cow::Borrowed(value)))),
        };
        let wants = match wanting.get(hr_id) {
            Some(desired) if link.origin != LinkOrigin::Manual => {
                Stake::by_value(AccountKeys::borrowed_of_desired(desired))
            }
            _ => SmallVec::new(),
        };
        // Nearly everyone wants what their account holds: one look-up.
        let settled = holds == wants;
        for (value, kinds) in holds {
            let stake = stakes.entry(value).or_default();
            Stake::join(&mut stake.holders, hr_id, kinds);
            if settled {
                Stake::join(&mut stake.claimants, hr_id, kinds);
            }
        }
        if !settled {
            for (value, kinds) in wants {
                Stake::join(&mut stakes.entry(value).or_default().claimants, hr_id, kinds);
            }
        }
    }
    for (hr_id, desired) in &wanting {
        if link_of.contains_key(hr_id) {
            continue;
        }
        for (value, kinds) in Stake::by_value(AccountKeys::borrowed_of_desired(desired)) {
            Stake::join(&mut stakes.entry(value).or_default().claimants, hr_id, kinds);
        }
    }
    // Almost every value is wanted by the one employee who holds it, or by
    // one and held by nobody: nothing to decide. The rest by kind, in a
    // fixed order, so that every run words its conflicts alike.
    let mut contested: Vec<(KeyKind, &str, Vec<&str>, Vec<&str>)> = Vec::new();
    for (value, stake) in &stakes {
        if !stake.contested() {
            continue;
        }
        for kind in [KeyKind::Email, KeyKind::UserName] {
            let (holders, claimants) = (
                Stake::of_kind(&stake.holders, kind),
                Stake::of_kind(&stake.claimants, kind),
            );
            if !claimants.is_empty() {
                contested.push((kind, value.as_ref(), holders, claimants));
            }
        }
    }
    contested.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    let mut conflicts = Conflicts::default();
    // Rehires: the account to move, by the employee it moves to.
    let mut moving: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (kind, value, holders, claimants) in contested {
        let mut firm: Vec<&str> = Vec::new();
        let mut releasing: Vec<&str> = Vec::new();
        let mut holding_claimants: Vec<&str> = Vec::new();
        for holder in &holders {
            if claimants.contains(holder) {
                holding_claimants.push(holder);
            } else if wanting.contains_key(holder) && !manual(holder) {
                // It wants another value now: this run moves it away.
            } else if input.leaving.contains(holder) {
                releasing.push(holder);
            } else {
                firm.push(holder);
            }
        }
        if let ([one], []) = (claimants.as_slice(), firm.as_slice()) {
            if !releasing.is_empty() && holding_claimants.is_empty() && !link_of.contains_key(one) {
                for from in &releasing {
                    moving.entry(one).or_default().insert(from);
                }
            }
            continue;
        }
        let involved: Vec<&str> = claimants.iter().copied().chain(firm.iter().copied()).collect();
        for hr_id in &involved {
            let others: Vec<&str> = involved.iter().copied().filter(|o| o != hr_id).collect();
            let keeps = holding_claimants.contains(hr_id) || firm.contains(hr_id);
            conflicts.add_clash(hr_id, kind, value, &others, keeps);
        }
    }

    let mut moves = Vec::new();
    let mut moved_accounts: HashMap<&str, &str> = HashMap::new();
    for (to, from) in &moving {
        if conflicts.blocked(to) {
            continue;
        }
        match from.iter().collect::<Vec<_>>().as_slice() {
            [from] => {
                let Some(link) = link_of.get(**from) else { continue };
                moved_accounts.insert(link.account_id.as_str(), to);
                moves.push(LinkMove {
                    account_id: link.account_id.clone(),
                    from: from.to_string(),
                    to: to.to_string(),
                });
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|s| **s).collect();
                conflicts.add(
                    to,
                    format!(
                        "the former {} hold this e-mail's accounts; link one by hand",
                        employees(&ids)
                    ),
                    false,
                );
            }
        }
    }

    let moved_to: HashMap<&str, &str> = moves.iter().map(|m| (m.to.as_str(), m.account_id.as_str())).collect();
    // Accounts nobody keeps: indexed once per attribute for matching.
    let taken: HashSet<&str> = links
        .iter()
        .map(|l| l.account_id.as_str())
        .chain(moved_accounts.keys().copied())
        .collect();
    let indexes: Vec<(MatchAttribute, HashMap<String, &str>)> = input
        .matching
        .iter()
        .map(|attribute| {
            let index = input
                .accounts
                .iter()
                .filter(|a| !taken.contains(a.id.as_str()))
                .filter_map(|a| Some((normalize(attribute.of_account(a)?), a.id.as_str())))
                .filter(|(key, _)| !key.is_empty())
                .collect();
            (*attribute, index)
        })
        .collect();
    let mut pairings: HashMap<String, Pairing> = HashMap::with_capacity(wanting.len());
    let mut matched: BTreeMap<&str, Vec<(&str, MatchAttribute)>> = BTreeMap::new();
    for (hr_id, desired) in &wanting {
        if conflicts.blocked(hr_id) {
            continue;
        }
        let linked = link_of
            .get(hr_id)
            .map(|l| l.account_id.as_str())
            .or_else(|| moved_to.get(hr_id).copied());
        // A linked account deleted in the app counts as no link.
        if let Some(account_id) = linked.filter(|id| accounts.contains_key(id)) {
            pairings.insert(
                hr_id.to_string(),
                Pairing::Linked {
                    account_id: account_id.to_string(),
                },
            );
            continue;
        }
        let found = indexes.iter().find_map(|(attribute, index)| {
            let key = normalize(attribute.of_desired(desired)?);
            index.get(&key).map(|id| (*id, *attribute))
        });
        match found {
            Some((account_id, by)) => matched.entry(account_id).or_default().push((hr_id, by)),
            None => {
                pairings.insert(hr_id.to_string(), Pairing::Missing);
            }
        }
    }
    for (account_id, candidates) in matched {
        if let [(hr_id, by)] = candidates.as_slice() {
            let account_id = account_id.to_string();
            let pairing = if input.adopt {
                Pairing::Adopt { account_id, by: *by }
            } else {
                Pairing::MatchedNotAdopted { account_id, by: *by }
            };
            pairings.insert(hr_id.to_string(), pairing);
            continue;
        }
        let ids: Vec<&str> = candidates.iter().map(|(hr_id, _)| *hr_id).collect();
        for (hr_id, by) in &candidates {
            let others: Vec<&str> = ids.iter().copied().filter(|o| o != hr_id).collect();
            let message = format!(
                "account {account_id} matches by {by} and also matches {}",
                employees(&others)
            );
            conflicts.add(hr_id, message, false);
        }
    }
    Correlation {
        pairings,
        conflicts: conflicts.into_list(),
        moves,
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    fn link(hr_id: &str, account: &Account, origin: LinkOrigin) -> Link {
        Link {
            hr_id: hr_id.into(),
            account_id: account.id.clone(),
            origin,
            keys: AccountKeys::of_account(account),
        }
    }

    struct Case<'a> {
        wanting: &'a [(&'a str, DesiredAccount)],
        accounts: &'a [Account],
        links: &'a [Link],
        leaving: &'a [&'a str],
        matching: &'a [MatchAttribute],
        adopt: bool,
    }

    impl<'a> Case<'a> {
        fn new(wanting: &'a [(&'a str, DesiredAccount)], accounts: &'a [Account], links: &'a [Link]) -> Self {
            Self {
                wanting,
                accounts,
                links,
                leaving: &[],
                matching: &[MatchAttribute::Email],
                adopt: true,
            }
        }

        fn run(&self) -> Correlation {
            correlate(CorrelateInputs {
                wanting: self.wanting.iter().map(|(id, d)| (*id, d)).collect(),
                leaving: self.leaving.iter().copied().collect(),
                disconnected: HashSet::new(),
                accounts: self.accounts,
                links: self.links,
                matching: self.matching,
                adopt: self.adopt,
            })
        }
    }

    fn linked(id: &str) -> Pairing {
        Pairing::Linked { account_id: id.into() }
    }

    #[test]
    fn links_first_then_matching_trimmed_and_case_insensitive() {
        let accounts = [
            account("a1", "linked@example.com"),
            account("a2", " Manual@Example.com"),
        ];
        let links = [link("1", &accounts[0], LinkOrigin::Created)];
        let wanting = [
            ("1", desired("1", "changed@example.com")),
            ("2", desired("2", "manual@example.com")),
            ("3", desired("3", "new@example.com")),
        ];
        let c = Case::new(&wanting, &accounts, &links).run();
        assert_eq!(c.pairings["1"], linked("a1"));
        assert_eq!(
            c.pairings["2"],
            Pairing::Adopt {
                account_id: "a2".into(),
                by: MatchAttribute::Email
            }
        );
        assert_eq!(c.pairings["3"], Pairing::Missing);
        assert!(c.conflicts.is_empty());
    }

    #[test]
    fn matching_never_takes_a_linked_account_or_adopts_when_off() {
        let accounts = [account("a1", "ada@example.com"), account("a2", "bob@example.com")];
        let links = [link("9", &accounts[1], LinkOrigin::Adopted)];
        let wanting = [("1", desired("1", "ada@example.com"))];
        let mut case = Case::new(&wanting, &accounts, &links);
        case.adopt = false;
        let c = case.run();
        assert_eq!(
            c.pairings["1"],
            Pairing::MatchedNotAdopted {
                account_id: "a1".into(),
                by: MatchAttribute::Email
            }
        );
    }

    #[test]
    fn two_people_sharing_an_email_get_conflicts_and_nothing_else() {
        let accounts = [account("a1", "k.schmidt@example.com")];
        // Nobody linked: neither adopts, neither is created.
        let wanting = [
            ("90001", desired("90001", "k.schmidt@example.com")),
            ("90004", desired("90004", " K.Schmidt@EXAMPLE.com")),
            ("90007", desired("90007", "other@example.com")),
        ];
        let c = Case::new(&wanting, &accounts, &[]).run();
        assert_eq!(c.pairings.len(), 1, "{:?}", c.pairings);
        assert_eq!(c.pairings["90007"], Pairing::Missing);
        let messages: Vec<(&str, &str, bool)> = c
            .conflicts
            .iter()
            .map(|c| (c.hr_id.as_str(), c.message.as_str(), c.keeps_account))
            .collect();
        assert_eq!(
            messages,
            [
                (
                    "90001",
                    "e-mail k.schmidt@example.com is also the e-mail of employee 90004",
                    false
                ),
                (
                    "90004",
                    "e-mail k.schmidt@example.com is also the e-mail of employee 90001",
                    false
                ),
            ]
        );
    }

    #[test]
    fn the_employee_holding_the_account_keeps_it() {
        let accounts = [account("a1", "k.schmidt@example.com")];
        let links = [link("90001", &accounts[0], LinkOrigin::Created)];
        let wanting = [
            ("90001", desired("90001", "k.schmidt@example.com")),
            ("90004", desired("90004", "k.schmidt@example.com")),
            ("90005", desired("90005", "K.SCHMIDT@example.com")),
        ];
        let c = Case::new(&wanting, &accounts, &links).run();
        assert_eq!(c.pairings.len(), 1);
        assert_eq!(c.pairings["90001"], linked("a1"));
        assert!(c.conflicts[0].keeps_account && c.conflicts[0].message.contains("employees 90004, 90005"));
        assert!(!c.blocked("90001") && c.blocked("90004") && c.blocked("90005"));
    }

    #[test]
    fn a_new_employee_wanting_an_email_held_by_someone_not_read_is_a_conflict() {
        // Incremental run: employee 7 is not read; the link remembers its e-mail.
        let held = account("a7", "anna@example.com");
        let links = [link("7", &held, LinkOrigin::Created)];
        let wanting = [("8", desired("8", "Anna@example.com"))];
        let c = Case::new(&wanting, &[], &links).run();
        assert!(c.pairings.is_empty());
        assert_eq!(c.conflicts.len(), 2);
        assert!(c.conflicts.iter().any(|c| c.hr_id == "7" && c.keeps_account));
        assert!(c.conflicts.iter().any(|c| c.hr_id == "8"
            && !c.keeps_account
            && c.message == "e-mail anna@example.com is also the e-mail of employee 7"));
    }

    #[test]
    fn a_rehire_takes_the_account_of_the_old_record() {
        let mut old = account("a1", "luca@example.com");
        old.active = false;
        let links = [link("100", &old, LinkOrigin::Created)];
        let wanting = [("200", desired("200", "luca@example.com"))];
        let mut case = Case::new(&wanting, std::slice::from_ref(&old), &links);
        case.leaving = &["100"];
        let c = case.run();
        assert!(c.conflicts.is_empty(), "{:?}", c.conflicts);
        assert_eq!(
            c.moves,
            [LinkMove {
                account_id: "a1".into(),
                from: "100".into(),
                to: "200".into()
            }]
        );
        assert_eq!(c.pairings["200"], linked("a1"));
        // The same data read in the other order decides the same.
        case.leaving = &["100"];
        let reversed: Vec<(&str, DesiredAccount)> = wanting.iter().rev().cloned().collect();
        case.wanting = &reversed;
        assert_eq!(case.run().moves.len(), 1);
    }

    #[test]
    fn an_email_changed_by_one_employee_can_be_taken_by_another() {
        let accounts = [account("a1", "shared@example.com")];
        let links = [link("1", &accounts[0], LinkOrigin::Created)];
        let wanting = [
            ("1", desired("1", "new@example.com")),
            ("2", desired("2", "shared@example.com")),
        ];
        let c = Case::new(&wanting, &accounts, &links).run();
        assert!(c.conflicts.is_empty());
        assert_eq!(c.pairings["1"], linked("a1"));
        assert_eq!(
            c.pairings["2"],
            Pairing::Missing,
            "created after 1's update frees the e-mail"
        );
    }

    #[test]
    fn a_manual_link_claims_no_email_and_wins_over_matching() {
        let accounts = [
            account("hand", "karl.alias@example.com"),
            account("a2", "karl@example.com"),
        ];
        let links = [link("1", &accounts[0], LinkOrigin::Manual)];
        let wanting = [("1", desired("1", "karl@example.com"))];
        let c = Case::new(&wanting, &accounts, &links).run();
        assert!(c.conflicts.is_empty());
        assert_eq!(c.pairings["1"], linked("hand"));
    }

    #[test]
    fn two_employees_matching_one_account_by_different_attributes_conflict() {
        let mut a = account("a1", "ada@example.com");
        a.external_id = Some("1".into());
        let accounts = [a];
        let wanting = [
            ("1", desired("1", "other@example.com")),
            ("2", desired("2", "ada@example.com")),
        ];
        let mut case = Case::new(&wanting, &accounts, &[]);
        case.matching = &[MatchAttribute::ExternalId, MatchAttribute::Email];
        let c = case.run();
        assert!(c.pairings.is_empty(), "{:?}", c.pairings);
        assert_eq!(c.conflicts.len(), 2);
        assert!(c.conflicts[0].message.contains("account a1 matches by external id"));
    }

    #[test]
    fn a_link_to_a_deleted_account_falls_back_to_matching() {
        let gone = account("gone", "ada@example.com");
        let accounts = [account("a7", "ada@example.com")];
        let links = [link("1", &gone, LinkOrigin::Created)];
        let wanting = [("1", desired("1", "ada@example.com"))];
        let c = Case::new(&wanting, &accounts, &links).run();
        assert_eq!(
            c.pairings["1"],
            Pairing::Adopt {
                account_id: "a7".into(),
                by: MatchAttribute::Email
            }
        );
    }
}
