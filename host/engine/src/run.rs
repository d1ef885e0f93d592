//! One run of an integration, end to end: read → rules → correlate → plan →
//! apply (accounts, then teams, memberships and managers). The links come
//! in and go out; keeping them (and the run's record) is the caller's job.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::apply::{apply, ItemOutcome, ItemResult};
use super::correlate::{correlate, holders_of, Conflict, Correlation, Link, LinkMove, LinkOrigin, MatchAttribute};
use super::fields::{self, MissingField, Need, UnknownAttribute};
use super::identity::{self, normalize, AccountKeys, IdentityIssue};
use super::plan::{
    correlation_inputs, is_managed, plan_accounts, plan_managers, plan_memberships, plan_teams, reporting_lines,
    AccountInputs, AccountPlan, Note, Options, PlanError, Planned, ReadKind, Skipped, SupervisorStanding, Verdict,
};
use super::read::{read_all, read_changes, ReadError, SourceRead};
use super::retry::RetryPolicy;
use super::rules::{rule_name, Decided, Pipeline, RuleFailed};
use super::source::Source;
use hrsync_model::{
    self, Account, Capabilities, Change, DesiredAccount, Employee, EmployeeStatus, PluginError, RejectedRecord, Team,
};
use hrsync_runtime::capability::fields::{FieldStatement, ValueExpectation};
use hrsync_runtime::{CallError, RuleSession, TargetSession};

pub struct Sessions<'a> {
    pub source: &'a mut dyn Source,
    pub rules: &'a mut [RuleSession],
    pub target: &'a mut TargetSession,
}

/// What an integration says to do, the same for every run (its file or
/// stored options).
#[derive(Debug, Clone)]
pub struct Settings {
    pub options: Options,
    /// `options.match_by`, parsed.
    pub matching: Vec<MatchAttribute>,
    pub retry: RetryPolicy,
}

/// This run: what its trigger asked for and what the store knows of the
/// runs before it (`job.rs` builds it).
#[derive(Debug, Clone, Default)]
pub struct RunScope {
    /// Stop after the plan: nothing is written.
    pub dry_run: bool,
    /// Read only the employees changed since this cursor (an incremental
    /// run); `None` reads everyone. Sources that cannot read changes are
    /// read in full.
    pub since: Option<String>,
    /// Asked to stop (a shutdown): the batch in flight finishes, the rest
    /// waits for the next run.
    pub stop: StopSignal,
    /// Provision only these employees (by HR id): everyone else is left as
    /// is, as on an incremental run, and the cursor does not move.
    pub only: Option<BTreeSet<String>>,
    /// The conflicts the last run left open. An incremental run reports
    /// those of employees it does not read again, and reads everyone when
    /// it reads one of them (a fix in HR resolves the conflict for all
    /// involved at once).
    pub open_conflicts: Vec<Conflict>,
}

/// Shared between a run and whoever may stop it.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl StopSignal {
    pub fn request(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            options: Options::default(),
            matching: vec![MatchAttribute::Email],
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the {role} plugin could not start; nothing was changed: {error}")]
    Start { role: &'static str, error: CallError },
    #[error("reading the source failed; nothing was changed: {0}")]
    Read(CallError),
    #[error("a rule failed; nothing was changed: {0}")]
    Rules(Box<RuleFailed>),
    #[error("reading the target failed; nothing was changed: {0}")]
    Target(CallError),
    #[error(transparent)]
    Fields(Box<MissingField>),
    #[error(transparent)]
    Attributes(Box<UnknownAttribute>),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("applying changes failed: {0}")]
    Apply(CallError),
    /// The thread running the steps ended without an outcome (a bug: it
    /// panicked); the run is recorded as failed.
    #[error("the run stopped unexpectedly: {0}")]
    Aborted(String),
}

/// What a run did (or, for a dry run, would do).
#[derive(Debug, Default)]
pub struct RunReport {
    /// A dry run: every change the real run would make — accounts, teams,
    /// memberships, managers — in the order it would make them.
    /// Otherwise empty: see `outcomes`.
    pub planned: Vec<Planned>,
    pub outcomes: Vec<ItemOutcome>,
    pub skipped: Vec<Skipped>,
    pub rejected: Vec<RejectedRecord>,
    /// Employees who want one account, e-mail or user name: one each.
    pub conflicts: Vec<Conflict>,
    /// What the run worked around: managers left unset, invalid e-mails
    /// left out, fields the source could not read.
    pub notes: Vec<Note>,
    /// Rehires: accounts that moved to the new record of their employee.
    pub moves: Vec<LinkMove>,
    /// Existing accounts taken over: matched to an employee (`adopt`).
    pub adopted: Vec<Link>,
    /// The links after the run.
    pub links: Vec<Link>,
    pub cursor: Option<String>,
    pub employees_read: usize,
    pub read_kind: ReadKind,
    pub dry_run: bool,
    /// Stopped before every change was applied (see [`StopSignal`]); the
    /// next run takes up the rest.
    pub interrupted: bool,
    /// More records were rejected than `options.rejected_threshold_percent`
    /// allows: the run ends `succeeded-with-rejections`.
    pub too_many_rejected: bool,
}

impl RunReport {
    /// Writes made (successful changes).
    pub fn writes(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !matches!(o.result, ItemResult::Failed(_)))
            .count()
    }

    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.result, ItemResult::Failed(_)))
            .count()
    }

    /// Successful changes of one kind, e.g. `|c| matches!(c, Change::CreateAccount(_))`.
    pub fn count(&self, kind: impl Fn(&Change) -> bool) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !matches!(o.result, ItemResult::Failed(_)) && kind(&o.planned.change))
            .count()
    }
}

