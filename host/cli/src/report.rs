//! How the command line shows a run: a table of what happened to users and
//! teams, then errors and skips by employee; and the run history.

use std::collections::BTreeMap;
use std::time::Duration;

use hrsync_engine::apply::ItemResult;
use hrsync_engine::plan::ReadKind;
use hrsync_engine::record::{adopted_summary, kind, summary};
use hrsync_engine::run::RunReport;
use hrsync_engine::storage::ItemRecord;
use hrsync_engine::whatif::{Aspect, WhatIf};
use hrsync_model::Change;
use hrsync_store::RunRecord;

/// Lines of detail shown before "... and N more".
const DETAIL_LINES: usize = 25;

/// `2026-11-22 04:00:00 UTC`
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// This process's peak resident memory (Linux `VmHWM`), in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Counts by change kind: (succeeded or planned, failed). A manager link
/// that leaves an account without a manager counts as `clear-manager`.
fn tally(report: &RunReport) -> BTreeMap<&'static str, (usize, usize)> {
    let key = |change: &Change| match change {
        Change::LinkManager(link) if link.manager_id.is_none() => "clear-manager",
        other => kind(other),
    };
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for outcome in &report.outcomes {
        let entry = counts.entry(key(&outcome.planned.change)).or_default();
        match outcome.result {
            ItemResult::Failed(_) => entry.1 += 1,
            _ => entry.0 += 1,
        }
    }
    for planned in &report.planned {
        counts.entry(key(&planned.change)).or_default().0 += 1;
    }
    counts
}

/// `, peak memory 120 MiB`, or nothing where it cannot be read.
fn memory_note() -> String {
    peak_memory_mib()
        .map(|mib| format!(", peak memory {mib:.0} MiB"))
        .unwrap_or_default()
}

