//! Step 4 of a run: the rule pipeline. Each rule sees the employees still in
//! scope, in batches, with what earlier rules decided; the first exclusion
//! wins. A rule that cannot decide for one employee rejects that record:
//! it is left alone this run and reported, and the others go on.
//!
//! Employees stream through as the source pages come in: only their
//! verdicts are kept, never the whole HR read at once.

use std::collections::BTreeMap;

use super::fields::FieldPresence;
use super::plan::Verdict;
use hrsync_model::{Decision, DesiredAccount, Employee, RejectedRecord, Subject};
use hrsync_runtime::{CallError, RuleSession};

pub const BATCH: usize = 1000;

/// A rule that failed (a plugin error that is no one employee's: a script
/// that reads a field nobody has, a budget overrun, a crash), and which.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {error}")]
pub struct RuleFailed {
    /// Its place in the pipeline (`rules[2]`), to find its installation.
    pub index: usize,
    /// `rules[2] (script-rule)`
    pub name: String,
    pub error: CallError,
}

impl RuleFailed {
    fn of(index: usize, rule: &RuleSession, error: CallError) -> Box<Self> {
        Box::new(Self {
            index,
            name: rule_name(index, rule),
            error,
        })
    }
}

/// How runs and errors name a rule: `rules[2] (script-rule)`.
pub fn rule_name(index: usize, rule: &RuleSession) -> String {
    format!("rules[{index}] ({})", rule.plugin_name())
}

/// What the rules decided: a verdict per employee, except the records a
/// rule rejected.
#[derive(Debug, Default)]
pub struct Decided {
    pub verdicts: BTreeMap<String, Verdict>,
    pub rejected: Vec<RejectedRecord>,
    /// Which fields the source returned for at least one employee.
    pub presence: FieldPresence,
}

/// The rules of one run, fed employees page by page.
pub struct Pipeline<'a> {
    rules: &'a mut [RuleSession],
    pending: Vec<Employee>,
    decided: Decided,
    /// Time spent in the rules, for the run's step log.
    spent: std::time::Duration,
    /// Whether the rules have built themselves (and said which values they
    /// compare fields with).
    started: bool,
}

impl<'a> Pipeline<'a> {
    pub fn new(rules: &'a mut [RuleSession]) -> Self {
        Self {
            rules,
            pending: Vec::with_capacity(BATCH),
            decided: Decided::default(),
            spent: std::time::Duration::ZERO,
            started: false,
        }
    }