/// Walks a paged listing, each page retried on retryable errors, handing
/// each page to `visit` until it answers false or the pages end.
pub(crate) fn each_page<T>(
    retry: &RetryPolicy,
    mut next: impl FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), CallError>,
    mut visit: impl FnMut(Vec<T>) -> bool,
) -> Result<(), CallError> {
    let mut page: Option<String> = None;
    loop {
        let (batch, next_page) = retry.run(|| next(page.as_deref()))?;
        if !visit(batch) {
            return Ok(());
        }
        // A token given before is refused by the session (pages in a circle).
        match next_page {
            Some(token) => page = Some(token),
            None => return Ok(()),
        }
    }
}

/// Every page of a target listing.
fn all_pages<T>(
    retry: &RetryPolicy,
    next: impl FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), CallError>,
) -> Result<Vec<T>, CallError> {
    let mut items = Vec::new();
    each_page(retry, next, |mut batch| {
        items.append(&mut batch);
        true
    })?;
    Ok(items)
}

/// Reads the source and runs each page through the rules as it comes: the
/// rules on their own thread, so that they decide one page while the
/// source fetches the next. Several sets of rules may decide over the same
/// read (a what-if compares two): one [`Decided`] per set, in order.
fn read_and_decide(
    source: &mut dyn Source,
    rule_sets: &mut [&mut [RuleSession]],
    settings: &Settings,
    since: Option<&str>,
    observe: Observer,
) -> Result<(SourceRead, Vec<Decided>), RunError> {
    let progress = |employees| observe(Progress::Reading { employees });
    let (retry, page_size) = (&settings.retry, settings.options.page_size);
    std::thread::scope(|scope| {
        let (pages, inbox) = std::sync::mpsc::sync_channel::<Vec<Employee>>(2);
        let decide = scope.spawn(move || {
            let mut pipelines: Vec<Pipeline> = rule_sets.iter_mut().map(|rules| Pipeline::new(rules)).collect();
            for page in inbox {
                if let Some((last, others)) = pipelines.split_last_mut() {
                    for pipeline in others {
                        pipeline.push(page.clone())?;
                    }
                    last.push(page)?;
                }
            }
            pipelines
                .into_iter()
                .map(Pipeline::finish)
                .collect::<Result<Vec<_>, _>>()
        });
        let mut consume = |page| pages.send(page).is_ok();
        let read = match since {
            Some(cursor) => match read_changes(source, cursor, page_size, retry, &progress, &mut consume) {
                Ok(None) => read_all(source, page_size, retry, &progress, &mut consume),
                Ok(Some(read)) => Ok(read),
                Err(error) => Err(error),
            },
            None => read_all(source, page_size, retry, &progress, &mut consume),
        };
        drop(pages);
        let decided = decide.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (read, decided) {
            (Err(ReadError::Source(error)), _) => Err(RunError::Read(error)),
            (_, Err(error)) => Err(RunError::Rules(error)),
            (Ok(read), Ok(decided)) => Ok((read, decided)),
            // The rules stop a read only by failing, so this cannot be.
            (Err(ReadError::Stopped), Ok(_)) => unreachable!("the rules stopped the read without an error"),
        }
    })
}

/// How far a run is, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Reading { employees: usize },
    Applying { done: usize, total: usize },
}

pub type Observer<'a> = &'a dyn Fn(Progress);

/// The target's accounts and teams. An incremental run fetches only the
/// accounts linked to the employees it read (when the target can).
fn read_target(
    target: &mut TargetSession,
    settings: &Settings,
    teams: bool,
    only: Option<Vec<String>>,
) -> Result<(Vec<Account>, Vec<Team>), CallError> {
    let (page_size, retry) = (settings.options.page_size, &settings.retry);
    let fetched = match only {
        Some(ids) if ids.is_empty() => Some(Vec::new()),
        Some(ids) => match retry.run(|| target.get_accounts(&ids)) {
            Err(error) if matches!(error.plugin_error(), Some(PluginError::Unsupported(_))) => None,
            other => Some(other?),
        },
        None => None,
    };
    let accounts = match fetched {
        Some(accounts) => accounts,
        None => all_pages(retry, |page| {
            target.list_accounts(page, page_size).map(|p| (p.accounts, p.next_page))
        })?,
    };
    let teams = if teams {
        all_pages(retry, |page| {
            target.list_teams(page, page_size).map(|p| (p.teams, p.next_page))
        })?
    } else {
        Vec::new()
    };
    Ok((accounts, teams))
}

/// Frees the attributes of the accounts created: they are in the app now,
/// and the run's record names a create by its user name. On a first sync
/// they are most of what the outcomes hold while teams and managers are
/// applied (tens of MiB at 100,000 employees).
fn forget_written_attributes(outcomes: &mut [ItemOutcome]) {
    for outcome in outcomes {
        if let (Change::CreateAccount(draft), ItemResult::Done { .. } | ItemResult::LinkedExisting { .. }) =
            (&mut outcome.planned.change, &outcome.result)
        {
            draft.attributes = Vec::new();
        }
    }
}

/// Appends outcomes growing the list to exactly what it holds: outcomes
/// are a few hundred bytes each, and the usual doubling would reserve
/// room for hundreds of thousands more on a first sync.
fn add_outcomes(all: &mut Vec<ItemOutcome>, more: Vec<ItemOutcome>) {
    all.reserve_exact(more.len());
    all.extend(more);
}

/// Logs how long each step of a run took (`RUST_LOG=hrsync=debug`).
struct StepTimer(std::time::Instant);

impl StepTimer {
    fn new() -> Self {
        Self(std::time::Instant::now())
    }

    fn done(&mut self, step: &str, items: usize) {
        tracing::debug!(step, items, ms = self.0.elapsed().as_millis() as u64, "run step done");
        self.0 = std::time::Instant::now();
    }
}

