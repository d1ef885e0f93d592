//! Step 6 of a run: the diff of what the rules want against what the target
//! has. Accounts first (create, update of owned fields, deactivate,
//! reactivate), then — once every account has an id — teams, memberships
//! and manager links. Safety checks (the deletion threshold) run here; a
//! dry run stops after the plan.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::correlate::{CorrelateInputs, Correlation, Link, LinkOrigin, MatchAttribute, Pairing};
use super::identity::{normalize, AccountKeys};
use hrsync_model::{
    Account, AccountDraft, AccountUpdate, Attribute, AttributeValue, Change, DesiredAccount, EmployeeStatus,
    FieldChange, ManagerLink, Membership, Team, TeamDraft,
};

/// Teams the integration manages carry this external-id prefix; teams
/// without it were made by hand and are left alone.
pub const MANAGED_TEAM_PREFIX: &str = "hrsync:";

/// What the integration may do, as its file (`[options]`) and the admin
/// API (`options`) spell it. `integration.rs` checks it and derives the
/// run's settings from it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Create accounts for new employees in scope.
    pub create: bool,
    /// The HR statuses whose employees get a new account: `["active"]`
    /// keeps a benefits wallet closed until the first day, while a
    /// learning app may prepare it during `onboarding`. Accounts that
    /// exist are kept up to date whatever the status.
    #[schema(value_type = Vec<String>, example = json!(["active"]))]
    pub create_for: Vec<EmployeeStatus>,
    /// Deactivate accounts of leavers.
    pub deactivate: bool,
    /// Reactivate accounts of returning employees (off by default).
    pub reactivate: bool,
    /// Ask the app to send its invitation when it creates an account (off
    /// by default).
    pub invite: bool,
    /// Take over existing accounts that match an employee (on by default).
    pub adopt: bool,
    /// Account attributes to match existing accounts by, in order.
    #[serde(rename = "match")]
    #[schema(rename = "match")]
    pub match_by: Vec<String>,
    /// Stop before apply when more than this share of managed accounts
    /// would be deactivated.
    pub deletion_threshold_percent: u32,
    /// ... or more than this many.
    pub deletion_threshold_count: Option<u32>,
    /// A run that rejects a larger share of the employees it read (records
    /// the source or the rules could not take) ends `succeeded with
    /// rejections` — exit code 3 — instead of `succeeded`; 0 counts any.
    pub rejected_threshold_percent: u32,
    /// Records per page asked of the source and the target.
    pub page_size: u32,
    /// Incremental runs in between; 0 makes every run a full read.
    pub full_read_every_hours: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            create: true,
            create_for: vec![
                EmployeeStatus::Onboarding,
                EmployeeStatus::Active,
                EmployeeStatus::Leave,
            ],
            deactivate: true,
            reactivate: false,
            invite: false,
            adopt: true,
            match_by: vec!["email".into()],
            deletion_threshold_percent: 10,
            deletion_threshold_count: None,
            rejected_threshold_percent: 0,
            page_size: 200,
            full_read_every_hours: 24.0,
        }
    }
}

/// The rules' verdict for one employee read from the source.
#[derive(Debug, Clone)]
pub enum Verdict {
    InScope {
        status: EmployeeStatus,
        desired: DesiredAccount,
    },
    Excluded {
        reason: String,
    },
}

/// One change of the plan, with the employee it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub hr_id: Option<String>,
    pub change: Change,
}

/// An employee the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub hr_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct AccountPlan {
    pub changes: Vec<Planned>,
    pub skipped: Vec<Skipped>,
    /// Links to record when the plan is applied (adopted accounts).
    pub adopted: Vec<Link>,
    /// HR ids whose links are dropped: excluded employees are disconnected,
    /// not deactivated.
    pub disconnected: Vec<String>,
    /// Employees whose accounts this run leaves exactly as they are — a
    /// conflict, no valid e-mail, a record that could not be read, an
    /// exclusion of an account linked by hand: their teams and manager too.
    pub held: HashSet<String>,
}

/// Why a plan must not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "stopped before apply: {deactivations} of {managed} managed accounts would be deactivated, more than the \
         deletion threshold ({threshold}); check the source read and rules, or raise the threshold"
    )]
    DeletionThreshold {
        deactivations: usize,
        managed: usize,
        threshold: String,
    },
}

/// How much of the source was read: only a full read may deactivate
/// employees for being absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadKind {
    #[default]
    Full,
    Incremental,
}

pub struct AccountInputs<'a> {
    pub verdicts: &'a BTreeMap<String, Verdict>,
    /// HR ids the source reported but could not read: never touched.
    pub rejected: &'a HashSet<String>,
    /// HR ids an incremental read reports deleted in the HR system.
    pub removed: &'a HashSet<String>,
    /// Employees in scope who cannot have an account, and why (no valid
    /// e-mail; see `identity.rs`).
    pub no_account: &'a BTreeMap<String, String>,
    pub correlation: &'a Correlation,
    pub accounts: &'a [Account],
    pub links: &'a [Link],
    pub read: ReadKind,
    pub options: &'a Options,
    /// Whether the target supports reactivation.
    pub can_reactivate: bool,
    /// Whether the target sends invitations: a draft asks for one only then.
    pub can_invite: bool,
}

