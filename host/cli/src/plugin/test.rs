//! `hrsync plugin test`: the whole plugin, called as a run would call it —
//! a source's employees, a target's accounts and teams (and changes from a
//! file), a rule's decisions on employees from a file — so a plugin that
//! connects but maps wrongly shows it before any sync.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use hrsync_engine::fields::{alias_labels, unmatched_values, value_of, FieldPresence};
use hrsync_engine::installation::InstallationFile;
use hrsync_model::{
    Account, Applied, Change, ChangePage, Decision, DesiredAccount, Employee, EmployeePage, EmployeeStatus,
    PluginError, PluginKind, RejectedRecord, Subject, Team,
};
use hrsync_runtime::capability::fields::FieldReports;
use hrsync_runtime::capability::log::LogLine;
use hrsync_runtime::plugin::Session;
use hrsync_runtime::{CallError, HttpLedger, Plugin, Runtime, Sandbox};

#[derive(Debug, Args)]
pub struct TestArgs {
    file: PathBuf,
    /// Installation file (TOML): config, secrets, allowed_hosts, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print what the plugin returned as JSON on stdout (the rest goes to
    /// stderr): a source's employees can be fed to a rule's `--employees`.
    #[arg(long)]
    json: bool,
    /// A source: read every page, with counts and timing; a target: list
    /// every page of accounts and teams.
    #[arg(long)]
    all: bool,
    /// A source: read the changes since this cursor (a full read's last
    /// page gives one) instead of all employees.
    #[arg(long, value_name = "CURSOR")]
    since: Option<String>,
    /// How many records to ask for per page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    page_size: u32,
    /// A target: apply the changes in this JSON file (a list such as
    /// `[{"create_account": {"external_id": "7", "user_name": "ada@example.com", ...}}]`)
    /// — against a test app, never a live one.
    #[arg(long, value_name = "CHANGES.json")]
    apply: Option<PathBuf>,
    /// A rule: decide on the employees in this JSON file (a list, or what
    /// `--json` of a source printed) and print each decision.
    #[arg(long, value_name = "EMPLOYEES.json")]
    employees: Option<PathBuf>,
}

/// Where the human-readable lines go: stdout, or stderr when stdout carries
/// JSON.
struct Out {
    json: bool,
}

impl Out {
    fn line(&self, text: impl AsRef<str>) {
        if self.json {
            eprintln!("{}", text.as_ref());
        } else {
            println!("{}", text.as_ref());
        }
    }
}

/// Exit codes: 0 every call succeeded, 1 a call failed, 2 the config or an
/// input file is invalid or does not fit the plugin's kind.
pub fn run(runtime: &Runtime, args: TestArgs) -> Result<ExitCode, String> {
    let plugin = runtime
        .load_file(&args.file)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    if let Some(misplaced) = misplaced_option(plugin.kind(), &args) {
        eprintln!("error: {misplaced}");
        return Ok(ExitCode::from(2));
    }
    let installation = match &args.config {
        Some(path) => InstallationFile::load(path),
        None => Ok(InstallationFile::default()),
    };
    // A file that cannot be read or a secret that cannot be found is the
    // same kind of mistake as an invalid config: exit 2, as `hrsync sync`.
    let sandbox = match installation.and_then(|file| file.sandbox()) {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    let out = Out { json: args.json };
    let manifest = plugin.manifest();
    out.line(format!(
        "describe: ok — {} {} ({} plugin, WIT {})",
        manifest.name,
        manifest.version,
        manifest.kind,
        plugin.wit_version()
    ));
    if let Err(errors) = plugin.validate(&sandbox) {
        out.line("config: invalid");
        for error in errors {
            out.line(format!("  - {error}"));
        }
        return Ok(ExitCode::from(2));
    }
    out.line("config: valid");
    let (outcome, evidence) = match plugin.kind() {
        PluginKind::Source => source(&plugin, &sandbox, &args, &out),
        PluginKind::Target => target(&plugin, &sandbox, &args, &out),
        PluginKind::Rule => rule(&plugin, &sandbox, &args, &out),
    };
    if let Some(evidence) = evidence {
        evidence.print(&out);
    }
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failure::Call) => Ok(ExitCode::FAILURE),
        Err(Failure::Input(message)) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(2))
        }
    }
}

