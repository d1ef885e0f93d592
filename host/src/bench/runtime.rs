//! `hrsync bench runtime`: what the sandbox costs.
//!
//! Targets on a 2-core machine: cached load ≥ 100× faster than compile;
//! fresh store + instantiate + trivial call ≤ 40 µs median (pooling);
//! ≤ 5 µs per employee through a Rust rule on batches of 1,000.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wasmtime::component::Component;

use super::{built_plugin, Distribution};
use crate::runtime::cache::{content_hash, ArtifactCache};
use crate::runtime::types::{DesiredAccount, Employee, EmployeeStatus, PersonRef};
use crate::runtime::{Runtime, RuntimeOptions, Sandbox, Subject};

pub fn run(plugin: Option<PathBuf>, iterations: usize) -> Result<ExitCode, String> {
    let path = plugin.unwrap_or_else(|| built_plugin("scope_rule"));
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("{}: {e} (build the plugins first: scripts/build-plugins)", path.display()))?;
    let cache_dir = tempdir()?;
    let runtime = Runtime::new(RuntimeOptions { cache_dir: Some(cache_dir.clone()), ..RuntimeOptions::default() })
        .map_err(|e| e.to_string())?;
    println!("hrsync bench runtime — {} ({} KiB)", path.display(), bytes.len() / 1024);
    println!("allocator: {}", if runtime.pooling() { "pooling" } else { "on-demand (pooling unavailable)" });

    // 1. Compile versus cached load.
    let engine = runtime.engine();
    let compile = Distribution::of(
        (0..5)
            .map(|_| {
                let start = Instant::now();
                Component::new(engine, &bytes).map(|_| start.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("compile: {e:#}"))?,
    );
    let cache = ArtifactCache::open(&cache_dir, engine).map_err(|e| e.to_string())?;
    let hash = content_hash(&bytes);
    cache.load_or_compile(engine, &bytes, &hash).map_err(|e| format!("{e:#}"))?;
    let cached = Distribution::of(
        (0..50)
            .map(|_| {
                let start = Instant::now();
                cache.load_or_compile(engine, &bytes, &hash).map(|_| start.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cached load: {e:#}"))?,
    );
    let full_load = Distribution::of(
        (0..20)
            .map(|_| {
                let start = Instant::now();
                runtime.load(&bytes).map(|_| start.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?,
    );
    let speedup = compile.median.as_secs_f64() / cached.median.as_secs_f64();
    println!();
    println!("compile (Cranelift)            median {:>10}", fmt(compile.median));
    println!("cached load (checksum+mmap)    median {:>10}   {speedup:.0}× faster than compile (target ≥ 100×)", fmt(cached.median));
    println!("full load (+link, describe)    median {:>10}", fmt(full_load.median));

    // 2. Fresh store + instantiate + trivial call.
    let plugin = runtime.load(&bytes).map_err(|e| e.to_string())?;
    let sandbox = Sandbox::default();
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        let mut session = plugin.rule(&sandbox).map_err(|e| e.to_string())?;
        session.evaluate(&[]).map_err(|e| e.to_string())?;
        samples.push(start.elapsed());
        drop(session);
    }
    let instantiate = Distribution::of(samples);
    println!();
    println!(
        "fresh store + instantiate + call  median {:>10}  p99 {:>10}  min {:>10}  ({} runs; target median ≤ 40 µs)",
        fmt(instantiate.median),
        fmt(instantiate.p99),
        fmt(instantiate.min),
        iterations
    );

    // 3. Rule cost per employee, batches of 1,000 on a reused instance.
    let config = serde_json::json!({
        "include": [{ "name": "current staff", "all": [{ "field": "status", "op": "in", "value": ["active", "onboarding", "leave"] }] }],
        "exclude": [
            { "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] },
            { "name": "test accounts", "all": [{ "field": "email", "op": "regex", "value": "^test\\." }] }
        ]
    });
    let sandbox = Sandbox { config, ..Sandbox::default() };
    let mut session = plugin.rule(&sandbox).map_err(|e| e.to_string())?;
    let batch: Vec<Subject> = (0..1000).map(synthetic_subject).collect();
    let mut kept = 0;
    let mut samples = Vec::new();
    for round in 0..60 {
        let start = Instant::now();
        let decisions = session.evaluate(&batch).map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        if round >= 10 {
            samples.push(elapsed);
        }
        kept = decisions.iter().filter(|d| matches!(d, crate::runtime::Decision::Keep(_))).count();
    }
    let per_batch = Distribution::of(samples);
    println!();
    println!(
        "rule, batch of 1,000 (reused instance)  median {:>10}/batch  = {:>8} per employee  p99 {:>10}/batch  ({kept} of 1000 kept; target ≤ 5 µs per employee)",
        fmt(per_batch.median),
        fmt(per_batch.median / 1000),
        fmt(per_batch.p99)
    );
    let _ = std::fs::remove_dir_all(&cache_dir);
    Ok(ExitCode::SUCCESS)
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 10.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.2} µs")
    }
}

fn tempdir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("hrsync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A plausible employee: a mix of statuses, externals and departments.
pub fn synthetic_subject(i: usize) -> Subject {
    let status = match i % 20 {
        0 => EmployeeStatus::Inactive,
        1 => EmployeeStatus::Leave,
        2 => EmployeeStatus::Onboarding,
        _ => EmployeeStatus::Active,
    };
    let department = ["Engineering", "Sales", "People", "Finance", "Support"][i % 5];
    let employee = Employee {
        hr_id: format!("{}", 10_000 + i),
        email: Some(if i % 97 == 0 { format!("test.user{i}@example.com") } else { format!("employee{i}@example.com") }),
        first_name: format!("First{i}"),
        last_name: format!("Last{i}"),
        preferred_name: None,
        status,
        employment_type: Some(if i % 10 == 3 { "external" } else { "internal" }.into()),
        job_title: Some("Specialist".into()),
        department: Some(department.into()),
        team: Some(format!("{department} {}", i % 3)),
        office: Some(["Berlin", "Munich", "Madrid"][i % 3].into()),
        supervisor: Some(PersonRef {
            hr_id: format!("{}", 10_000 + i / 10),
            email: Some(format!("employee{}@example.com", i / 10)),
            first_name: Some(format!("First{}", i / 10)),
            last_name: Some(format!("Last{}", i / 10)),
        }),
        hire_date: Some("2021-04-01".into()),
        termination_date: None,
        gender: Some("diverse".into()),
        language: Some("de".into()),
        custom: vec![],
    };
    let desired = DesiredAccount {
        external_id: employee.hr_id.clone(),
        user_name: employee.email.clone().unwrap_or_default(),
        email: employee.email.clone(),
        first_name: employee.first_name.clone(),
        last_name: employee.last_name.clone(),
        attributes: vec![],
        create_only: vec![],
        teams: vec![],
        manager_hr_id: employee.supervisor.as_ref().map(|s| s.hr_id.clone()),
    };
    Subject { employee, desired }
}