/// Runs the integration once against `links`.
pub fn run(
    sessions: Sessions<'_>,
    links: &[Link],
    settings: &Settings,
    scope: &RunScope,
) -> Result<RunReport, RunError> {
    run_observed(sessions, links, settings, scope, &|_| {})
}

/// What the plugins said of fields: the ones the source could not read,
/// the ones the rules need, each with the rule that needs it, the values
/// they compare fields with, by rule, and the account attributes the
/// target takes.
struct Needs {
    unreadable: Vec<FieldStatement>,
    fields: Vec<Need>,
    values: Vec<(String, Vec<ValueExpectation>)>,
    accepted: Option<Vec<String>>,
}

fn needs(source: &dyn Source, rules: &[RuleSession], target: &TargetSession) -> Needs {
    Needs {
        unreadable: source.field_reports().unreadable.clone(),
        fields: rules
            .iter()
            .enumerate()
            .flat_map(|(index, rule)| {
                rule.field_reports().required.iter().map(move |statement| Need {
                    rule: rule_name(index, rule),
                    field: statement.field.clone(),
                    purpose: statement.reason.clone(),
                })
            })
            .collect(),
        values: rules
            .iter()
            .enumerate()
            .map(|(index, rule)| (rule_name(index, rule), rule.field_reports().expected.clone()))
            .filter(|(_, expected)| !expected.is_empty())
            .collect(),
        accepted: target.field_reports().accepted.clone(),
    }
}

/// Settles the identity of everyone who wants an account (see
/// `identity.rs`): those without one are returned with the reason, invalid
/// e-mails left out become notes.
fn settle_identities(verdicts: &mut BTreeMap<String, Verdict>, notes: &mut Vec<Note>) -> BTreeMap<String, String> {
    let mut no_account = BTreeMap::new();
    for (hr_id, verdict) in verdicts.iter_mut() {
        let Verdict::InScope { status, desired } = verdict else {
            continue;
        };
        if *status == EmployeeStatus::Inactive {
            continue;
        }
        match identity::settle(desired) {
            None => {}
            Some(IdentityIssue::NoAccount(reason)) => {
                no_account.insert(hr_id.clone(), reason);
            }
            Some(IdentityIssue::EmailDropped(message)) => notes.push(Note {
                hr_id: Some(hr_id.clone()),
                message,
            }),
        }
    }
    no_account
}

/// The manager each synced employee should have, by HR id, and a note for
/// each left without one.
fn plan_reporting_lines(
    verdicts: &BTreeMap<String, Verdict>,
    correlation: &Correlation,
    no_account: &BTreeMap<String, String>,
    links: &[Link],
    read: ReadKind,
) -> (HashMap<String, Option<String>>, Vec<Note>) {
    let supervisors: HashMap<&str, Option<&str>> = correlation
        .pairings
        .keys()
        .filter_map(|hr_id| match verdicts.get(hr_id) {
            Some(Verdict::InScope { desired, .. }) => Some((hr_id.as_str(), desired.manager_hr_id.as_deref())),
            _ => None,
        })
        .collect();
    // Links of excluded employees are dropped by this run, but `standing`
    // asks about exclusion first.
    let moved_away: HashSet<&str> = correlation.moves.iter().map(|m| m.from.as_str()).collect();
    let linked: HashSet<&str> = links
        .iter()
        .map(|l| l.hr_id.as_str())
        .filter(|hr_id| !moved_away.contains(hr_id))
        .chain(correlation.moves.iter().map(|m| m.to.as_str()))
        .collect();
    let standing = |boss: &str| match verdicts.get(boss) {
        Some(Verdict::Excluded { reason }) => SupervisorStanding::OutOfScope(format!("is excluded ({reason})")),
        Some(Verdict::InScope { status, .. }) if *status == EmployeeStatus::Inactive => {
            SupervisorStanding::OutOfScope("is inactive".into())
        }
        _ if linked.contains(boss) => SupervisorStanding::Linked,
        Some(Verdict::InScope { .. }) => SupervisorStanding::OutOfScope(match no_account.get(boss) {
            Some(reason) => format!("has no account ({reason})"),
            None => "has no account (an identity conflict)".into(),
        }),
        None => SupervisorStanding::Unknown,
    };
    let (managers, notes) = reporting_lines(&supervisors, standing, read == ReadKind::Full);
    let managers = managers
        .into_iter()
        .map(|(hr_id, manager)| (hr_id.to_string(), manager.map(str::to_string)))
        .collect();
    (managers, notes)
}

/// The source read through the rules and — on a full run, at the same
/// time on its own thread — the target read in full.
type ReadStep = (SourceRead, Decided, TargetRead);

#[allow(clippy::too_many_arguments)]
fn read_step(
    source: &mut dyn Source,
    rules: &mut [RuleSession],
    target: &mut TargetSession,
    settings: &Settings,
    since: Option<&str>,
    full: bool,
    teams: bool,
    observe: Observer,
) -> Result<ReadStep, RunError> {
    let (read, mut decided, target_read) =
        read_step_by(source, &mut [rules], target, settings, since, full, teams, observe)?;
    Ok((read, decided.pop().unwrap_or_default(), target_read))
}

/// [`read_step`] through several sets of rules, one [`Decided`] each.
#[allow(clippy::too_many_arguments)]
fn read_step_by(
    source: &mut dyn Source,
    rule_sets: &mut [&mut [RuleSession]],
    target: &mut TargetSession,
    settings: &Settings,
    since: Option<&str>,
    full: bool,
    teams: bool,
    observe: Observer,
) -> Result<(SourceRead, Vec<Decided>, TargetRead), RunError> {
    if !full {
        let (read, decided) = read_and_decide(source, rule_sets, settings, since, observe)?;
        return Ok((read, decided, None));
    }
    // Each plugin has its own instance: the target is read while the source is.
    std::thread::scope(|scope| {
        let target_read = scope.spawn(|| read_target(&mut *target, settings, teams, None));
        let decided_read = read_and_decide(source, rule_sets, settings, since, observe);
        let target_read = target_read
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let (read, decided) = decided_read?;
        Ok((read, decided, Some(target_read)))
    })
}