fn misplaced_option(kind: PluginKind, args: &TestArgs) -> Option<String> {
    let wrong = |option: &str, wanted: &str| {
        Some(format!(
            "{option} is for {wanted} plugins; {} is a {} plugin",
            args.file.display(),
            kind.name()
        ))
    };
    match kind {
        PluginKind::Source if args.apply.is_some() => wrong("--apply", "target"),
        PluginKind::Source if args.employees.is_some() => wrong("--employees", "rule"),
        PluginKind::Target if args.since.is_some() => wrong("--since", "source"),
        PluginKind::Target if args.employees.is_some() => wrong("--employees", "rule"),
        PluginKind::Rule if args.since.is_some() => wrong("--since", "source"),
        PluginKind::Rule if args.apply.is_some() => wrong("--apply", "target"),
        PluginKind::Rule if args.all => wrong("--all", "source and target"),
        _ => None,
    }
}

enum Failure {
    /// A call failed; it is printed.
    Call,
    /// An input file is unusable.
    Input(String),
}

/// What the plugin did besides answering: its log, its HTTP, its fields.
struct Evidence {
    log: Vec<LogLine>,
    http: HttpLedger,
    fields: FieldReports,
}

impl Evidence {
    fn of<B>(session: &Session<B>) -> Self {
        Self {
            log: session.log_lines(),
            http: session.http_ledger().clone(),
            fields: session.field_reports().clone(),
        }
    }

    fn print(&self, out: &Out) {
        for line in &self.log {
            out.line(format!("  plugin log [{}] {}", line.level, line.message));
        }
        let ledger = &self.http;
        if ledger.sent + ledger.denied > 0 {
            let statuses: Vec<String> = ledger.by_status.iter().map(|(s, n)| format!("{s}×{n}")).collect();
            out.line(format!(
                "http: {} sent, {} denied, {} failed; statuses {}",
                ledger.sent,
                ledger.denied,
                ledger.failed,
                if statuses.is_empty() {
                    "-".into()
                } else {
                    statuses.join(" ")
                }
            ));
        }
        for field in &self.fields.unreadable {
            out.line(format!("unreadable field: {} — {}", field.field, field.reason));
        }
        for field in &self.fields.required {
            out.line(format!("needs field: {} — {}", field.field, field.reason));
        }
    }
}

/// Prints a call's outcome line; a failure ends the test.
fn step<T>(out: &Out, what: &str, result: Result<T, CallError>) -> Result<T, Failure> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            out.line(format!("{what}: failed — {error}"));
            Err(Failure::Call)
        }
    }
}

