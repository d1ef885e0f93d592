//! Step 4 of a run: the rule pipeline. Each rule sees the employees still in
//! scope, in batches, with what earlier rules decided; the first exclusion
//! wins. A rule that cannot decide for one employee rejects that record:
//! it is left alone this run and reported, and the others go on.

use std::collections::BTreeMap;

use super::plan::Verdict;
use crate::runtime::types::{DesiredAccount, Employee, RejectedRecord};
use crate::runtime::{CallError, Decision, RuleSession, Subject};

pub const BATCH: usize = 1000;

/// What the rules decided: a verdict per employee, except the records a
/// rule rejected.
#[derive(Debug, Default)]
pub struct Decided {
    pub verdicts: BTreeMap<String, Verdict>,
    pub rejected: Vec<RejectedRecord>,
}

pub fn evaluate(rules: &mut [RuleSession], employees: &BTreeMap<String, Employee>) -> Result<Decided, CallError> {
    let mut verdicts = BTreeMap::new();
    let mut rejected = Vec::new();
    let all: Vec<&Employee> = employees.values().collect();
    for chunk in all.chunks(BATCH) {
        let mut subjects: Vec<Subject> = chunk
            .iter()
            .map(|e| Subject {
                employee: (*e).clone(),
                desired: None,
            })
            .collect();
        for rule in rules.iter_mut() {
            if subjects.is_empty() {
                break;
            }
            let decisions = rule.evaluate(&subjects)?;
            let mut kept = Vec::with_capacity(subjects.len());
            for (mut subject, decision) in subjects.into_iter().zip(decisions) {
                match decision {
                    Decision::Exclude(reason) => {
                        verdicts.insert(subject.employee.hr_id.clone(), Verdict::Excluded { reason });
                    }
                    Decision::Reject(reason) => rejected.push(RejectedRecord {
                        hr_id: Some(subject.employee.hr_id.clone()),
                        reason,
                    }),
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
                subject.employee.hr_id.clone(),
                Verdict::InScope {
                    status: subject.employee.status,
                    desired,
                },
            );
        }
    }
    Ok(Decided { verdicts, rejected })
}