pub fn print_report(run_id: &str, report: &RunReport, took: Duration) {
    let read = match report.read_kind {
        ReadKind::Full => "full read",
        ReadKind::Incremental => "incremental read",
    };
    let headline = if report.dry_run {
        "dry run: the plan below was not applied".to_string()
    } else if report.failed() > 0 {
        format!("finished with {} failed changes", report.failed())
    } else if report.too_many_rejected {
        format!(
            "succeeded with rejections ({} records left as is, more than options.rejected_threshold_percent allows)",
            report.rejected.len()
        )
    } else {
        "succeeded".to_string()
    };
    let memory = memory_note();
    // "planned in", not "not applied in": the time is the dry run's.
    let took_word = if report.dry_run { "; planned in" } else { " in" };
    println!(
        "run {run_id} ({read}, {} employees) {headline}{took_word} {:.2} s{memory}",
        report.employees_read,
        took.as_secs_f64()
    );
    let counts = tally(report);
    let get = |k: &str| counts.get(k).copied().unwrap_or_default();
    let verb = if report.dry_run { "to " } else { "" };
    println!(
        "  {:<12} {:>9} {:>9} {:>12} {:>12} {:>8}",
        "",
        format!("{verb}create"),
        format!("{verb}update"),
        format!("{verb}deactivate"),
        format!("{verb}reactivate"),
        "failed"
    );
    let users = [
        "create-account",
        "update-account",
        "deactivate-account",
        "reactivate-account",
    ];
    let failed_users: usize = users.iter().chain(&["invite"]).map(|k| get(k).1).sum();
    println!(
        "  {:<12} {:>9} {:>9} {:>12} {:>12} {:>8}",
        "users",
        get(users[0]).0,
        get(users[1]).0,
        get(users[2]).0,
        get(users[3]).0,
        failed_users
    );
    let teams = ["create-team", "rename-team", "add-member", "remove-member"];
    let failed_teams: usize = teams.iter().map(|k| get(k).1).sum();
    println!(
        "  {:<12} {:>9} {:>9} {:>12} {:>12} {:>8}",
        "teams",
        get(teams[0]).0,
        get(teams[1]).0,
        "-",
        "-",
        failed_teams
    );
    println!(
        "  memberships +{} -{}, managers set {} cleared {} (failed {}), invitations {}, skipped {}, rejected {}, conflicts {}, adopted {}",
        get("add-member").0,
        get("remove-member").0,
        get("link-manager").0,
        get("clear-manager").0,
        get("link-manager").1 + get("clear-manager").1,
        get("invite").0
            + report
                .outcomes
                .iter()
                .filter(|o| !matches!(o.result, ItemResult::Failed(_)) && invited(&o.planned.change))
                .count(),
        report.skipped.len(),
        report.rejected.len(),
        report.conflicts.len(),
        report.adopted.len(),
    );

    let failures: Vec<String> = report
        .outcomes
        .iter()
        .filter_map(|o| match &o.result {
            ItemResult::Failed(error) => Some(format!(
                "  {:<10} {}: {}",
                o.planned.hr_id.as_deref().unwrap_or("-"),
                summary(&o.planned.change),
                error.to_string()
            )),
            _ => None,
        })
        .chain(
            report
                .rejected
                .iter()
                .map(|r| format!("  {:<10} left as is: {}", r.hr_id.as_deref().unwrap_or("-"), r.reason)),
        )
        .collect();
    print_section("errors by employee", &failures);
    if report.dry_run {
        let planned: Vec<String> = report
            .planned
            .iter()
            .map(|p| format!("  {:<10} {}", p.hr_id.as_deref().unwrap_or("-"), summary(&p.change)))
            .collect();
        print_section("planned", &planned);
    }
    let conflicts: Vec<String> = report
        .conflicts
        .iter()
        .map(|c| {
            let standing = if c.keeps_account {
                "keeps its account"
            } else {
                "left as is"
            };
            format!("  {:<10} {standing}: {}", c.hr_id, c.message)
        })
        .collect();
    print_section(
        "conflicts (fix the data in the HR system, or link by hand: hrsync link)",
        &conflicts,
    );
    let moves: Vec<String> = report
        .moves
        .iter()
        .map(|m| {
            format!(
                "  {:<10} takes account {} of employee {} (a rehire)",
                m.to, m.account_id, m.from
            )
        })
        .collect();
    print_section("rehires", &moves);
    let adopted: Vec<String> = report
        .adopted
        .iter()
        .map(|link| format!("  {:<10} {}", link.hr_id, adopted_summary(link)))
        .collect();
    print_section("adopted (existing accounts matched to employees)", &adopted);
    let skipped: Vec<String> = report
        .skipped
        .iter()
        .map(|s| format!("  {:<10} {}", s.hr_id, s.reason))
        .collect();
    print_section("skipped", &skipped);
    let notes: Vec<String> = report
        .notes
        .iter()
        .map(|n| format!("  {:<10} {}", n.hr_id.as_deref().unwrap_or("-"), n.message))
        .collect();
    print_section("notes", &notes);
    if !report.dry_run && report.outcomes.is_empty() {
        println!("  no changes: zero writes");
    }
}

fn invited(change: &Change) -> bool {
    matches!(change, Change::CreateAccount(d) if d.invite)
}

fn print_section(title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    println!("{title}:");
    for line in lines.iter().take(DETAIL_LINES) {
        println!("{line}");
    }
    if lines.len() > DETAIL_LINES {
        println!(
            "  ... and {} more (`hrsync runs --run RUN` lists every item)",
            lines.len() - DETAIL_LINES
        );
    }
}