fn source(plugin: &Plugin, sandbox: &Sandbox, args: &TestArgs, out: &Out) -> (Result<(), Failure>, Option<Evidence>) {
    let mut session = match plugin.source(sandbox) {
        Ok(session) => session,
        Err(error) => return (step::<()>(out, "start", Err(error)), None),
    };
    let outcome = (|| {
        step(out, "test-connection", session.test_connection())?;
        out.line("test-connection: ok");
        let function = if args.since.is_some() {
            "changes-since"
        } else {
            "list-employees"
        };
        let (mut employees, mut rejected, mut removed, mut cursor) = (Vec::new(), Vec::new(), Vec::new(), None);
        let walked = walk_pages(
            out,
            function,
            args.all,
            |page| match &args.since {
                Some(since) => session.changes_since(since, page, args.page_size).map(SourcePage::from),
                None => session.list_employees(page, args.page_size).map(SourcePage::from),
            },
            |read| read.next_page.clone(),
            |read| {
                employees.extend(read.employees);
                rejected.extend(read.rejected);
                removed.extend(read.removed);
                cursor = read.cursor;
            },
        )?;
        let removed_count = if args.since.is_some() {
            format!(", {} removed", removed.len())
        } else {
            String::new()
        };
        out.line(walked.summary(
            function,
            &format!(
                "{} employees, {} rejected{removed_count}",
                employees.len(),
                rejected.len()
            ),
        ));
        if let Some(cursor) = &cursor {
            out.line(format!("cursor for --since: {cursor}"));
        }
        // Custom fields by label too, as a run reads them (`custom.Cost
        // center` for `custom.dynamic_87541`), so the JSON fits a rule's
        // --employees as the run's employees would.
        alias_labels(&mut employees, &session.field_reports().labels);
        // Every record rejected is a mapping that is wrong, not dirty data.
        let all_rejected = employees.is_empty() && !rejected.is_empty();
        if args.json {
            // A struct, not `json!`: fields stay in their order (hr_id first).
            #[derive(serde::Serialize)]
            struct Read<'a> {
                employees: &'a [Employee],
                rejected: &'a [RejectedRecord],
                removed: &'a [String],
                cursor: &'a Option<String>,
            }
            let document = Read {
                employees: &employees,
                rejected: &rejected,
                removed: &removed,
                cursor: &cursor,
            };
            println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        } else {
            print_employees(&employees);
            print_rejected(&rejected);
            for id in &removed {
                println!("  removed: {id}");
            }
        }
        if all_rejected {
            out.line(format!(
                "{function}: failed — every record read was rejected ({}): the mapping is wrong",
                rejected.len()
            ));
            return Err(Failure::Call);
        }
        Ok(())
    })();
    (outcome, Some(Evidence::of(&session)))
}

fn target(plugin: &Plugin, sandbox: &Sandbox, args: &TestArgs, out: &Out) -> (Result<(), Failure>, Option<Evidence>) {
    let changes = match &args.apply {
        Some(path) => match read_json::<Vec<Change>>(path, "a list of changes") {
            Ok(changes) => Some(changes),
            Err(message) => return (Err(Failure::Input(message)), None),
        },
        None => None,
    };
    let mut session = match plugin.target(sandbox) {
        Ok(session) => session,
        Err(error) => return (step::<()>(out, "start", Err(error)), None),
    };
    let outcome = (|| {
        let capabilities = step(out, "get-capabilities", session.capabilities())?;
        out.line(format!(
            "capabilities: teams {}, managers {}, invites {}, reactivation {}, batches of {}, matches by {}",
            yes(capabilities.teams),
            yes(capabilities.managers),
            yes(capabilities.invites),
            yes(capabilities.reactivation),
            capabilities.max_batch,
            capabilities.matching_attributes.join(", ")
        ));
        step(out, "test-connection", session.test_connection())?;
        out.line("test-connection: ok");
        let mut accounts = Vec::new();
        let walked = walk_pages(
            out,
            "list-accounts",
            args.all,
            |page| session.list_accounts(page, args.page_size),
            |read| read.next_page.clone(),
            |read| accounts.extend(read.accounts),
        )?;
        out.line(walked.summary("list-accounts", &records(accounts.len())));
        let mut teams = Vec::new();
        if capabilities.teams {
            let walked = walk_pages(
                out,
                "list-teams",
                args.all,
                |page| session.list_teams(page, args.page_size),
                |read| read.next_page.clone(),
                |read| teams.extend(read.teams),
            )?;
            out.line(walked.summary("list-teams", &records(teams.len())));
        }
        // In batches of the target's size, as a run sends them.
        let applied = match changes {
            Some(changes) => {
                let mut outcomes = Vec::with_capacity(changes.len());
                for batch in changes.chunks(capabilities.max_batch.max(1) as usize) {
                    outcomes.extend(step(out, "apply-batch", session.apply_batch(batch.to_vec()))?);
                }
                Some((changes, outcomes))
            }
            None => None,
        };
        if args.json {
            let outcomes = applied.as_ref().map(|(changes, outcomes)| {
                changes
                    .iter()
                    .zip(outcomes)
                    .map(|(change, outcome)| match outcome {
                        Ok(applied) => json!({ "change": change, "applied": applied }),
                        Err(error) => json!({ "change": change, "error": error, "message": error.to_string() }),
                    })
                    .collect::<Vec<_>>()
            });
            let document = json!({ "accounts": accounts, "teams": teams, "applied": outcomes });
            println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        } else {
            print_accounts(&accounts);
            print_teams(&teams);
            if let Some((changes, outcomes)) = &applied {
                print_applied(changes, outcomes);
            }
        }
        match applied {
            Some((_, outcomes)) if outcomes.iter().any(Result::is_err) => Err(Failure::Call),
            _ => Ok(()),
        }
    })();
    (outcome, Some(Evidence::of(&session)))
}

