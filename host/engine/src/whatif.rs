//! What-if: the plans of two variants of an integration (its rules and
//! options as they are, and a draft) over one read, compared employee by
//! employee (`run::what_if` makes the two plans).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hrsync_model::Change;

use super::record::{kind, summary};
use super::run::RunReport;

/// What differs for an employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    /// In scope now, excluded by the draft.
    NewlyExcluded,
    /// Excluded now, in scope with the draft.
    NewlyIncluded,
    /// Another account change: created, deactivated, reactivated, left as is.
    Account,
    /// Account attributes.
    Attributes,
    /// Team memberships.
    Teams,
    /// The manager.
    Manager,
}

impl Aspect {
    pub fn label(self) -> &'static str {
        match self {
            Aspect::NewlyExcluded => "newly excluded",
            Aspect::NewlyIncluded => "newly included",
            Aspect::Account => "account changes",
            Aspect::Attributes => "attribute changes",
            Aspect::Teams => "team changes",
            Aspect::Manager => "manager changes",
        }
    }

    fn of(change: &Change) -> Self {
        match change {
            Change::UpdateAccount(_) => Aspect::Attributes,
            Change::AddMember(_) | Change::RemoveMember(_) | Change::CreateTeam(_) | Change::RenameTeam(_) => {
                Aspect::Teams
            }
            Change::LinkManager(_) => Aspect::Manager,
            Change::CreateAccount(_)
            | Change::DeactivateAccount(_)
            | Change::ReactivateAccount(_)
            | Change::Invite(_) => Aspect::Account,
        }
    }
}

/// One employee the two variants treat differently.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Difference {
    pub hr_id: String,
    pub aspects: BTreeSet<Aspect>,
    /// How the current rules leave the employee: `in scope`, or the reason
    /// they are skipped or rejected.
    pub current: String,
    /// How the draft leaves them.
    pub draft: String,
    /// Changes only the current rules would make.
    pub only_current: Vec<String>,
    /// Changes only the draft would make.
    pub only_draft: Vec<String>,
}

/// The comparison.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct WhatIf {
    pub employees_read: usize,
    /// Employees per aspect (an employee may count under several).
    pub counts: BTreeMap<Aspect, usize>,
    /// Teams only one variant would create.
    pub teams_only_current: Vec<String>,
    pub teams_only_draft: Vec<String>,
    /// Every employee treated differently, by HR id.
    pub differences: Vec<Difference>,
    /// The draft's plan — what a run with it would do now: changes by kind
    /// (`create-account`, `update-account`, `add-member`, ...) ...
    pub plan_counts: BTreeMap<String, usize>,
    /// ... and the first [`PLAN_SHOWN`] changes, an update with each
    /// field's value before and after.
    pub plan: Vec<PlannedChange>,
}

/// How many of the draft's planned changes a preview lists.
pub const PLAN_SHOWN: usize = 500;

/// A change the draft would make.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PlannedChange {
    pub hr_id: Option<String>,
    /// `create-account`, `update-account`, `add-member`, ...
    pub kind: String,
    /// `update 42: title Dev → Lead`.
    pub summary: String,
}

/// Where a plan leaves each employee it does not simply sync.
fn standings(report: &RunReport) -> HashMap<&str, String> {
    let skipped = report.skipped.iter().map(|s| (s.hr_id.as_str(), s.reason.clone()));
    let rejected = report
        .rejected
        .iter()
        .filter_map(|r| Some((r.hr_id.as_deref()?, format!("rejected: {}", r.reason))));
    skipped.chain(rejected).collect()
}

/// Each employee's planned changes, as summaries (a dry run names what it
/// would create the same way in both plans).
fn changes_by_employee(report: &RunReport) -> HashMap<&str, BTreeMap<String, Aspect>> {
    let mut by_employee: HashMap<&str, BTreeMap<String, Aspect>> = HashMap::new();
    for planned in &report.planned {
        if let Some(hr_id) = planned.hr_id.as_deref() {
            by_employee
                .entry(hr_id)
                .or_default()
                .insert(summary(&planned.change), Aspect::of(&planned.change));
        }
    }
    by_employee
}

fn teams_created(report: &RunReport) -> BTreeSet<&str> {
    report
        .planned
        .iter()
        .filter_map(|p| match &p.change {
            Change::CreateTeam(team) => Some(team.name.as_str()),
            _ => None,
        })
        .collect()
}

/// Compares two dry-run plans of the same read.
pub fn compare(current: &RunReport, draft: &RunReport) -> WhatIf {
    const IN_SCOPE: &str = "in scope";
    let (standing_current, standing_draft) = (standings(current), standings(draft));
    let (changes_current, changes_draft) = (changes_by_employee(current), changes_by_employee(draft));
    // In HR-id order, numbers by value (2 before 10).
    let mut employees: Vec<&str> = standing_current
        .keys()
        .chain(standing_draft.keys())
        .chain(changes_current.keys())
        .chain(changes_draft.keys())
        .copied()
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    employees.sort_by_key(|id| (id.parse::<u64>().ok(), *id));
    let none = BTreeMap::new();
    let mut differences = Vec::new();
    for hr_id in employees {
        let before = standing_current.get(hr_id).map_or(IN_SCOPE, String::as_str);
        let after = standing_draft.get(hr_id).map_or(IN_SCOPE, String::as_str);
        let (mine, theirs) = (
            changes_current.get(hr_id).unwrap_or(&none),
            changes_draft.get(hr_id).unwrap_or(&none),
        );
        let only_current: Vec<(&String, &Aspect)> = mine.iter().filter(|(s, _)| !theirs.contains_key(*s)).collect();
        let only_draft: Vec<(&String, &Aspect)> = theirs.iter().filter(|(s, _)| !mine.contains_key(*s)).collect();
        let mut aspects: BTreeSet<Aspect> = only_current.iter().chain(&only_draft).map(|(_, a)| **a).collect();
        let excluded = |standing: &str| standing.starts_with("excluded: ");
        if before != after {
            aspects.insert(match (excluded(before), excluded(after)) {
                (false, true) => Aspect::NewlyExcluded,
                (true, false) => Aspect::NewlyIncluded,
                _ => Aspect::Account,
            });
        }
        if aspects.is_empty() {
            continue;
        }
        differences.push(Difference {
            hr_id: hr_id.to_string(),
            aspects,
            current: before.to_string(),
            draft: after.to_string(),
            only_current: only_current.into_iter().map(|(s, _)| s.clone()).collect(),
            only_draft: only_draft.into_iter().map(|(s, _)| s.clone()).collect(),
        });
    }
    let mut counts = BTreeMap::new();
    for difference in &differences {
        for aspect in &difference.aspects {
            *counts.entry(*aspect).or_insert(0) += 1;
        }
    }
    let (teams_current, teams_draft) = (teams_created(current), teams_created(draft));
    WhatIf {
        employees_read: current.employees_read,
        counts,
        teams_only_current: teams_current.difference(&teams_draft).map(|t| t.to_string()).collect(),
        teams_only_draft: teams_draft.difference(&teams_current).map(|t| t.to_string()).collect(),
        differences,
        plan_counts: draft.planned.iter().fold(BTreeMap::new(), |mut counts, planned| {
            *counts.entry(kind(&planned.change).to_string()).or_insert(0) += 1;
            counts
        }),
        plan: draft
            .planned
            .iter()
            .take(PLAN_SHOWN)
            .map(|planned| PlannedChange {
                hr_id: planned.hr_id.clone(),
                kind: kind(&planned.change).to_string(),
                summary: summary(&planned.change),
            })
            .collect(),
    }
}