/// What correlation needs to know of a run's employees: who wants an
/// account (in scope, not inactive, with an identity), whose account may go
/// to a rehire (inactive, gone, or not read with a deactivated account) and
/// whose link is dropped (excluded, unless linked by hand).
#[allow(clippy::too_many_arguments)]
pub fn correlation_inputs<'a>(
    verdicts: &'a BTreeMap<String, Verdict>,
    no_account: &BTreeMap<String, String>,
    removed: &HashSet<String>,
    read: ReadKind,
    accounts: &'a [Account],
    links: &'a [Link],
    matching: &'a [MatchAttribute],
    adopt: bool,
) -> CorrelateInputs<'a> {
    let mut wanting = Vec::new();
    let mut leaving = HashSet::new();
    for (hr_id, verdict) in verdicts {
        match verdict {
            Verdict::InScope { status, .. } if *status == EmployeeStatus::Inactive => {
                leaving.insert(hr_id.as_str());
            }
            Verdict::InScope { desired, .. } if !no_account.contains_key(hr_id) => {
                wanting.push((hr_id.as_str(), desired))
            }
            _ => {}
        }
    }
    let inactive: HashSet<&str> = accounts.iter().filter(|a| !a.active).map(|a| a.id.as_str()).collect();
    let mut disconnected = HashSet::new();
    for link in links {
        match verdicts.get(&link.hr_id) {
            Some(Verdict::Excluded { .. }) if link.origin != LinkOrigin::Manual => {
                disconnected.insert(link.hr_id.as_str());
            }
            Some(_) => {}
            None => {
                let gone = match read {
                    ReadKind::Full => true,
                    ReadKind::Incremental => removed.contains(&link.hr_id),
                };
                if gone || inactive.contains(link.account_id.as_str()) {
                    leaving.insert(link.hr_id.as_str());
                }
            }
        }
    }
    CorrelateInputs {
        wanting,
        leaving,
        disconnected,
        accounts,
        links,
        matching,
        adopt,
    }
}