/// A source's page, of a full read or of changes.
struct SourcePage {
    employees: Vec<Employee>,
    rejected: Vec<RejectedRecord>,
    removed: Vec<String>,
    next_page: Option<String>,
    cursor: Option<String>,
}

impl From<EmployeePage> for SourcePage {
    fn from(read: EmployeePage) -> Self {
        Self {
            employees: read.employees,
            rejected: read.rejected,
            removed: Vec::new(),
            next_page: read.next_page,
            cursor: read.cursor,
        }
    }
}

impl From<ChangePage> for SourcePage {
    fn from(read: ChangePage) -> Self {
        Self {
            employees: read.employees,
            rejected: read.rejected,
            removed: read.removed,
            next_page: read.next_page,
            cursor: read.cursor,
        }
    }
}

/// How a listing was walked: pages read, the next page left unread, time.
struct Walked {
    pages: usize,
    unread: Option<String>,
    started: Instant,
}

impl Walked {
    /// `list-accounts: 2 pages, 120 records, 35 ms; last page`.
    fn summary(&self, function: &str, counts: &str) -> String {
        let until = match &self.unread {
            Some(next) => format!("next page {next:?} (--all reads every page)"),
            None => "last page".to_string(),
        };
        format!(
            "{function}: {} page{}, {counts}, {} ms; {until}",
            self.pages,
            if self.pages == 1 { "" } else { "s" },
            self.started.elapsed().as_millis()
        )
    }
}

/// The first page of a listing, or every page with `--all`, each handed
/// to `take`.
fn walk_pages<P>(
    out: &Out,
    function: &str,
    all: bool,
    mut read: impl FnMut(Option<&str>) -> Result<P, CallError>,
    next_of: impl Fn(&P) -> Option<String>,
    mut take: impl FnMut(P),
) -> Result<Walked, Failure> {
    let started = Instant::now();
    let mut page: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        let read = step(out, function, read(page.as_deref()))?;
        let next = next_of(&read);
        take(read);
        match next {
            Some(next) if all => page = Some(next),
            unread => return Ok(Walked { pages, unread, started }),
        }
    }
}

fn records(count: usize) -> String {
    format!("{count} record{}", if count == 1 { "" } else { "s" })
}