/// The run history, newest first.
pub fn print_runs(runs: &[RunRecord]) {
    println!(
        "{:<24} {:<31} {:<24} {:<9} {:<10} {:>8}  {:<38} error",
        "started at", "run", "integration", "trigger", "status", "seconds", "counts"
    );
    for run in runs {
        let took = run
            .finished_at
            .map(|f| format!("{:.1}", (f - run.started_at) as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let trigger = match &run.started_by {
            Some(by) => format!("{} ({by})", run.trigger),
            None => run.trigger.clone(),
        };
        println!(
            "{:<24} {:<31} {:<24} {:<9} {:<10} {:>8}  {:<38} {}",
            timestamp(run.started_at),
            run.id,
            run.integration_id,
            trigger,
            run.status,
            took,
            short_counts(&run.counts),
            run.error.as_deref().unwrap_or("")
        );
    }
}

/// `users +3 ~1 -1, teams +1, failed 0, conflicts 2` from a run's counts.
fn short_counts(counts: &str) -> String {
    let counts: serde_json::Value = serde_json::from_str(counts).unwrap_or_default();
    let n = |k: &str| counts[k].as_u64().unwrap_or(0);
    let mut text = format!(
        "users +{} ~{} -{} ^{}, teams +{}, failed {}",
        n("create-account"),
        n("update-account"),
        n("deactivate-account"),
        n("reactivate-account"),
        n("create-team"),
        n("failed")
    );
    for key in ["rejected", "conflicts", "adopted"] {
        if n(key) > 0 {
            text.push_str(&format!(", {key} {}", n(key)));
        }
    }
    text
}

/// One run's items.
pub fn print_items(run: &RunRecord, items: &[ItemRecord]) {
    print_runs(std::slice::from_ref(run));
    println!();
    println!(
        "{:<10} {:<20} {:<16} {:>8}  change / error",
        "employee", "kind", "outcome", "attempts"
    );
    for item in items {
        println!(
            "{:<10} {:<20} {:<16} {:>8}  {}{}",
            item.hr_id.as_deref().unwrap_or("-"),
            item.kind,
            item.outcome,
            item.attempts,
            item.summary,
            item.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default()
        );
    }
}

/// Employees shown in a what-if before "... and N more".
const WHAT_IF_EMPLOYEES: usize = 100;

/// A what-if: counts by aspect, then each employee treated differently.
pub fn print_what_if(compared: &WhatIf, took: Duration) {
    let memory = memory_note();
    println!(
        "what-if ({} employees, HR and the app read once) in {:.2} s{memory}: nothing was written",
        compared.employees_read,
        took.as_secs_f64()
    );
    println!("  {:<20} {:>9}", "", "employees");
    for aspect in [
        Aspect::NewlyExcluded,
        Aspect::NewlyIncluded,
        Aspect::Account,
        Aspect::Attributes,
        Aspect::Teams,
        Aspect::Manager,
    ] {
        println!(
            "  {:<20} {:>9}",
            aspect.label(),
            compared.counts.get(&aspect).copied().unwrap_or(0)
        );
    }
    let names = |teams: &[String]| {
        if teams.is_empty() {
            "none".to_string()
        } else {
            teams.join(", ")
        }
    };
    println!(
        "  teams only the draft creates: {}; only the current rules create: {}",
        names(&compared.teams_only_draft),
        names(&compared.teams_only_current)
    );
    if compared.differences.is_empty() {
        println!("  no employee is treated differently");
        return;
    }
    println!("by employee (current → draft; - only now, + only with the draft):");
    for difference in compared.differences.iter().take(WHAT_IF_EMPLOYEES) {
        if difference.current == difference.draft {
            println!("  {:<10} {}", difference.hr_id, difference.current);
        } else {
            println!(
                "  {:<10} {} → {}",
                difference.hr_id, difference.current, difference.draft
            );
        }
        for change in &difference.only_current {
            println!("  {:<10}   - {change}", "");
        }
        for change in &difference.only_draft {
            println!("  {:<10}   + {change}", "");
        }
    }
    if compared.differences.len() > WHAT_IF_EMPLOYEES {
        println!(
            "  ... and {} more employees",
            compared.differences.len() - WHAT_IF_EMPLOYEES
        );
    }
}
