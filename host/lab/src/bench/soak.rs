//! `hrsync-lab bench soak`: minutes of scheduled runs every few seconds
//! across many tenants while the HR systems and the apps fail a share of
//! their requests on purpose (429 with Retry-After, 500, 503, requests
//! held past the client's timeout) and Personio's tokens expire every few
//! seconds. The HR data changes all along: renames, moves between
//! departments, leavers, hires. An admin resumes what a failed run paused.
//!
//! At the end the faults stop, every integration gets one more run, and
//! each app is compared with its HR data as both now read: every employee
//! exactly one account (active unless they left, with their name), in the
//! team of their department only, nobody else; no run stays unfinished;
//! the server's memory at the end within 10% of what it was after two
//! minutes. Any difference fails the command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::nodes::{request, Node};
use super::tenants::{each, employee, next_department, set_up, Company, Runs};
use super::{in_temp_dir, BenchDatabase};
use hrsync_emulators::personio::HrEmployee;
use hrsync_model::clock::now_ms;

pub struct Options {
    pub minutes: f64,
    pub tenants: usize,
    pub employees: usize,
    pub fault_percent: f64,
    pub database_url: Option<String>,
}

/// One company's HR data as the soak made it.
struct Expected {
    people: BTreeMap<u64, HrEmployee>,
    next_id: u64,
}

pub fn run(options: Options) -> Result<ExitCode, String> {
    in_temp_dir("soak", &["personio", "scope_rule", "team_map", "scim"], |dir| {
        soak(dir, &options)
    })
}