fn rule(plugin: &Plugin, sandbox: &Sandbox, args: &TestArgs, out: &Out) -> (Result<(), Failure>, Option<Evidence>) {
    let employees = match &args.employees {
        Some(path) => match read_employees(path) {
            Ok(employees) => employees,
            Err(message) => return (Err(Failure::Input(message)), None),
        },
        None => Vec::new(),
    };
    let mut session = match plugin.rule(sandbox) {
        Ok(session) => session,
        Err(error) => return (step::<()>(out, "start", Err(error)), None),
    };
    let outcome = (|| {
        // A rule has no connection: evaluating an empty batch reads and
        // checks its config.
        step(out, "evaluate (no employees)", session.evaluate(Vec::new()))?;
        out.line("evaluate (no employees): ok");
        if args.employees.is_none() {
            out.line(
                "(--employees FILE decides on employees from a file: `plugin test SOURCE.wasm --json` writes one)",
            );
            return Ok(());
        }
        let count = employees.len();
        let decided = step(
            out,
            "evaluate",
            session.evaluate(employees.into_iter().map(Subject::new).collect()),
        )?;
        out.line(format!("evaluate: {count} employees"));
        if args.json {
            let document: Vec<_> = decided
                .iter()
                .map(|(subject, decision)| json!({ "hr_id": subject.employee.hr_id, "decision": decision }))
                .collect();
            println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        } else {
            for (subject, decision) in &decided {
                let e = &subject.employee;
                println!(
                    "  {} {} {}: {}",
                    e.hr_id,
                    e.first_name,
                    e.last_name,
                    describe_decision(e, decision)
                );
            }
        }
        let employees: Vec<&Employee> = decided.iter().map(|(subject, _)| &subject.employee).collect();
        // A run stops when no employee has a field the rule needs; so does
        // this test, on the file's employees.
        let reports = session.field_reports();
        let missing: Vec<String> = reports
            .required
            .iter()
            .filter(|need| !employees.iter().any(|e| value_of(e, &need.field).is_some()))
            .map(|need| format!("{} ({})", need.field, need.reason))
            .collect();
        // Values the rule compares with that no employee of the file has
        // (a typo such as `Vertreib`), as a run's plan notes them.
        let mut presence = FieldPresence::default();
        presence.expect(&reports.expected);
        employees.iter().for_each(|e| presence.observe(e));
        let expected = vec![(session.plugin_name().to_string(), reports.expected.clone())];
        for note in unmatched_values(&expected, &presence) {
            out.line(format!("note: {note}"));
        }
        let rejected = decided.iter().filter(|(_, d)| matches!(d, Decision::Reject(_))).count();
        if rejected > 0 && rejected == decided.len() {
            out.line(format!(
                "evaluate: failed — the rule rejected every employee ({rejected}): it cannot decide for anyone"
            ));
            return Err(Failure::Call);
        }
        if !missing.is_empty() {
            out.line(format!(
                "evaluate: failed — the rule needs {}, which none of the {count} employees of the file has: a run would stop before anything is planned",
                missing.join(", ")
            ));
            return Err(Failure::Call);
        }
        Ok(())
    })();
    (outcome, Some(Evidence::of(&session)))
}

fn describe_decision(employee: &Employee, decision: &Decision) -> String {
    match decision {
        Decision::Keep => "keep".to_string(),
        Decision::Exclude(reason) => format!("exclude — {reason}"),
        Decision::Reject(reason) => format!("reject (left as is this run) — {reason}"),
        Decision::Modify(account) => format!("modify — {}", describe_account(employee, account)),
    }
}

/// What differs from the default account, as a rule changed it.
fn describe_account(employee: &Employee, account: &DesiredAccount) -> String {
    let default = DesiredAccount::for_employee(employee);
    let mut parts = Vec::new();
    if account.user_name != default.user_name {
        parts.push(format!("user name {:?}", account.user_name));
    }
    if account.email != default.email {
        parts.push(format!("e-mail {}", account.email.as_deref().unwrap_or("none")));
    }
    if account.first_name != default.first_name || account.last_name != default.last_name {
        parts.push(format!("name {} {}", account.first_name, account.last_name));
    }
    if account.external_id != default.external_id {
        parts.push(format!("external id {:?}", account.external_id));
    }
    if !account.teams.is_empty() {
        parts.push(format!("teams [{}]", account.teams.join(", ")));
    }
    for attribute in &account.attributes {
        parts.push(format!("{} = {:?}", attribute.name, attribute.value.to_text()));
    }
    for attribute in &account.create_only {
        parts.push(format!(
            "on create {} = {:?}",
            attribute.name,
            attribute.value.to_text()
        ));
    }
    if account.manager_hr_id != default.manager_hr_id {
        parts.push(format!(
            "manager {}",
            account.manager_hr_id.as_deref().unwrap_or("none")
        ));
    }
    if parts.is_empty() {
        "as the default account".to_string()
    } else {
        parts.join(", ")
    }
}

fn yes(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| format!("{} is not {what}: at `{}`: {}", path.display(), e.path(), e.inner()))
}