/// The target's accounts and teams, when read at the same time as the
/// source (a full run).
type TargetRead = Option<Result<(Vec<Account>, Vec<Team>), CallError>>;

/// Whether an incremental read touched an employee of a conflict the last
/// run left open.
fn touches_open_conflict(read: &SourceRead, decided: &Decided, scope: &RunScope) -> bool {
    scope.open_conflicts.iter().any(|c| {
        decided.verdicts.contains_key(&c.hr_id)
            || read.removed.contains(&c.hr_id)
            || decided
                .rejected
                .iter()
                .chain(&read.rejected)
                .any(|r| r.hr_id.as_deref() == Some(c.hr_id.as_str()))
    })
}

/// [`run`], telling `observe` how far it is. The steps, in order; each is a
/// function below.
pub fn run_observed(
    sessions: Sessions<'_>,
    links: &[Link],
    settings: &Settings,
    scope: &RunScope,
    observe: Observer,
) -> Result<RunReport, RunError> {
    let Sessions { source, rules, target } = sessions;
    let mut step = StepTimer::new();
    let capabilities: Capabilities = target.capabilities().map_err(RunError::Target)?;
    let mut decisions = read_source(source, rules, target, settings, scope, &capabilities, observe)?;
    step.done("read and rules (and target, on a full run)", decisions.records);
    let (accounts, teams) = read_accounts(target, &mut decisions, links, settings, &capabilities)?;
    step.done("read target", accounts.len());
    let target = Target {
        session: target,
        capabilities: &capabilities,
        accounts,
        teams,
    };
    plan_and_apply(target, decisions, links, settings, scope, observe, step)
}

/// The target a run plans against: its session, what it can do, and its
/// accounts and teams as read.
struct Target<'t> {
    session: &'t mut TargetSession,
    capabilities: &'t Capabilities,
    accounts: Vec<Account>,
    teams: Vec<Team>,
}

/// Steps 4–6 (correlate, plan, apply; a dry run takes each change as done)
/// on what was read.
fn plan_and_apply(
    target: Target<'_>,
    mut decisions: Decisions,
    links: &[Link],
    settings: &Settings,
    scope: &RunScope,
    observe: Observer,
    mut step: StepTimer,
) -> Result<RunReport, RunError> {
    let Target {
        session: target,
        capabilities,
        accounts,
        teams,
    } = target;
    let correlation = correlate(correlation_inputs(
        &decisions.verdicts,
        &decisions.no_account,
        &decisions.read.removed,
        decisions.read.kind,
        &accounts,
        links,
        &settings.matching,
        settings.options.adopt,
    ));
    step.done("correlate", correlation.pairings.len());
    let (mut plan, managers) = plan_run(&mut decisions, &correlation, &accounts, links, settings, capabilities)?;
    let mut report = RunReport {
        skipped: plan.skipped.clone(),
        conflicts: conflicts_to_report(&correlation, &decisions, scope),
        moves: correlation.moves.clone(),
        adopted: plan.adopted.clone(),
        cursor: decisions.read.cursor.clone(),
        employees_read: decisions.employees_read,
        read_kind: decisions.read.kind,
        dry_run: scope.dry_run,
        too_many_rejected: too_many_rejected(
            decisions.rejected.len(),
            decisions.employees_read,
            settings.options.rejected_threshold_percent,
        ),
        rejected: std::mem::take(&mut decisions.rejected),
        notes: std::mem::take(&mut decisions.notes),
        ..RunReport::default()
    };
    let changes: Vec<Box<Planned>> = std::mem::take(&mut plan.changes).into_iter().map(Box::new).collect();
    step.done("plan", changes.len());
    let mut applier = Applier {
        target,
        max_batch: capabilities.max_batch,
        settings,
        scope,
        observe,
        applied: 0,
    };
    let links_before = links;
    let mut links = links_after_plan(links, &plan, &correlation, &accounts);
    let mut outcomes = applier.apply(changes)?;
    step.done("apply accounts", outcomes.len());
    link_applied(&mut links, &mut outcomes, &mut report.conflicts);
    if !scope.dry_run {
        forget_written_attributes(&mut outcomes);
    }
    report.outcomes = outcomes;
    if !scope.stop.requested() {
        let synced = SecondPass::new(decisions.verdicts, &correlation, managers, &links);
        if capabilities.teams {
            apply_teams(
                &mut applier,
                &synced,
                teams,
                &links,
                decisions.read.kind,
                &plan.held,
                &mut report,
            )?;
        }
        if capabilities.managers {
            apply_managers(&mut applier, &synced, &accounts, &mut report)?;
        }
        step.done("apply teams and managers", report.outcomes.len());
    }
    report.interrupted = scope.stop.requested();
    if scope.dry_run {
        // What the applier stood in for is the plan; the links stay as
        // they were.
        report.planned = std::mem::take(&mut report.outcomes)
            .into_iter()
            .map(|outcome| *outcome.planned)
            .collect();
        report.links = links_before.to_vec();
        return Ok(report);
    }
    // The links are copied once all else of the run is freed.
    drop(accounts);
    report.links = links.into_values().map(LinkState::into_owned).collect();
    Ok(report)
}

/// Whether `rejected` of `read` records is more than `percent` of them.
fn too_many_rejected(rejected: usize, read: usize, percent: u32) -> bool {
    rejected > 0 && rejected as u128 * 100 > read as u128 * u128::from(percent)
}