/// Plans account creates, updates, deactivations and reactivations.
/// Creates come last, so that an update that frees an e-mail (someone
/// changed theirs) goes out before the create that takes it.
pub fn plan_accounts(input: AccountInputs<'_>) -> Result<AccountPlan, PlanError> {
    let options = input.options;
    let accounts: HashMap<&str, &Account> = input.accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut plan = AccountPlan::default();
    let mut creates = Vec::new();
    let mut deactivations = 0usize;
    let link_of: HashMap<&str, &Link> = input.links.iter().map(|l| (l.hr_id.as_str(), l)).collect();
    let moved_away: HashSet<&str> = input.correlation.moves.iter().map(|m| m.from.as_str()).collect();
    plan.held.extend(input.rejected.iter().cloned());
    let skip = |plan: &mut AccountPlan, hr_id: &str, reason: String| {
        plan.skipped.push(Skipped {
            hr_id: hr_id.to_string(),
            reason,
        });
    };
    for (hr_id, verdict) in input.verdicts {
        let hr = Some(hr_id.clone());
        let link = link_of.get(hr_id.as_str());
        let (status, desired) = match verdict {
            Verdict::Excluded { reason } => match link {
                Some(link) if link.origin == LinkOrigin::Manual => {
                    plan.held.insert(hr_id.clone());
                    skip(
                        &mut plan,
                        hr_id,
                        format!("excluded: {reason} (the account stays linked by hand and is left as it is)"),
                    );
                    continue;
                }
                Some(_) => {
                    plan.disconnected.push(hr_id.clone());
                    skip(&mut plan, hr_id, format!("excluded: {reason}"));
                    continue;
                }
                None => {
                    skip(&mut plan, hr_id, format!("excluded: {reason}"));
                    continue;
                }
            },
            Verdict::InScope { status, desired } => (*status, desired),
        };
        if status == EmployeeStatus::Inactive {
            // A leaver: its account is deactivated, unless a rehire with the
            // same e-mail took it this run.
            let Some(link) = link.filter(|_| !moved_away.contains(hr_id.as_str())) else {
                continue;
            };
            let active = accounts.get(link.account_id.as_str()).is_some_and(|a| a.active);
            if active && options.deactivate {
                deactivations += 1;
                plan.changes.push(Planned {
                    hr_id: hr,
                    change: Change::DeactivateAccount(link.account_id.clone()),
                });
            }
            continue;
        }
        if let Some(reason) = input.no_account.get(hr_id) {
            if link.is_some() {
                plan.held.insert(hr_id.clone());
            }
            skip(&mut plan, hr_id, reason.clone());
            continue;
        }
        let Some(pairing) = input.correlation.pairings.get(hr_id) else {
            // A conflict: reported as such; whatever it has stays as it is.
            plan.held.insert(hr_id.clone());
            continue;
        };
        let account_id = match pairing {
            Pairing::Linked { account_id } => Some(account_id.clone()),
            Pairing::Adopt { account_id, .. } => {
                let keys = accounts
                    .get(account_id.as_str())
                    .map(|a| AccountKeys::of_account(a))
                    .unwrap_or_default();
                plan.adopted.push(Link {
                    hr_id: hr_id.clone(),
                    account_id: account_id.clone(),
                    origin: LinkOrigin::Adopted,
                    keys,
                });
                Some(account_id.clone())
            }
            Pairing::MatchedNotAdopted { account_id, by } => {
                skip(
                    &mut plan,
                    hr_id,
                    format!("account {account_id} matches by {by} but adopting existing accounts is off"),
                );
                continue;
            }
            Pairing::Missing => None,
        };
        let Some(id) = account_id else {
            if !options.create_for.contains(&status) {
                let wanted: Vec<&str> = options.create_for.iter().map(|s| s.as_str()).collect();
                skip(
                    &mut plan,
                    hr_id,
                    format!(
                        "status {}: accounts are created for {} (create_for)",
                        status.as_str(),
                        wanted.join(", ")
                    ),
                );
            } else if options.create {
                creates.push(Planned {
                    hr_id: hr,
                    change: Change::CreateAccount(draft(desired, options.invite && input.can_invite)),
                });
            } else {
                skip(&mut plan, hr_id, "no account and auto-create is off".into());
            }
            continue;
        };
        let Some(account) = accounts.get(id.as_str()) else {
            continue;
        };
        if !account.active {
            if !(options.reactivate && input.can_reactivate) {
                skip(
                    &mut plan,
                    hr_id,
                    "account is deactivated and reactivation is off".into(),
                );
                continue;
            }
            plan.changes.push(Planned {
                hr_id: hr.clone(),
                change: Change::ReactivateAccount(id.clone()),
            });
        }
        let manual = link.is_some_and(|l| l.origin == LinkOrigin::Manual);
        let changes = diff(desired, account, !manual);
        if !changes.is_empty() {
            plan.changes.push(Planned {
                hr_id: hr,
                change: Change::UpdateAccount(AccountUpdate { id, changes }),
            });
        }
    }
    // Employees gone from the HR system: a full read tells by absence, an
    // incremental one only by the deletions the source reports; a record
    // the source could not read is not gone.
    if options.deactivate {
        for link in input.links {
            let gone = match input.read {
                ReadKind::Full => !input.verdicts.contains_key(&link.hr_id),
                ReadKind::Incremental => input.removed.contains(&link.hr_id),
            };
            if !gone || input.rejected.contains(&link.hr_id) || moved_away.contains(link.hr_id.as_str()) {
                continue;
            }
            if accounts.get(link.account_id.as_str()).is_some_and(|a| a.active) {
                deactivations += 1;
                plan.changes.push(Planned {
                    hr_id: Some(link.hr_id.clone()),
                    change: Change::DeactivateAccount(link.account_id.clone()),
                });
            }
        }
    }
    check_threshold(deactivations, input.links.len() + plan.adopted.len(), options)?;
    plan.changes.append(&mut creates);
    Ok(plan)
}

fn check_threshold(deactivations: usize, managed: usize, options: &Options) -> Result<(), PlanError> {
    let over_percent = deactivations * 100 > options.deletion_threshold_percent as usize * managed;
    let over_count = options
        .deletion_threshold_count
        .is_some_and(|max| deactivations > max as usize);
    if deactivations > 0 && (over_percent || over_count) {
        let mut threshold = format!("{}%", options.deletion_threshold_percent);
        if let Some(max) = options.deletion_threshold_count {
            threshold.push_str(&format!(" or {max} accounts"));
        }
        return Err(PlanError::DeletionThreshold {
            deactivations,
            managed,
            threshold,
        });
    }
    Ok(())
}

fn draft(desired: &DesiredAccount, invite: bool) -> AccountDraft {
    let mut attributes = desired.attributes.clone();
    attributes.extend(desired.create_only.iter().cloned());
    AccountDraft {
        external_id: desired.external_id.clone(),
        user_name: desired.user_name.clone(),
        email: desired.email.clone(),
        first_name: desired.first_name.clone(),
        last_name: desired.last_name.clone(),
        attributes,
        invite,
    }
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::Text(value.to_string())
}

/// `a` and `b` say the same, however typed (targets often return text).
fn same(a: &AttributeValue, b: &AttributeValue) -> bool {
    a == b || a.to_text() == b.to_text()
}

