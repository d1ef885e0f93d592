//! `hrsync rules try`: one employee from the live HR data through the
//! integration's rules, each rule's decision shown (docs/integration.md,
//! "Trying rules on one person"). Nothing is written.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use hrsync_engine::integration::IntegrationFile;
use hrsync_engine::read::{read_all, ReadError};
use hrsync_engine::rules::{trace, Traced};
use hrsync_model::{Attribute, Decision, DesiredAccount, Employee};
use hrsync_runtime::Runtime;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Reads the HR system, finds the employees named and runs each through
    /// the rules, printing every rule's decision, the teams and attributes
    /// that come out, and what the rules logged. Nothing is written.
    Try(TryArgs),
}

#[derive(Debug, Args)]
pub struct TryArgs {
    /// The integration file (docs/integration.md).
    #[arg(long)]
    config: PathBuf,
    /// The employee's id in the HR system (repeat for several).
    #[arg(long, required = true)]
    employee: Vec<String>,
}

/// Exit codes: 0 shown, 1 the HR read failed or an employee is not in it,
/// 2 the file is invalid.
pub fn run(runtime: &Runtime, command: RulesCommand) -> Result<ExitCode, String> {
    let RulesCommand::Try(args) = command;
    let file = IntegrationFile::load(&args.config).map_err(|e| e.to_string())?;
    let job = match file.job(runtime) {
        Ok(job) => job,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut source = job
        .source
        .plugin
        .source(&job.source.sandbox)
        .map_err(|e| format!("the source plugin could not start: {e}"))?;
    let mut rules = job
        .rules
        .iter()
        .map(|rule| rule.plugin.rule(&rule.sandbox))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a rule could not start: {e}"))?;
    let mut wanted: BTreeMap<String, Option<Employee>> = args.employee.iter().map(|id| (id.clone(), None)).collect();
    let mut read = 0usize;
    let mut consume = |page: Vec<Employee>| {
        read += page.len();
        for employee in page {
            if let Some(slot) = wanted.get_mut(&employee.hr_id) {
                *slot = Some(employee);
            }
        }
        // Stop reading once everyone asked for is found.
        wanted.values().any(Option::is_none)
    };
    let options = &job.settings.options;
    match read_all(
        &mut source,
        options.page_size,
        &job.settings.retry,
        &|_| {},
        &mut consume,
    ) {
        Ok(_) | Err(ReadError::Stopped) => {}
        Err(ReadError::Source(error)) => return Err(format!("reading the source failed: {error}")),
    }
    let mut missing = false;
    for (hr_id, employee) in wanted {
        let Some(employee) = employee else {
            eprintln!("employee {hr_id}: not among the {read} employees the source returned");
            missing = true;
            continue;
        };
        print_employee(&employee);
        let traced = trace(&mut rules, employee.clone()).map_err(|e| format!("a rule failed: {e}"))?;
        print_trace(&employee, &traced);
        println!();
    }
    Ok(if missing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_employee(e: &Employee) {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!(
        "employee {}: {} {} <{}>, {:?}, {} ({}), department {}, office {}, hired {}, supervisor {}",
        e.hr_id,
        e.first_name,
        e.last_name,
        or_none(&e.email),
        e.status,
        or_none(&e.job_title),
        or_none(&e.employment_type),
        or_none(&e.department),
        or_none(&e.office),
        or_none(&e.hire_date),
        e.supervisor
            .as_ref()
            .map(|s| s.hr_id.clone())
            .unwrap_or_else(|| "-".into()),
    );
    for attribute in &e.custom {
        println!("  custom.{} = {}", attribute.name, attribute.value.to_text());
    }
}

fn print_trace(employee: &Employee, traced: &[Traced]) {
    let mut desired: Option<&DesiredAccount> = None;
    for step in traced {
        let decision = match &step.decision {
            Decision::Keep => "keep".to_string(),
            Decision::Exclude(reason) => format!("exclude: {reason}"),
            Decision::Reject(reason) => format!("reject (the record is left as is this run): {reason}"),
            Decision::Modify(account) => {
                desired = Some(account);
                format!(
                    "keep; teams [{}]; attributes {}",
                    account.teams.join(", "),
                    attributes(&account.attributes)
                )
            }
        };
        println!("  {:<24} {decision}", step.rule);
        for line in &step.log {
            println!("  {:<24}   log: {line}", "");
        }
    }
    match traced.last().map(|t| &t.decision) {
        Some(Decision::Exclude(_)) => println!("  → excluded: no account (an existing one is disconnected)"),
        Some(Decision::Reject(_)) => println!("  → rejected: left as is this run"),
        _ => {
            let fallback = DesiredAccount::for_employee(employee);
            let account = desired.unwrap_or(&fallback);
            println!(
                "  → in scope: account {} ({}), teams [{}], attributes {}{}, manager {}",
                account.user_name,
                account.email.as_deref().unwrap_or("no e-mail"),
                account.teams.join(", "),
                attributes(&account.attributes),
                if account.create_only.is_empty() {
                    String::new()
                } else {
                    format!(", on create {}", attributes(&account.create_only))
                },
                account.manager_hr_id.as_deref().unwrap_or("none"),
            );
        }
    }
}

fn attributes(list: &[Attribute]) -> String {
    let shown: Vec<String> = list
        .iter()
        .map(|a| format!("{}={:?}", a.name, a.value.to_text()))
        .collect();
    format!("{{{}}}", shown.join(", "))
}