/// A list of employees, or the object `plugin test SOURCE --json` prints.
fn read_employees(path: &Path) -> Result<Vec<Employee>, String> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum EmployeesFile {
        List(Vec<serde_json::Value>),
        Read { employees: Vec<serde_json::Value> },
    }
    let file: EmployeesFile = read_json(path, "a list of employees or {\"employees\": [...]}")?;
    let values = match file {
        EmployeesFile::List(values) | EmployeesFile::Read { employees: values } => values,
    };
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_path_to_error::deserialize(value)
                .map_err(|e| format!("{}: employee {index}: at `{}`: {}", path.display(), e.path(), e.inner()))
        })
        .collect()
}

/// Columns padded to their widest cell; cells cut at 40 characters.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    const WIDEST: usize = 40;
    let cut = |cell: &String| -> String {
        if cell.chars().count() > WIDEST {
            format!("{}…", cell.chars().take(WIDEST - 1).collect::<String>())
        } else {
            cell.clone()
        }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(cut).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("  {}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

fn status(status: EmployeeStatus) -> &'static str {
    match status {
        EmployeeStatus::Onboarding => "onboarding",
        EmployeeStatus::Active => "active",
        EmployeeStatus::Leave => "leave",
        EmployeeStatus::Inactive => "inactive",
    }
}

fn print_employees(employees: &[Employee]) {
    if employees.is_empty() {
        return;
    }
    let rows = employees
        .iter()
        .map(|e| {
            let mut custom: Vec<String> = e
                .custom
                .iter()
                .map(|a| format!("{}={}", a.name, a.value.to_text()))
                .collect();
            custom.sort();
            vec![
                e.hr_id.clone(),
                format!("{} {}", e.first_name, e.last_name),
                or_dash(&e.email),
                status(e.status).to_string(),
                or_dash(&e.department),
                or_dash(&e.job_title),
                e.supervisor
                    .as_ref()
                    .map(|s| s.hr_id.clone())
                    .unwrap_or_else(|| "-".into()),
                or_dash(&e.hire_date),
                if custom.is_empty() {
                    "-".into()
                } else {
                    custom.join(", ")
                },
            ]
        })
        .collect();
    print_table(
        &[
            "HR ID",
            "NAME",
            "E-MAIL",
            "STATUS",
            "DEPARTMENT",
            "TITLE",
            "SUPERVISOR",
            "HIRED",
            "CUSTOM",
        ],
        rows,
    );
}

fn print_rejected(rejected: &[RejectedRecord]) {
    for record in rejected {
        println!(
            "  rejected {}: {}",
            record.hr_id.as_deref().unwrap_or("(no id)"),
            record.reason
        );
    }
}

fn print_accounts(accounts: &[Account]) {
    if accounts.is_empty() {
        println!("  (no accounts)");
        return;
    }
    let rows = accounts
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.user_name.clone(),
                or_dash(&a.email),
                format!(
                    "{} {}",
                    a.first_name.as_deref().unwrap_or(""),
                    a.last_name.as_deref().unwrap_or("")
                )
                .trim()
                .to_string(),
                yes(a.active).to_string(),
                or_dash(&a.external_id),
                or_dash(&a.manager_id),
            ]
        })
        .collect();
    print_table(
        &["ID", "USER NAME", "E-MAIL", "NAME", "ACTIVE", "EXTERNAL ID", "MANAGER"],
        rows,
    );
}

fn print_teams(teams: &[Team]) {
    if teams.is_empty() {
        return;
    }
    let rows = teams
        .iter()
        .map(|t| vec![t.id.clone(), t.name.clone(), t.member_ids.join(", ")])
        .collect();
    print_table(&["TEAM ID", "NAME", "MEMBERS"], rows);
}

fn print_applied(changes: &[Change], outcomes: &[Result<Applied, PluginError>]) {
    for (index, (change, outcome)) in changes.iter().zip(outcomes).enumerate() {
        let what = serde_json::to_value(change)
            .ok()
            .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
            .unwrap_or_default();
        match outcome {
            Ok(Applied { id: Some(id) }) => println!("  change {}: {what}: ok (id {id})", index + 1),
            Ok(Applied { id: None }) => println!("  change {}: {what}: ok", index + 1),
            Err(error) => println!("  change {}: {what}: failed — {error}", index + 1),
        }
    }
}