/// Changes to the fields the integration owns; anything else on the account
/// is left as it is. Create-only attributes are never compared; the e-mail
/// and user name only with `identity` (not for accounts linked by hand).
pub fn diff(desired: &DesiredAccount, account: &Account, identity: bool) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut compare = |field: &str, want: Option<&str>, have: Option<&str>, case_insensitive: bool| {
        let equal = match (want, have) {
            (Some(w), Some(h)) if case_insensitive => w.eq_ignore_ascii_case(h) || normalize(w) == normalize(h),
            (w, h) => w == h,
        };
        if !equal && want.is_some() {
            changes.push(FieldChange {
                field: field.into(),
                before: have.map(text),
                after: want.map(text),
            });
        }
    };
    compare(
        "first_name",
        Some(&desired.first_name),
        account.first_name.as_deref(),
        false,
    );
    compare(
        "last_name",
        Some(&desired.last_name),
        account.last_name.as_deref(),
        false,
    );
    if identity {
        compare("email", desired.email.as_deref(), account.email.as_deref(), true);
        compare("user_name", Some(&desired.user_name), Some(&account.user_name), true);
    }
    compare(
        "external_id",
        Some(&desired.external_id),
        account.external_id.as_deref(),
        false,
    );
    for Attribute { name, value } in &desired.attributes {
        let have = account.attributes.iter().find(|a| &a.name == name).map(|a| &a.value);
        if !have.is_some_and(|h| same(h, value)) {
            changes.push(FieldChange {
                field: name.clone(),
                before: have.cloned(),
                after: Some(value.clone()),
            });
        }
    }
    changes
}

/// Teams to create: every desired team name that no managed team has yet.
pub fn plan_teams(desired_teams: &BTreeSet<String>, teams: &[Team]) -> Vec<Box<Planned>> {
    let existing: HashSet<&str> = teams
        .iter()
        .filter(|t| is_managed(t))
        .map(|t| t.name.as_str())
        .collect();
    desired_teams
        .iter()
        .filter(|name| !existing.contains(name.as_str()))
        .map(|name| {
            Box::new(Planned {
                hr_id: None,
                change: Change::CreateTeam(TeamDraft {
                    name: name.clone(),
                    external_id: Some(format!("{MANAGED_TEAM_PREFIX}{name}")),
                }),
            })
        })
        .collect()
}

pub fn is_managed(team: &Team) -> bool {
    team.external_id
        .as_deref()
        .is_some_and(|id| id.starts_with(MANAGED_TEAM_PREFIX))
}

/// Memberships of managed teams: add desired members, remove managed
/// accounts that no longer belong. Members added by hand (accounts the
/// integration does not manage) stay.
pub fn plan_memberships(
    wanted: &BTreeMap<&str, BTreeSet<&str>>,
    teams: &[Team],
    managed_accounts: &HashSet<&str>,
) -> Vec<Box<Planned>> {
    let mut changes = Vec::new();
    let nobody = BTreeSet::new();
    for team in teams.iter().filter(|t| is_managed(t)) {
        let want = wanted.get(team.name.as_str()).unwrap_or(&nobody);
        let have: BTreeSet<&str> = team.member_ids.iter().map(String::as_str).collect();
        for account_id in want.difference(&have) {
            changes.push(Box::new(Planned {
                hr_id: None,
                change: Change::AddMember(Membership {
                    team_id: team.id.clone(),
                    account_id: account_id.to_string(),
                }),
            }));
        }
        for account_id in have.difference(want).filter(|id| managed_accounts.contains(*id)) {
            changes.push(Box::new(Planned {
                hr_id: None,
                change: Change::RemoveMember(Membership {
                    team_id: team.id.clone(),
                    account_id: account_id.to_string(),
                }),
            }));
        }
    }
    changes
}

/// Something a run noticed in the data and worked around: a manager left
/// unset, an invalid e-mail left out (for one employee), a field the source
/// could not read (for the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub hr_id: Option<String>,
    pub message: String,
}

/// Where an employee's supervisor stands, when it is not among the
/// employees this run syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorStanding {
    /// Not synced this run, but linked to an account (not read on an
    /// incremental run, or a record left as it is).
    Linked,
    /// Read, but it has no account: why.
    OutOfScope(String),
    /// Nowhere: not in the HR read and not linked.
    Unknown,
}

