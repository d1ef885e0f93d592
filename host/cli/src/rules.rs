//! `hrsync rules try`: one employee from the live HR data through the
//! integration's rules, each rule's decision shown (docs/integration.md,
//! "Trying rules on one person"). Nothing is written.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use hrsync_engine::rules::{Outcome, Tried};
use hrsync_model::{Attribute, Decision, Employee};
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
    let file = match super::sync::load_file(&args.config) {
        Ok(file) => file,
        Err(refused) => return Ok(refused),
    };
    let job = match super::sync::job_of(&file, runtime) {
        Ok(job) => job,
        Err(refused) => return Ok(refused),
    };
    let (read, tried) = job.try_rules(&args.employee).map_err(|e| file.explain(&e))?;
    let mut missing = false;
    for one in &tried {
        let Some(employee) = &one.employee else {
            eprintln!(
                "employee {}: not among the {read} employees the source returned",
                one.hr_id
            );
            missing = true;
            continue;
        };
        print_employee(employee);
        print_trace(one);
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

fn print_trace(tried: &Tried) {
    for step in &tried.steps {
        let decision = match &step.decision {
            Decision::Keep => "keep".to_string(),
            Decision::Exclude(reason) => format!("exclude: {reason}"),
            Decision::Reject(reason) => format!("reject (the record is left as is this run): {reason}"),
            Decision::Modify(account) => format!(
                "modify: teams [{}]; attributes {}",
                account.teams.join(", "),
                attributes(&account.attributes)
            ),
        };
        println!("  {:<24} {decision}", step.rule);
        for line in &step.log {
            println!("  {:<24}   log: {line}", "");
        }
    }
    match tried.outcome() {
        Some(Outcome::Excluded(_)) => println!("  → excluded: no account (an existing one is disconnected)"),
        Some(Outcome::Rejected(_)) => println!("  → rejected: left as is this run"),
        Some(Outcome::InScope(account)) => println!(
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
        ),
        None => {}
    }
}

fn attributes(list: &[Attribute]) -> String {
    let shown: Vec<String> = list
        .iter()
        .map(|a| format!("{}={:?}", a.name, a.value.to_text()))
        .collect();
    format!("{{{}}}", shown.join(", "))
}