fn soak(dir: &Path, options: &Options) -> Result<ExitCode, String> {
    let scratch = BenchDatabase::open(options.database_url.as_deref(), dir)?;
    let database = scratch.url.as_str();
    let node = Node::start(
        database,
        dir,
        "node",
        &[
            ("HRSYNC_MIN_SCHEDULE_INTERVAL_SECS", "1".into()),
            ("HRSYNC_SCHEDULER_TICK_MS", "200".into()),
            // A held request fails after 2 s, as a timeout, not after 30.
            ("HRSYNC_PLUGIN_HTTP_TIMEOUT_SECS", "2".into()),
        ],
    )?;
    let companies = set_up(&node.base, options.tenants, options.employees, 0)?;
    let mut expected: Vec<Expected> = (0..companies.len())
        .map(|t| Expected {
            people: (1..=options.employees as u64).map(|id| (id, employee(t, id))).collect(),
            next_id: options.employees as u64 + 1,
        })
        .collect();
    // Every five seconds, full reads in between incremental ones.
    each(&companies, |company| {
        company.hr.set_token_ttl(Duration::from_secs(3));
        request(
            &node.base,
            &company.key,
            "PATCH",
            &format!("/api/v1/integrations/{}", company.integration),
            Some(&json!({ "schedule": "*/5 * * * * *", "options": {
                "deletion_threshold_percent": 100, "full_read_every_hours": 0.01, "page_size": 20 } })),
        )?;
        company.act(&node.base, "activate")
    })?;
    let runs = Runs::connect(database)?;
    let since = now_ms();
    hrsync_emulators::set_random_faults(options.fault_percent, Duration::from_secs(3));
    println!(
        "soak: {} tenants × {} employees, runs every 5 s, {}% of emulator requests failing, tokens living 3 s, {} minute(s)",
        options.tenants, options.employees, options.fault_percent, options.minutes
    );
    let started = Instant::now();
    let length = Duration::from_secs_f64(options.minutes * 60.0);
    let mut rss_after_two: Option<f64> = None;
    let mut resumed = 0;
    let mut round: u64 = 0;
    while started.elapsed() < length {
        std::thread::sleep(Duration::from_secs(5));
        round += 1;
        change_hr(&companies, &mut expected, round);
        resumed += resume_paused(&node, &companies)?;
        if rss_after_two.is_none() && started.elapsed() >= Duration::from_secs(120) {
            rss_after_two = Some(node.rss_mib());
        }
        if round.is_multiple_of(12) {
            println!(
                "  {:.0} min: runs {:?}, {} faults answered, {resumed} resumed, RSS {:.0} MiB",
                started.elapsed().as_secs_f64() / 60.0,
                runs.statuses(since)?,
                hrsync_emulators::random_faults_answered(),
                node.rss_mib()
            );
        }
    }
    let rss_at_end = node.rss_mib();
    hrsync_emulators::set_random_faults(0.0, Duration::ZERO);
    let calm = now_ms();
    println!("faults off; every integration runs once more");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        resumed += resume_paused(&node, &companies)?;
        let done = companies
            .iter()
            .all(|company| succeeded_since(&node, company, calm).unwrap_or(false));
        if done {
            break;
        }
        if Instant::now() > deadline {
            return Err("not every integration had a successful run within 5 minutes of the faults stopping".into());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    // What runs were going on finish before the count.
    each(&companies, |company| company.act(&node.base, "deactivate"))?;
    std::thread::sleep(Duration::from_secs(5));

    let mut differences = Vec::new();
    for (t, (company, expected)) in companies.iter().zip(&expected).enumerate() {
        for difference in compare(company, expected) {
            differences.push(format!("tenant {t}: {difference}"));
        }
    }
    let statuses = runs.statuses(since)?;
    let unfinished: i64 = ["running", "queued"].iter().filter_map(|s| statuses.get(*s)).sum();
    println!();
    println!("runs by status: {statuses:?}");
    println!(
        "{} faults answered, {resumed} paused integrations resumed, {} accounts compared",
        hrsync_emulators::random_faults_answered(),
        expected.iter().map(|e| e.people.len()).sum::<usize>()
    );
    let memory = match rss_after_two {
        Some(two) => {
            let growth = (rss_at_end - two) / two * 100.0;
            println!("RSS after 2 minutes {two:.0} MiB, at the end {rss_at_end:.0} MiB ({growth:+.1}%)");
            (growth <= 10.0)
                .then_some(())
                .ok_or(format!("memory grew {growth:.1}% from minute 2 to the end"))
        }
        None => {
            println!("RSS at the end {rss_at_end:.0} MiB (shorter than 2 minutes: not compared)");
            Ok(())
        }
    };
    for difference in differences.iter().take(20) {
        println!("  {difference}");
    }
    if !differences.is_empty() {
        return Err(format!(
            "{} difference(s) between the apps and their HR data",
            differences.len()
        ));
    }
    if unfinished > 0 {
        return Err(format!("{unfinished} run(s) stayed unfinished"));
    }
    memory?;
    println!("every app matches its HR data; no run unfinished");
    Ok(ExitCode::SUCCESS)
}

/// A few changes in a tenth of the companies: a rename, a move, a leaver,
/// a hire each.
fn change_hr(companies: &[Company], expected: &mut [Expected], round: u64) {
    let count = companies.len();
    for t in (0..count).filter(|t| (*t as u64 + round).is_multiple_of(10)) {
        let (company, expected) = (&companies[t], &mut expected[t]);
        let active: Vec<u64> = expected
            .people
            .values()
            .filter(|e| e.status == "active")
            .map(|e| e.id)
            .collect();
        if active.len() < 4 {
            continue;
        }
        let pick = |n: u64| active[((round * 7 + n * 13) as usize) % active.len()];
        let (renamed, moved, leaver) = (pick(1), pick(2), pick(3));
        let mut change = |id: u64, edit: &dyn Fn(&mut HrEmployee)| {
            if let Some(person) = expected.people.get_mut(&id) {
                edit(person);
                company.hr.update(id, edit);
            }
        };
        change(renamed, &|e| e.first_name = format!("Renamed{round}"));
        change(moved, &|e| {
            e.department = Some(next_department(e.department.as_deref()))
        });
        if leaver != renamed && leaver != moved && leaver != 1 {
            change(leaver, &|e| {
                e.status = "inactive".into();
                e.termination_date = Some("2026-01-31".into());
            });
        }
        let hire = employee(t, expected.next_id);
        expected.next_id += 1;
        company.hr.upsert([hire.clone()]);
        expected.people.insert(hire.id, hire);
    }
}

/// Resumes the companies' paused integrations, as an admin would; how many.
fn resume_paused(node: &Node, companies: &[Company]) -> Result<usize, String> {
    let mut resumed = 0;
    for company in companies {
        let path = format!("/api/v1/integrations/{}", company.integration);
        let integration = request(&node.base, &company.key, "GET", &path, None)?;
        if integration["state"] == "paused" {
            company.act(&node.base, "resume")?;
            resumed += 1;
        }
    }
    Ok(resumed)
}

fn succeeded_since(node: &Node, company: &Company, since: i64) -> Result<bool, String> {
    let runs = request(
        &node.base,
        &company.key,
        "GET",
        &format!("/api/v1/runs?integration={}&limit=20", company.integration),
        None,
    )?;
    Ok(runs.as_array().is_some_and(|runs| {
        runs.iter()
            .any(|r| r["status"] == "succeeded" && r["started_at"].as_i64().unwrap_or(0) >= since)
    }))
}

/// How the app differs from the HR data.
fn compare(company: &Company, expected: &Expected) -> Vec<String> {
    let mut differences = Vec::new();
    let users = company.app.users();
    let mut by_name: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for user in &users {
        by_name
            .entry(user["userName"].as_str().unwrap_or_default().to_lowercase())
            .or_default()
            .push(user);
    }
    let mut ids_of_department: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut known = BTreeSet::new();
    for person in expected.people.values() {
        let email = person.email.clone().unwrap_or_default().to_lowercase();
        known.insert(email.clone());
        let accounts = by_name.get(&email).cloned().unwrap_or_default();
        let active = person.status == "active";
        match accounts.as_slice() {
            [] if !active => {} // left before any run saw them
            [] => differences.push(format!("{email} has no account")),
            [account] => {
                if account["active"] != active {
                    differences.push(format!(
                        "{email}: active {} in the app, {active} in HR",
                        account["active"]
                    ));
                }
                if active && account["name"]["givenName"] != person.first_name.as_str() {
                    differences.push(format!(
                        "{email}: given name {} in the app, {} in HR",
                        account["name"]["givenName"], person.first_name
                    ));
                }
                if active {
                    let id = account["id"].as_str().unwrap_or_default().to_string();
                    ids_of_department
                        .entry(person.department.clone().unwrap_or_default())
                        .or_default()
                        .insert(id);
                }
            }
            more => differences.push(format!("{email} has {} accounts", more.len())),
        }
    }
    for name in by_name.keys().filter(|name| !known.contains(*name)) {
        differences.push(format!("{name} has an account but is nobody in HR"));
    }
    let active_ids: BTreeSet<String> = ids_of_department.values().flatten().cloned().collect();
    for group in company.app.groups() {
        let name = group["displayName"].as_str().unwrap_or_default().to_string();
        let members: BTreeSet<String> = group["members"]
            .as_array()
            .map(|members| {
                members
                    .iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let members: BTreeSet<String> = members.intersection(&active_ids).cloned().collect();
        let wanted = ids_of_department.get(&name).cloned().unwrap_or_default();
        if members != wanted {
            differences.push(format!(
                "team {name}: {} active members in the app, {} in HR",
                members.len(),
                wanted.len()
            ));
        }
    }
    differences
}