    /// Takes employees; decides in batches of [`BATCH`]. A record repeated
    /// across pages is decided again and the last verdict wins.
    pub fn push(&mut self, employees: Vec<Employee>) -> Result<(), Box<RuleFailed>> {
        for employee in employees {
            self.pending.push(employee);
            if self.pending.len() == BATCH {
                self.flush()?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Decided, Box<RuleFailed>> {
        self.flush()?;
        tracing::debug!(ms = self.spent.as_millis() as u64, "time in the rules");
        Ok(self.decided)
    }

    fn flush(&mut self) -> Result<(), Box<RuleFailed>> {
        let started = std::time::Instant::now();
        let result = self.decide_pending();
        self.spent += started.elapsed();
        result
    }

    fn decide_pending(&mut self) -> Result<(), Box<RuleFailed>> {
        if !self.started {
            // A rule builds itself from its config on its first call, and
            // only then says which values it compares fields with: an
            // empty first call, so that every employee is looked at.
            for (index, rule) in self.rules.iter_mut().enumerate() {
                rule.evaluate(Vec::new()).map_err(|e| RuleFailed::of(index, rule, e))?;
                self.decided.presence.expect(&rule.field_reports().expected);
            }
            self.started = true;
        }
        for employee in &self.pending {
            self.decided.presence.observe(employee);
        }
        let mut subjects: Vec<Subject> = self.pending.drain(..).map(Subject::new).collect();
        let Decided { verdicts, rejected, .. } = &mut self.decided;
        for (index, rule) in self.rules.iter_mut().enumerate() {
            if subjects.is_empty() {
                break;
            }
            let decided = rule.evaluate(subjects).map_err(|e| RuleFailed::of(index, rule, e))?;
            let mut kept = Vec::with_capacity(decided.len());
            for (mut subject, decision) in decided {
                let hr_id = || subject.employee.hr_id.clone();
                match decision {
                    Decision::Exclude(reason) => {
                        verdicts.insert(hr_id(), Verdict::Excluded { reason });
                    }
                    Decision::Reject(reason) => {
                        verdicts.remove(&subject.employee.hr_id);
                        rejected.push(RejectedRecord {
                            hr_id: Some(hr_id()),
                            reason,
                        });
                    }
                    Decision::Keep => kept.push(subject),
                    Decision::Modify(desired) => {
                        subject.desired = Some(desired);
                        kept.push(subject);
                    }
                }
            }
            subjects = kept;
        }
        for subject in subjects {
            let desired = subject
                .desired
                .unwrap_or_else(|| DesiredAccount::for_employee(&subject.employee));
            verdicts.insert(
                subject.employee.hr_id,
                Verdict::InScope {
                    status: subject.employee.status,
                    desired,
                },
            );
        }
        Ok(())
    }
}

/// One rule's decision about one employee (`hrsync rules try`), with what
/// the rule logged meanwhile.
#[derive(Debug)]
pub struct Traced {
    /// `rules[0] (scope-rule)`.
    pub rule: String,
    pub decision: Decision,
    pub log: Vec<String>,
}

/// Runs one employee through the rules as a run does — each rule sees what
/// the earlier ones decided; an exclusion or a rejection ends it — and
/// tells each rule's decision.
pub fn trace(rules: &mut [RuleSession], employee: Employee) -> Result<Vec<Traced>, Box<RuleFailed>> {
    let mut traced = Vec::new();
    let mut subject = Subject::new(employee);
    for (index, rule) in rules.iter_mut().enumerate() {
        let logged_before = rule.log_lines().len();
        let decided = rule
            .evaluate(vec![subject.clone()])
            .map_err(|e| RuleFailed::of(index, rule, e))?;
        let Some((_, decision)) = decided.into_iter().next() else {
            break;
        };
        let log = rule
            .log_lines()
            .into_iter()
            .skip(logged_before)
            .map(|line| line.message)
            .collect();
        let last = matches!(decision, Decision::Exclude(_) | Decision::Reject(_));
        if let Decision::Modify(desired) = &decision {
            subject.desired = Some(desired.clone());
        }
        traced.push(Traced {
            rule: rule_name(index, rule),
            decision,
            log,
        });
        if last {
            break;
        }
    }
    Ok(traced)
}

/// Where the rules leave one employee (`hrsync rules try`).
#[derive(Debug)]
pub enum Outcome {
    Excluded(String),
    Rejected(String),
    /// In scope, with the account the rules want.
    InScope(DesiredAccount),
}

/// One employee tried: found in the HR read or not, and each rule's
/// decision.
#[derive(Debug)]
pub struct Tried {
    pub hr_id: String,
    pub employee: Option<Employee>,
    pub steps: Vec<Traced>,
}

impl Tried {
    /// Where the rules leave the employee; `None` when not found.
    pub fn outcome(&self) -> Option<Outcome> {
        let employee = self.employee.as_ref()?;
        let mut desired = None;
        for step in &self.steps {
            match &step.decision {
                Decision::Exclude(reason) => return Some(Outcome::Excluded(reason.clone())),
                Decision::Reject(reason) => return Some(Outcome::Rejected(reason.clone())),
                Decision::Modify(account) => desired = Some(account.clone()),
                Decision::Keep => {}
            }
        }
        Some(Outcome::InScope(
            desired.unwrap_or_else(|| DesiredAccount::for_employee(employee)),
        ))
    }
}