/// What the source said and the rules decided, with identities settled:
/// the input of correlation and planning.
struct Decisions {
    read: SourceRead,
    /// Records read, repeats included (for the step log).
    records: usize,
    verdicts: BTreeMap<String, Verdict>,
    /// Records the source or the rules could not take, with the reason.
    rejected: Vec<RejectedRecord>,
    notes: Vec<Note>,
    /// Employees who get no account this run, with the reason.
    no_account: BTreeMap<String, String>,
    /// Distinct employees the rules decided about (a record repeated across
    /// pages counts once).
    employees_read: usize,
    /// The target, read at the same time on a full run.
    target_read: TargetRead,
}

/// Step 1–2: reads the source through the rules (and, on a full read, the
/// target meanwhile); reads everyone when an employee of an open conflict
/// changed; stops when a rule needs a field nobody has; keeps only the
/// employees asked for; settles identities.
fn read_source(
    source: &mut dyn Source,
    rules: &mut [RuleSession],
    target: &mut TargetSession,
    settings: &Settings,
    scope: &RunScope,
    capabilities: &Capabilities,
    observe: Observer,
) -> Result<Decisions, RunError> {
    let full = scope.since.is_none() && scope.only.is_none();
    let since = scope.since.as_deref();
    let (mut read, mut decided, mut target_read) = read_step(
        source,
        rules,
        target,
        settings,
        since,
        full,
        capabilities.teams,
        observe,
    )?;
    if read.kind == ReadKind::Incremental && scope.only.is_none() && touches_open_conflict(&read, &decided, scope) {
        tracing::info!("an employee in an open identity conflict changed: reading everyone");
        (read, decided, target_read) =
            read_step(source, rules, target, settings, None, true, capabilities.teams, observe)?;
    }
    decisions_of(
        read,
        decided,
        &needs(source, rules, target),
        scope.only.as_ref(),
        target_read,
    )
}

/// What a read and the rules decided, checked — a rule that needs a field
/// nobody has stops the run — kept to the employees asked for, and with
/// identities settled.
fn decisions_of(
    mut read: SourceRead,
    mut decided: Decided,
    needs: &Needs,
    only: Option<&BTreeSet<String>>,
    target_read: TargetRead,
) -> Result<Decisions, RunError> {
    let employees_read = decided.verdicts.len() + decided.rejected.len();
    fields::check(
        &needs.fields,
        &needs.unreadable,
        &decided.presence,
        (read.kind == ReadKind::Full).then_some(employees_read),
    )
    .map_err(|missing| RunError::Fields(Box::new(missing)))?;
    let desired = decided.verdicts.iter().filter_map(|(hr_id, verdict)| match verdict {
        Verdict::InScope { desired, .. } => Some((hr_id.as_str(), desired.attributes.as_slice())),
        _ => None,
    });
    fields::check_attributes(desired, needs.accepted.as_deref())
        .map_err(|unknown| RunError::Attributes(Box::new(unknown)))?;
    if let Some(only) = only {
        let wanted = |id: &Option<String>| id.as_ref().is_some_and(|id| only.contains(id));
        decided.verdicts.retain(|id, _| only.contains(id));
        decided.rejected.retain(|r| wanted(&r.hr_id));
        read.rejected.retain(|r| wanted(&r.hr_id));
        read.removed.retain(|id| only.contains(id));
        read.kind = ReadKind::Incremental;
        read.cursor = None;
    }
    let employees_read = decided.verdicts.len() + decided.rejected.len();
    let mut verdicts = decided.verdicts;
    let mut rejected = std::mem::take(&mut read.rejected);
    rejected.extend(decided.rejected);
    let mut notes: Vec<Note> = needs
        .unreadable
        .iter()
        .map(|s| Note {
            hr_id: None,
            message: format!("the source could not read the field `{}`: {}", s.field, s.reason),
        })
        .collect();
    if read.kind == ReadKind::Full && employees_read > 0 {
        notes.extend(
            fields::unmatched_values(&needs.values, &decided.presence)
                .into_iter()
                .map(|message| Note { hr_id: None, message }),
        );
    }
    let no_account = settle_identities(&mut verdicts, &mut notes);
    Ok(Decisions {
        records: read.records,
        read,
        verdicts,
        rejected,
        notes,
        no_account,
        employees_read,
        target_read,
    })
}

/// Step 3: the target's accounts and teams — read already on a full run;
/// on an incremental one, the accounts linked to the employees read and
/// those holding an e-mail one of them wants (a rehire, or a conflict). A
/// source that cannot read changes was read in full: all accounts.
fn read_accounts(
    target: &mut TargetSession,
    decisions: &mut Decisions,
    links: &[Link],
    settings: &Settings,
    capabilities: &Capabilities,
) -> Result<(Vec<Account>, Vec<Team>), RunError> {
    if let Some(read) = decisions.target_read.take() {
        return read.map_err(RunError::Target);
    }
    let Decisions {
        read,
        verdicts,
        no_account,
        ..
    } = &*decisions;
    let only = (read.kind == ReadKind::Incremental).then(|| {
        let wanting: Vec<(&str, &DesiredAccount)> = verdicts
            .iter()
            .filter_map(|(id, v)| match v {
                Verdict::InScope { status, desired }
                    if *status != EmployeeStatus::Inactive && !no_account.contains_key(id) =>
                {
                    Some((id.as_str(), desired))
                }
                _ => None,
            })
            .collect();
        let mut ids: BTreeSet<String> = links
            .iter()
            .filter(|l| verdicts.contains_key(&l.hr_id) || read.removed.contains(&l.hr_id))
            .map(|l| l.account_id.clone())
            .collect();
        ids.extend(holders_of(&wanting, links).into_iter().map(str::to_string));
        ids.into_iter().collect::<Vec<_>>()
    });
    read_target(target, settings, capabilities.teams, only).map_err(RunError::Target)
}