/// Each synced employee's manager by HR id — `None` leaves the manager
/// unset — from `supervisors` (employee → supervisor, both HR ids). A
/// supervisor that does not exist, is out of scope, or closes a cycle
/// leaves the manager unset, with a note saying why; never a failed run,
/// never a loop.
pub fn reporting_lines<'a>(
    supervisors: &HashMap<&'a str, Option<&'a str>>,
    standing: impl Fn(&str) -> SupervisorStanding,
    full_read: bool,
) -> (HashMap<&'a str, Option<&'a str>>, Vec<Note>) {
    let mut managers: HashMap<&'a str, Option<&'a str>> = HashMap::with_capacity(supervisors.len());
    let mut notes = Vec::new();
    let mut note = |hr_id: &str, message: String| {
        notes.push(Note {
            hr_id: Some(hr_id.to_string()),
            message,
        })
    };
    for (hr_id, supervisor) in supervisors {
        let manager = match supervisor {
            None => None,
            Some(boss) if supervisors.contains_key(boss) => Some(*boss),
            Some(boss) => match standing(boss) {
                SupervisorStanding::Linked => Some(*boss),
                SupervisorStanding::OutOfScope(why) => {
                    note(hr_id, format!("manager left unset: supervisor {boss} {why}"));
                    None
                }
                SupervisorStanding::Unknown if full_read => {
                    note(
                        hr_id,
                        format!("manager left unset: supervisor {boss} is not in the HR read"),
                    );
                    None
                }
                SupervisorStanding::Unknown => {
                    note(hr_id, format!("manager left unset: supervisor {boss} has no account"));
                    None
                }
            },
        };
        managers.insert(hr_id, manager);
    }
    // Cycles (someone their own supervisor, or A → B → A): walk each chain
    // once; the members of a cycle get no manager.
    let mut done: HashSet<&str> = HashSet::new();
    let mut in_cycle: Vec<Vec<&str>> = Vec::new();
    for start in supervisors.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut at = Some(*start);
        while let Some(current) = at {
            if done.contains(current) {
                break;
            }
            if let Some(position) = path.iter().position(|p| *p == current) {
                // Worded from its smallest HR id, wherever the walk began.
                let mut cycle = path[position..].to_vec();
                if let Some(first) = cycle.iter().enumerate().min_by_key(|(_, id)| **id).map(|(i, _)| i) {
                    cycle.rotate_left(first);
                }
                in_cycle.push(cycle);
                break;
            }
            path.push(current);
            at = managers
                .get(current)
                .copied()
                .flatten()
                .filter(|m| supervisors.contains_key(m));
        }
        done.extend(path);
    }
    for cycle in in_cycle {
        let chain = cycle
            .iter()
            .chain(cycle.first())
            .copied()
            .collect::<Vec<_>>()
            .join(" → ");
        for hr_id in &cycle {
            managers.insert(hr_id, None);
            note(
                hr_id,
                format!("manager left unset: the supervisors form a cycle ({chain})"),
            );
        }
    }
    notes.sort_by(|a, b| a.hr_id.cmp(&b.hr_id));
    (managers, notes)
}

