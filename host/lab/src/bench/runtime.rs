//! `hrsync-lab bench runtime`: what the sandbox costs.
//!
//! Targets on a 2-core machine: cached load ≥ 100× faster than compile;
//! fresh store + instantiate + trivial call ≤ 40 µs median (pooling);
//! ≤ 5 µs per employee through a Rust rule on batches of 1,000.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wasmtime::component::Component;

use super::{built_plugin, Distribution};
use hrsync_emulators::synthetic::synthetic_employee;
use hrsync_model::{Decision, Subject};
use hrsync_runtime::cache::{content_hash, ArtifactCache};
use hrsync_runtime::{Plugin, Runtime, RuntimeOptions, Sandbox};

pub fn run(plugin: Option<PathBuf>, iterations: usize, rule_only: bool) -> Result<ExitCode, String> {
    let path = plugin.unwrap_or_else(|| built_plugin("scope_rule"));
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: {e} (build the plugins first: scripts/build-plugins)",
            path.display()
        )
    })?;
    let cache_dir = tempdir()?;
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.clone()),
        ..RuntimeOptions::default()
    })
    .map_err(|e| e.to_string())?;
    println!(
        "hrsync-lab bench runtime — {} ({} KiB)",
        path.display(),
        bytes.len() / 1024
    );
    println!(
        "allocator: {}",
        if runtime.pooling() {
            "pooling"
        } else {
            "on-demand (pooling unavailable)"
        }
    );

    if !rule_only {
        measure_loading(&runtime, &bytes, &cache_dir)?;
    }
    let plugin = runtime.load(&bytes).map_err(|e| e.to_string())?;
    if !rule_only {
        measure_instantiation(&plugin, iterations)?;
    }
    measure_rule(&plugin)?;
    let _ = std::fs::remove_dir_all(&cache_dir);
    Ok(ExitCode::SUCCESS)
}

/// Compile versus cached load.
fn measure_loading(runtime: &Runtime, bytes: &[u8], cache_dir: &std::path::Path) -> Result<(), String> {
    let engine = runtime.engine();
    let compile = Distribution::of(
        (0..5)
            .map(|_| {
                let start = Instant::now();
                Component::new(engine, bytes).map(|_| start.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("compile: {e:#}"))?,
    );
    let cache = ArtifactCache::open(cache_dir, engine, u64::MAX).map_err(|e| e.to_string())?;
    let hash = content_hash(bytes);
    cache
        .load_or_compile(engine, bytes, &hash)
        .map_err(|e| format!("{e:#}"))?;
    let cached = Distribution::of(
        (0..50)
            .map(|_| {
                let start = Instant::now();
                cache.load_or_compile(engine, bytes, &hash).map(|_| start.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cached load: {e:#}"))?,
    );
    let full_load = Distribution::of(
        (0..20)
            .map(|_| {
                let start = Instant::now();
                runtime.load(bytes).map(|_| start.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?,
    );
    let speedup = compile.median.as_secs_f64() / cached.median.as_secs_f64();
    println!();
    println!("compile (Cranelift)            median {:>10}", fmt(compile.median));
    println!(
        "cached load (checksum+mmap)    median {:>10}   {speedup:.0}× faster than compile (target ≥ 100×)",
        fmt(cached.median)
    );
    println!("full load (+link, describe)    median {:>10}", fmt(full_load.median));
    Ok(())
}

/// Fresh store + instantiate + trivial call.
fn measure_instantiation(plugin: &Plugin, iterations: usize) -> Result<(), String> {
    let sandbox = Sandbox::default();
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        let mut session = plugin.rule(&sandbox).map_err(|e| e.to_string())?;
        session.evaluate(Vec::new()).map_err(|e| e.to_string())?;
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
    Ok(())
}

/// Rule cost per employee.
fn measure_rule(plugin: &Plugin) -> Result<(), String> {
    // Batches of 1,000 on a reused instance: once with no filters (the cost of crossing the boundary), once with a
    // realistic scope.
    let mut batch: Vec<Subject> = (0..1000).map(|i| Subject::new(synthetic_employee(i))).collect();
    println!();
    for (label, config) in [
        ("rule, no filters (boundary only)", serde_json::json!({})),
        ("rule, 3 filters (in, equals, regex)", realistic_scope()),
    ] {
        let sandbox = Sandbox {
            config,
            ..Sandbox::default()
        };
        let mut session = plugin.rule(&sandbox).map_err(|e| e.to_string())?;
        let mut kept = 0;
        let mut samples = Vec::new();
        for round in 0..60 {
            let start = Instant::now();
            // The subjects cross the boundary and come back with their
            // decisions, as in a run.
            let decided = session
                .evaluate(std::mem::take(&mut batch))
                .map_err(|e| e.to_string())?;
            let elapsed = start.elapsed();
            if round >= 10 {
                samples.push(elapsed);
            }
            let (subjects, decisions): (Vec<Subject>, Vec<Decision>) = decided.into_iter().unzip();
            batch = subjects;
            kept = decisions
                .iter()
                .filter(|d| matches!(d, Decision::Keep | Decision::Modify(_)))
                .count();
        }
        let per_batch = Distribution::of(samples);
        println!(
            "{label:<38} batch of 1,000: median {:>9}  p99 {:>9}  = {:>8} per employee  ({kept} kept; target ≤ 5 µs)",
            fmt(per_batch.median),
            fmt(per_batch.p99),
            fmt(per_batch.median / 1000),
        );
    }
    Ok(())
}

fn realistic_scope() -> serde_json::Value {
    serde_json::json!({
        "include": [{ "name": "current staff", "all": [{ "field": "status", "op": "in", "value": ["active", "onboarding", "leave"] }] }],
        "exclude": [
            { "name": "externals", "all": [{ "field": "employment_type", "op": "equals", "value": "external" }] },
            { "name": "test accounts", "all": [{ "field": "email", "op": "regex", "value": "^test\\." }] }
        ]
    })
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