/// Step 5: the account plan and — on the other core meanwhile, as it does
/// not depend on it — the manager each synced employee should have (its
/// notes join the run's).
fn plan_run(
    decisions: &mut Decisions,
    correlation: &Correlation,
    accounts: &[Account],
    links: &[Link],
    settings: &Settings,
    capabilities: &Capabilities,
) -> Result<(AccountPlan, HashMap<String, Option<String>>), RunError> {
    let rejected_ids: HashSet<String> = decisions.rejected.iter().filter_map(|r| r.hr_id.clone()).collect();
    let Decisions {
        read,
        verdicts,
        no_account,
        notes,
        ..
    } = decisions;
    let (plan, reporting) = std::thread::scope(|scope| {
        let reporting = capabilities
            .managers
            .then(|| scope.spawn(|| plan_reporting_lines(verdicts, correlation, no_account, links, read.kind)));
        let plan = plan_accounts(AccountInputs {
            verdicts,
            rejected: &rejected_ids,
            removed: &read.removed,
            no_account,
            correlation,
            accounts,
            links,
            read: read.kind,
            options: &settings.options,
            can_reactivate: capabilities.reactivation,
            can_invite: capabilities.invites,
        });
        let reporting = reporting.map(|thread| thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        (plan, reporting)
    });
    let plan = plan?;
    let creates = plan
        .changes
        .iter()
        .filter(|p| matches!(p.change, Change::CreateAccount(_)))
        .count();
    if settings.options.invite && !capabilities.invites && creates > 0 {
        notes.push(Note {
            hr_id: None,
            message: format!(
                "invite is on, but the target sends no invitations: {creates} new account(s) get none from hrsync \
                 (the app may e-mail new users itself); turn invite off to silence this"
            ),
        });
    }
    let managers = match reporting {
        Some((managers, manager_notes)) => {
            notes.extend(manager_notes);
            managers
        }
        None => HashMap::new(),
    };
    Ok((plan, managers))
}

/// The conflicts this run found, and — on an incremental run — those left
/// open by the last run for employees it did not read.
fn conflicts_to_report(correlation: &Correlation, decisions: &Decisions, scope: &RunScope) -> Vec<Conflict> {
    let mut conflicts = correlation.conflicts.clone();
    if decisions.read.kind == ReadKind::Incremental {
        let read_ids: HashSet<&str> = decisions
            .verdicts
            .keys()
            .map(String::as_str)
            .chain(decisions.rejected.iter().filter_map(|r| r.hr_id.as_deref()))
            .collect();
        for open in &scope.open_conflicts {
            let fresh = conflicts.iter().any(|c| c.hr_id == open.hr_id);
            if !fresh && !read_ids.contains(open.hr_id.as_str()) {
                conflicts.push(open.clone());
            }
        }
        conflicts.sort_by(|a, b| a.hr_id.cmp(&b.hr_id));
    }
    conflicts
}

/// Step 6: applies changes in the target's batches, telling the observer,
/// and stopping between batches when asked. A dry run applies nothing:
/// each change is taken as done ([`as_if_applied`]) and becomes the plan.
struct Applier<'r> {
    target: &'r mut TargetSession,
    max_batch: u32,
    settings: &'r Settings,
    scope: &'r RunScope,
    observe: Observer<'r>,
    /// Changes applied so far in this run, for progress.
    applied: usize,
}

impl Applier<'_> {
    fn apply(&mut self, changes: Vec<Box<Planned>>) -> Result<Vec<ItemOutcome>, RunError> {
        if self.scope.dry_run {
            return Ok(changes.into_iter().map(as_if_applied).collect());
        }
        let (before, total) = (self.applied, self.applied + changes.len());
        let (observe, stop) = (self.observe, &self.scope.stop);
        let outcomes = apply(
            self.target,
            changes,
            self.max_batch,
            &self.settings.retry,
            &mut |done| {
                observe(Progress::Applying {
                    done: before + done,
                    total,
                });
                !stop.requested()
            },
        )
        .map_err(RunError::Apply)?;
        self.applied = total;
        Ok(outcomes)
    }
}

/// A dry run's stand-in for applying a change: it succeeds, and what it
/// would create gets an id that says so, so that teams, memberships and
/// managers are planned against it exactly as the real run plans them
/// against the app's new ids.
fn as_if_applied(planned: Box<Planned>) -> ItemOutcome {
    let id = match &planned.change {
        Change::CreateAccount(draft) => Some(format!("(new account {})", draft.user_name)),
        Change::CreateTeam(draft) => Some(format!("(new team \"{}\")", draft.name)),
        _ => None,
    };
    ItemOutcome {
        planned,
        result: ItemResult::Done { id },
        attempts: 0,
    }
}

/// Teams and managers need every account's id: a second pass, for the
/// employees this run syncs (not those it holds as they are). Only their
/// teams and managers are kept; the rest of the desired accounts is freed.
struct SecondPass<'l> {
    /// Every employee decided about, with teams and manager when synced.
    decided: BTreeMap<String, Option<(Vec<String>, Option<String>)>>,
    /// HR id → account id, after the accounts were applied.
    account_of: HashMap<&'l str, &'l str>,
    /// Account id → HR id, to name the employee of a membership or manager
    /// change.
    employee_of: HashMap<&'l str, &'l str>,
}

impl<'l> SecondPass<'l> {
    fn new(
        verdicts: BTreeMap<String, Verdict>,
        correlation: &Correlation,
        managers: HashMap<String, Option<String>>,
        links: &'l LinkMap,
    ) -> Self {
        let decided = verdicts
            .into_iter()
            .map(|(id, verdict)| {
                let wanted = match verdict {
                    Verdict::InScope { desired, .. } if correlation.pairings.contains_key(&id) => {
                        let manager = managers.get(&id).cloned().flatten();
                        Some((desired.teams, manager))
                    }
                    _ => None,
                };
                (id, wanted)
            })
            .collect();
        let account_of: HashMap<&str, &str> = links
            .values()
            .map(|l| (l.hr_id.as_str(), l.account_id.as_str()))
            .collect();
        let employee_of = account_of.iter().map(|(hr, account)| (*account, *hr)).collect();
        Self {
            decided,
            account_of,
            employee_of,
        }
    }