/// Manager links, once every account exists: `desired` maps each managed
/// account id to the account id of its manager (None: no manager).
pub fn plan_managers(desired: &BTreeMap<&str, Option<&str>>, accounts: &[Account]) -> Vec<Box<Planned>> {
    let current: HashMap<&str, Option<&str>> = accounts
        .iter()
        .map(|a| (a.id.as_str(), a.manager_id.as_deref()))
        .collect();
    desired
        .iter()
        .filter(|(id, manager)| current.get(*id).copied().flatten() != **manager)
        .map(|(id, manager)| {
            Box::new(Planned {
                hr_id: None,
                change: Change::LinkManager(ManagerLink {
                    account_id: id.to_string(),
                    manager_id: manager.map(str::to_string),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::correlate;

    fn desired(hr_id: &str, email: &str) -> DesiredAccount {
        DesiredAccount {
            external_id: hr_id.into(),
            user_name: email.into(),
            email: Some(email.into()),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            attributes: vec![Attribute {
                name: "department".into(),
                value: text("IT"),
            }],
            create_only: vec![Attribute {
                name: "preferred_language".into(),
                value: text("de"),
            }],
            teams: vec![],
            manager_hr_id: None,
        }
    }

    fn account_for(id: &str, d: &DesiredAccount, active: bool) -> Account {
        Account {
            id: id.into(),
            external_id: Some(d.external_id.clone()),
            user_name: d.user_name.clone(),
            email: d.email.clone(),
            first_name: Some(d.first_name.clone()),
            last_name: Some(d.last_name.clone()),
            active,
            attributes: d.attributes.clone(),
            manager_id: None,
        }
    }

    fn link(hr: &str, account: &str) -> Link {
        Link {
            hr_id: hr.into(),
            account_id: account.into(),
            origin: LinkOrigin::Created,
            keys: AccountKeys::default(),
        }
    }

    struct World {
        verdicts: BTreeMap<String, Verdict>,
        accounts: Vec<Account>,
        links: Vec<Link>,
        rejected: HashSet<String>,
        removed: HashSet<String>,
        options: Options,
        read: ReadKind,
    }

    impl World {
        fn new() -> Self {
            Self {
                verdicts: BTreeMap::new(),
                accounts: vec![],
                links: vec![],
                rejected: HashSet::new(),
                removed: HashSet::new(),
                options: Options {
                    deletion_threshold_percent: 100,
                    ..Options::default()
                },
                read: ReadKind::Full,
            }
        }
        fn employee(&mut self, hr: &str, status: EmployeeStatus) -> DesiredAccount {
            let d = desired(hr, &format!("e{hr}@example.com"));
            self.verdicts.insert(
                hr.into(),
                Verdict::InScope {
                    status,
                    desired: d.clone(),
                },
            );
            d
        }
        fn plan(&self) -> Result<AccountPlan, PlanError> {
            let no_account = BTreeMap::new();
            let correlation = correlate(correlation_inputs(
                &self.verdicts,
                &no_account,
                &self.removed,
                self.read,
                &self.accounts,
                &self.links,
                &[MatchAttribute::Email],
                self.options.adopt,
            ));
            plan_accounts(AccountInputs {
                verdicts: &self.verdicts,
                rejected: &self.rejected,
                removed: &self.removed,
                no_account: &no_account,
                correlation: &correlation,
                accounts: &self.accounts,
                links: &self.links,
                read: self.read,
                options: &self.options,
                can_reactivate: true,
                can_invite: true,
            })
        }
    }

    #[test]
    fn active_and_onboarding_get_accounts_inactive_do_not() {
        let mut world = World::new();
        world.employee("1", EmployeeStatus::Active);
        world.employee("2", EmployeeStatus::Onboarding);
        world.employee("3", EmployeeStatus::Inactive);
        let plan = world.plan().unwrap();
        let created: Vec<_> = plan
            .changes
            .iter()
            .filter(|p| matches!(p.change, Change::CreateAccount(_)))
            .map(|p| p.hr_id.clone().unwrap())
            .collect();
        assert_eq!(created, ["1", "2"]);
        let Change::CreateAccount(draft) = &plan.changes[0].change else {
            unreachable!()
        };
        assert!(
            draft.attributes.iter().any(|a| a.name == "preferred_language"),
            "create-only attributes go into the create"
        );
        assert!(
            plan.skipped.is_empty(),
            "an inactive employee without an account needs nothing"
        );
    }

    #[test]
    fn create_for_decides_which_statuses_get_a_new_account_and_existing_ones_stay_managed() {
        let mut world = World::new();
        world.options.create_for = vec![EmployeeStatus::Active];
        world.employee("1", EmployeeStatus::Active);
        world.employee("2", EmployeeStatus::Onboarding);
        world.employee("3", EmployeeStatus::Leave);
        // Onboarding, but the account exists already (made by hand, say).
        let mut d4 = world.employee("4", EmployeeStatus::Onboarding);
        let account = account_for("a4", &d4, true);
        d4.last_name = "Renamed".into();
        world.verdicts.insert(
            "4".into(),
            Verdict::InScope {
                status: EmployeeStatus::Onboarding,
                desired: d4,
            },
        );
        world.accounts = vec![account];
        world.links = vec![link("4", "a4")];
        let plan = world.plan().unwrap();
        let created: Vec<_> = plan
            .changes
            .iter()
            .filter(|p| matches!(p.change, Change::CreateAccount(_)))
            .map(|p| p.hr_id.clone().unwrap())
            .collect();
        assert_eq!(created, ["1"]);
        assert!(
            plan.changes
                .iter()
                .any(|p| p.hr_id.as_deref() == Some("4") && matches!(p.change, Change::UpdateAccount(_))),
            "an existing account is kept up to date: {:?}",
            plan.changes
        );
        let reasons: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.hr_id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("2", "status onboarding: accounts are created for active (create_for)"),
                ("3", "status leave: accounts are created for active (create_for)"),
            ]
        );

        // Once active, the account is created.
        world.accounts.clear();
        world.links.clear();
        world.verdicts.clear();
        world.employee("2", EmployeeStatus::Active);
        let plan = world.plan().unwrap();
        assert!(matches!(
            plan.changes[..],
            [Planned {
                change: Change::CreateAccount(_),
                ..
            }]
        ));
    }

    #[test]
    fn unchanged_state_plans_nothing_and_leave_keeps_the_account() {
        let mut world = World::new();
        let d1 = world.employee("1", EmployeeStatus::Active);
        let d2 = world.employee("2", EmployeeStatus::Leave);
        world.accounts = vec![account_for("a1", &d1, true), account_for("a2", &d2, true)];
        world.links = vec![link("1", "a1"), link("2", "a2")];
        let plan = world.plan().unwrap();
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    }

    #[test]
    fn owned_fields_are_overwritten_others_left_alone() {
        let mut world = World::new();
        let d = world.employee("1", EmployeeStatus::Active);
        let mut account = account_for("a1", &d, true);
        account.last_name = Some("Edited by hand".into());
        account.attributes = vec![
            Attribute {
                name: "department".into(),
                value: text("Sales"),
            },
            Attribute {
                name: "nick_name".into(),
                value: text("Countess"),
            },
        ];
        account.email = Some("E1@EXAMPLE.COM".into());
        world.accounts = vec![account];
        world.links = vec![link("1", "a1")];
        let plan = world.plan().unwrap();
        let [Planned {
            change: Change::UpdateAccount(update),
            ..
        }] = plan.changes.as_slice()
        else {
            panic!("{:?}", plan.changes)
        };
        let fields: Vec<&str> = update.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["last_name", "department"],
            "e-mail compares case-insensitively; nick_name is not owned"
        );
    }

    #[test]
    fn leavers_and_the_gone_are_deactivated_only_if_managed() {
        let mut world = World::new();
        let d1 = world.employee("1", EmployeeStatus::Inactive);
        world.accounts = vec![
            account_for("a1", &d1, true),
            account_for("a2", &desired("2", "gone@example.com"), true),
            account_for("a9", &desired("9", "manual@example.com"), true),
        ];
        world.links = vec![link("1", "a1"), link("2", "a2")];
        let plan = world.plan().unwrap();
        let deactivated: Vec<&Change> = plan.changes.iter().map(|p| &p.change).collect();
        assert_eq!(
            deactivated,
            [
                &Change::DeactivateAccount("a1".into()),
                &Change::DeactivateAccount("a2".into())
            ]
        );
    }

    #[test]
    fn incremental_reads_and_rejected_records_never_deactivate() {
        let mut world = World::new();
        world.accounts = vec![
            account_for("a2", &desired("2", "x@example.com"), true),
            account_for("a3", &desired("3", "y@example.com"), true),
        ];
        world.links = vec![link("2", "a2"), link("3", "a3")];
        world.rejected.insert("3".into());
        world.read = ReadKind::Incremental;
        assert!(world.plan().unwrap().changes.is_empty());
        world.read = ReadKind::Full;
        let plan = world.plan().unwrap();
        assert_eq!(plan.changes.len(), 1, "only the employee that is really gone");
    }

    #[test]
    fn incremental_reads_deactivate_what_the_source_reports_deleted() {
        let mut world = World::new();
        world.accounts = vec![
            account_for("a2", &desired("2", "x@example.com"), true),
            account_for("a3", &desired("3", "y@example.com"), true),
        ];
        world.links = vec![link("2", "a2"), link("3", "a3")];
        world.read = ReadKind::Incremental;
        world.removed.insert("3".into());
        let plan = world.plan().unwrap();
        let changes: Vec<&Change> = plan.changes.iter().map(|p| &p.change).collect();
        assert_eq!(changes, [&Change::DeactivateAccount("a3".into())]);
    }

    #[test]
    fn excluded_employees_are_disconnected_not_deactivated() {
        let mut world = World::new();
        let d = desired("1", "e1@example.com");
        world.verdicts.insert(
            "1".into(),
            Verdict::Excluded {
                reason: "external".into(),
            },
        );
        world.accounts = vec![account_for("a1", &d, false)];
        world.links = vec![link("1", "a1")];
        world.options.reactivate = true;
        let plan = world.plan().unwrap();
        assert!(
            plan.changes.is_empty(),
            "no deactivation, no reactivation: {:?}",
            plan.changes
        );
        assert_eq!(plan.disconnected, ["1"]);
    }

    #[test]
    fn reactivation_only_when_enabled() {
        let mut world = World::new();
        let d = world.employee("1", EmployeeStatus::Active);
        world.accounts = vec![account_for("a1", &d, false)];
        world.links = vec![link("1", "a1")];
        let plan = world.plan().unwrap();
        assert!(plan.changes.is_empty());
        assert!(plan.skipped[0].reason.contains("reactivation is off"));
        world.options.reactivate = true;
        let plan = world.plan().unwrap();
        assert_eq!(plan.changes[0].change, Change::ReactivateAccount("a1".into()));
    }

    #[test]
    fn existing_accounts_are_adopted_or_left_alone() {
        let mut world = World::new();
        let d = world.employee("1", EmployeeStatus::Active);
        world.accounts = vec![account_for("manual", &d, true)];
        let plan = world.plan().unwrap();
        assert_eq!(
            plan.adopted,
            [Link {
                hr_id: "1".into(),
                account_id: "manual".into(),
                origin: LinkOrigin::Adopted,
                keys: AccountKeys {
                    email: Some("e1@example.com".into()),
                    user_name: Some("e1@example.com".into()),
                },
            }]
        );
        assert!(plan.changes.is_empty(), "adopted as it is, no duplicate created");
        world.options.adopt = false;
        let plan = world.plan().unwrap();
        assert!(plan.changes.is_empty() && plan.adopted.is_empty());
        assert!(plan.skipped[0].reason.contains("adopting existing accounts is off"));
    }

    #[test]
    fn deletion_threshold_stops_the_run() {
        let mut world = World::new();
        world.options.deletion_threshold_percent = 10;
        for i in 0..20 {
            let d = desired(&i.to_string(), &format!("e{i}@example.com"));
            world.accounts.push(account_for(&format!("a{i}"), &d, true));
            world.links.push(link(&i.to_string(), &format!("a{i}")));
            if i >= 3 {
                world.verdicts.insert(
                    i.to_string(),
                    Verdict::InScope {
                        status: EmployeeStatus::Active,
                        desired: d,
                    },
                );
            }
        }
        // 3 of 20 gone: 15% > 10%.
        let error = world.plan().unwrap_err();
        assert_eq!(
            error,
            PlanError::DeletionThreshold {
                deactivations: 3,
                managed: 20,
                threshold: "10%".into()
            }
        );
        assert!(error.to_string().contains("3 of 20"));
        world.options.deletion_threshold_percent = 20;
        assert!(world.plan().is_ok());
        world.options.deletion_threshold_count = Some(2);
        assert!(world.plan().is_err(), "the absolute limit applies too");
    }

    #[test]
    fn teams_memberships_and_managers() {
        let teams = vec![
            Team {
                id: "t1".into(),
                name: "Abteilung IT".into(),
                external_id: Some("hrsync:Abteilung IT".into()),
                member_ids: vec!["a1".into(), "a2".into(), "manual".into()],
            },
            Team {
                id: "t9".into(),
                name: "Hand-made".into(),
                external_id: None,
                member_ids: vec!["a1".into()],
            },
        ];
        let wanted_names: BTreeSet<String> = ["Abteilung IT".to_string(), "Abteilung Vertrieb".to_string()].into();
        let creates = plan_teams(&wanted_names, &teams);
        assert_eq!(creates.len(), 1);
        assert!(
            matches!(&creates[0].change, Change::CreateTeam(t) if t.name == "Abteilung Vertrieb" && t.external_id.as_deref() == Some("hrsync:Abteilung Vertrieb"))
        );

        let wanted: BTreeMap<&str, BTreeSet<&str>> = [("Abteilung IT", ["a1", "a3"].into())].into();
        let managed: HashSet<&str> = ["a1", "a2", "a3"].into();
        let changes: Vec<Change> = plan_memberships(&wanted, &teams, &managed)
            .into_iter()
            .map(|p| p.change)
            .collect();
        assert_eq!(
            changes,
            [
                Change::AddMember(Membership {
                    team_id: "t1".into(),
                    account_id: "a3".into()
                }),
                Change::RemoveMember(Membership {
                    team_id: "t1".into(),
                    account_id: "a2".into()
                }),
            ],
            "manual members and hand-made teams stay"
        );

        let mut a1 = account_for("a1", &desired("1", "e1@example.com"), true);
        a1.manager_id = Some("a2".into());
        let a3 = account_for("a3", &desired("3", "e3@example.com"), true);
        let desired_managers: BTreeMap<&str, Option<&str>> = [("a1", Some("a2")), ("a3", Some("a1"))].into();
        let links = plan_managers(&desired_managers, &[a1, a3]);
        assert_eq!(links.len(), 1);
        assert_eq!(
            links[0].change,
            Change::LinkManager(ManagerLink {
                account_id: "a3".into(),
                manager_id: Some("a1".into())
            })
        );
    }

    #[test]
    fn supervisors_unknown_out_of_scope_or_in_a_cycle_leave_the_manager_unset() {
        // 2 → 3 → 4 → 2 is a cycle; 1 is its own supervisor; 5 reports to
        // someone unknown, 6 to someone excluded, 7 to 2 (in the cycle: fine).
        let supervisors: HashMap<&str, Option<&str>> = [
            ("1", Some("1")),
            ("2", Some("3")),
            ("3", Some("4")),
            ("4", Some("2")),
            ("5", Some("99")),
            ("6", Some("x")),
            ("7", Some("2")),
            ("8", None),
        ]
        .into();
        let standing = |boss: &str| match boss {
            "x" => SupervisorStanding::OutOfScope("is excluded (external)".into()),
            _ => SupervisorStanding::Unknown,
        };
        let (managers, notes) = reporting_lines(&supervisors, standing, true);
        let set: Vec<(&str, Option<&str>)> = managers
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(
            set,
            [
                ("1", None),
                ("2", None),
                ("3", None),
                ("4", None),
                ("5", None),
                ("6", None),
                ("7", Some("2")),
                ("8", None)
            ]
        );
        let said = |hr: &str| {
            notes
                .iter()
                .find(|n| n.hr_id.as_deref() == Some(hr))
                .map(|n| n.message.clone())
                .unwrap_or_default()
        };
        assert_eq!(said("1"), "manager left unset: the supervisors form a cycle (1 → 1)");
        assert_eq!(
            said("3"),
            "manager left unset: the supervisors form a cycle (2 → 3 → 4 → 2)"
        );
        assert_eq!(said("5"), "manager left unset: supervisor 99 is not in the HR read");
        assert_eq!(said("6"), "manager left unset: supervisor x is excluded (external)");
        assert_eq!(notes.len(), 6, "7 and 8 are fine: {notes:?}");
    }

    #[test]
    fn an_account_linked_by_hand_keeps_its_email_and_user_name() {
        let mut world = World::new();
        let d = world.employee("1", EmployeeStatus::Active);
        let mut account = account_for("hand", &desired("1", "karl.alias@example.com"), true);
        account.last_name = Some("Old".into());
        world.accounts = vec![account];
        world.links = vec![Link {
            origin: LinkOrigin::Manual,
            ..link("1", "hand")
        }];
        let plan = world.plan().unwrap();
        let [Planned {
            change: Change::UpdateAccount(update),
            ..
        }] = plan.changes.as_slice()
        else {
            panic!("{:?}", plan.changes)
        };
        let fields: Vec<&str> = update.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["last_name"], "wanted e-mail {:?} is not written", d.email);
    }
}