    /// Names the employee each membership and manager change is for, so
    /// that a run's items can be looked up by employee.
    fn name_employees(&self, changes: &mut [Box<Planned>]) {
        for planned in changes {
            let account = match &planned.change {
                Change::AddMember(m) | Change::RemoveMember(m) => &m.account_id,
                Change::LinkManager(l) => &l.account_id,
                _ => continue,
            };
            planned.hr_id = self.employee_of.get(account.as_str()).map(|hr| hr.to_string());
        }
    }

    /// The synced employees: HR id, teams, manager's HR id.
    fn synced(&self) -> impl Iterator<Item = (&str, &[String], Option<&str>)> {
        self.decided.iter().filter_map(|(id, wanted)| {
            wanted
                .as_ref()
                .map(|(teams, manager)| (id.as_str(), teams.as_slice(), manager.as_deref()))
        })
    }

    fn account(&self, hr_id: &str) -> Option<&'l str> {
        self.account_of.get(hr_id).copied()
    }
}

/// Step 6b: creates the teams the synced employees want, then their
/// memberships — of the accounts this run decided about: everyone on a full
/// read, only the employees read on an incremental one; never those of
/// employees held as they are.
fn apply_teams(
    applier: &mut Applier<'_>,
    pass: &SecondPass<'_>,
    mut teams: Vec<Team>,
    links: &LinkMap,
    read: ReadKind,
    held: &HashSet<String>,
    report: &mut RunReport,
) -> Result<(), RunError> {
    let names: BTreeSet<String> = pass.synced().flat_map(|(_, teams, _)| teams.iter().cloned()).collect();
    let created = applier.apply(plan_teams(&names, &teams))?;
    for outcome in &created {
        if let (Change::CreateTeam(draft), ItemResult::Done { id: Some(id) }) =
            (&outcome.planned.change, &outcome.result)
        {
            teams.push(Team {
                id: id.clone(),
                name: draft.name.clone(),
                external_id: draft.external_id.clone(),
                member_ids: vec![],
            });
        }
    }
    add_outcomes(&mut report.outcomes, created);
    let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (hr_id, teams, _) in pass.synced() {
        if let Some(account) = pass.account(hr_id) {
            for team in teams {
                wanted.entry(team.as_str()).or_default().insert(account);
            }
        }
    }
    let managed: HashSet<&str> = links
        .values()
        .filter(|l| read == ReadKind::Full || pass.decided.contains_key(&l.hr_id))
        .filter(|l| !held.contains(&l.hr_id))
        .map(|l| l.account_id.as_str())
        .collect();
    let teams: Vec<Team> = teams.into_iter().filter(is_managed).collect();
    // Applied before the managers are planned: each list is large on a
    // first sync, and only one is held at a time.
    let mut memberships = plan_memberships(&wanted, &teams, &managed);
    drop((wanted, managed));
    pass.name_employees(&mut memberships);
    let outcomes = applier.apply(memberships)?;
    add_outcomes(&mut report.outcomes, outcomes);
    Ok(())
}

/// Step 6c: each synced account's manager, as the org chart says.
fn apply_managers(
    applier: &mut Applier<'_>,
    pass: &SecondPass<'_>,
    accounts: &[Account],
    report: &mut RunReport,
) -> Result<(), RunError> {
    let desired_managers: BTreeMap<&str, Option<&str>> = pass
        .synced()
        .filter_map(|(hr_id, _, manager)| {
            let account = pass.account(hr_id)?;
            Some((account, manager.and_then(|m| pass.account(m))))
        })
        .collect();
    let mut managers = plan_managers(&desired_managers, accounts);
    drop(desired_managers);
    pass.name_employees(&mut managers);
    let outcomes = applier.apply(managers)?;
    add_outcomes(&mut report.outcomes, outcomes);
    Ok(())
}

/// The links once the plan is applied, before its creates: without the
/// disconnected and the rehires' old records, with the adopted and the
/// moved; each with the e-mail and user name of its account as read now.
/// A link that does not change is borrowed, not copied: at 100,000
/// employees a copy of every link is 30 MiB more at the run's peak.
fn links_after_plan<'a>(
    links: &'a [Link],
    plan: &'a AccountPlan,
    correlation: &'a Correlation,
    accounts: &[Account],
) -> LinkMap<'a> {
    let dropped: HashSet<&str> = plan
        .disconnected
        .iter()
        .map(String::as_str)
        .chain(correlation.moves.iter().map(|m| m.from.as_str()))
        .collect();
    let moved_to: HashMap<&str, &str> = correlation
        .moves
        .iter()
        .map(|m| (m.from.as_str(), m.to.as_str()))
        .collect();
    let mut after: LinkMap = links
        .iter()
        .filter(|l| !dropped.contains(l.hr_id.as_str()))
        .map(|l| (Cow::Borrowed(l.hr_id.as_str()), LinkState::Kept(l)))
        .collect();
    for link in links.iter().filter(|_| !moved_to.is_empty()) {
        if let Some(to) = moved_to.get(link.hr_id.as_str()) {
            let moved = Link {
                hr_id: to.to_string(),
                ..link.clone()
            };
            after.insert(Cow::Borrowed(*to), LinkState::changed(moved));
        }
    }
    for link in &plan.adopted {
        after.insert(Cow::Borrowed(link.hr_id.as_str()), LinkState::Kept(link));
    }
    let read: HashMap<&str, &Account> = accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    for link in after.values_mut() {
        if let Some(account) = read.get(link.account_id.as_str()).filter(|a| !link.keys.are_of(a)) {
            link.to_mut().keys.follow(account);
        }
    }
    after
}

/// Links by HR id while a run changes them; those it does not change are
/// borrowed from the links the run started with.
type LinkMap<'a> = BTreeMap<Cow<'a, str>, LinkState<'a>>;

/// A link as the run started with it, or changed (boxed: most are not, and
/// the map holds 100,000 of them).
enum LinkState<'a> {
    Kept(&'a Link),
    Changed(Box<Link>),
}

impl LinkState<'_> {
    fn changed(link: Link) -> Self {
        Self::Changed(Box::new(link))
    }

    fn to_mut(&mut self) -> &mut Link {
        if let Self::Kept(link) = self {
            *self = Self::changed((*link).clone());
        }
        match self {
            Self::Changed(link) => link,
            Self::Kept(_) => unreachable!("made owned above"),
        }
    }

    fn into_owned(self) -> Link {
        match self {
            Self::Kept(link) => link.clone(),
            Self::Changed(link) => *link,
        }
    }
}

impl std::ops::Deref for LinkState<'_> {
    type Target = Link;

    fn deref(&self) -> &Link {
        match self {
            Self::Kept(link) => link,
            Self::Changed(link) => link,
        }
    }
}

/// Records what the applied account changes did to the links: new accounts
/// linked, e-mails and user names written. A create that met an account
/// already linked to another employee links nothing: the item fails as a
/// conflict, so that one account never belongs to two employees.
fn link_applied(links: &mut LinkMap, outcomes: &mut [ItemOutcome], conflicts: &mut Vec<Conflict>) {
    let mut owners: Option<HashMap<String, String>> = None;
    for outcome in outcomes.iter_mut() {
        let Some(hr_id) = outcome.planned.hr_id.clone() else {
            continue;
        };
        let (draft, id, origin) = match (&outcome.planned.change, &outcome.result) {
            (Change::CreateAccount(draft), ItemResult::Done { id: Some(id) }) => (draft, id, LinkOrigin::Created),
            (Change::CreateAccount(draft), ItemResult::LinkedExisting { id }) => {
                let owners = owners.get_or_insert_with(|| {
                    links
                        .values()
                        .map(|l| (l.account_id.clone(), l.hr_id.clone()))
                        .collect()
                });
                if let Some(owner) = owners.get(id).filter(|owner| **owner != hr_id) {
                    let message = format!(
                        "the app answered that account {id} ({}) exists, and it belongs to employee {owner}",
                        draft.user_name
                    );
                    conflicts.push(Conflict {
                        hr_id: hr_id.clone(),
                        message: message.clone(),
                        keeps_account: false,
                    });
                    outcome.result = ItemResult::Failed(PluginError::Conflict(hrsync_model::Conflict {
                        message,
                        existing_id: Some(id.clone()),
                    }));
                    continue;
                }
                owners.insert(id.clone(), hr_id.clone());
                (draft, id, LinkOrigin::Adopted)
            }
            (Change::UpdateAccount(update), ItemResult::Done { .. }) => {
                let Some(link) = links.get_mut(hr_id.as_str()) else {
                    continue;
                };
                let link = link.to_mut();
                for change in &update.changes {
                    let after = change.after.as_ref().map(|v| normalize(&v.to_text()));
                    match change.field.as_str() {
                        "email" => link.keys.email = after,
                        "user_name" => link.keys.user_name = after,
                        _ => {}
                    }
                }
                continue;
            }
            _ => continue,
        };
        let link = Link {
            hr_id: hr_id.clone(),
            account_id: id.clone(),
            origin,
            keys: AccountKeys::of_draft(draft),
        };
        links.insert(Cow::Owned(hr_id), LinkState::changed(link));
    }
}

/// A rule set and the settings it runs with, for [`what_if`].
pub struct Variant<'a> {
    pub rules: &'a mut [RuleSession],
    pub settings: &'a Settings,
}

/// What-if: the source read once (in full) through two variants of an
/// integration's rules and options, the target read once, and each planned
/// as its dry run would plan it. Nothing is written.
pub fn what_if(
    source: &mut dyn Source,
    target: &mut TargetSession,
    current: Variant<'_>,
    draft: Variant<'_>,
    links: &[Link],
    observe: Observer,
) -> Result<(RunReport, RunReport), RunError> {
    let capabilities: Capabilities = target.capabilities().map_err(RunError::Target)?;
    let scope = RunScope {
        dry_run: true,
        ..RunScope::default()
    };
    let Variant {
        rules: current_rules,
        settings,
    } = current;
    let (read, mut decided, target_read) = read_step_by(
        source,
        &mut [&mut *current_rules, &mut *draft.rules],
        target,
        settings,
        None,
        true,
        capabilities.teams,
        observe,
    )?;
    let (accounts, teams) = match target_read {
        Some(read) => read.map_err(RunError::Target)?,
        None => unreachable!("a full read reads the target"),
    };
    let (Some(draft_decided), Some(current_decided)) = (decided.pop(), decided.pop()) else {
        unreachable!("two sets of rules decide twice");
    };
    let (current_needs, draft_needs) = (needs(source, current_rules, target), needs(source, draft.rules, target));
    let mut plan = |decided, needs: Needs, settings, accounts, teams| {
        let decisions = decisions_of(read.clone(), decided, &needs, None, None)?;
        let target = Target {
            session: &mut *target,
            capabilities: &capabilities,
            accounts,
            teams,
        };
        plan_and_apply(target, decisions, links, settings, &scope, observe, StepTimer::new())
    };
    let current = plan(
        current_decided,
        current_needs,
        settings,
        accounts.clone(),
        teams.clone(),
    )?;
    let draft = plan(draft_decided, draft_needs, draft.settings, accounts, teams)?;
    Ok((current, draft))
}
