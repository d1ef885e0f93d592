//! `hrsync plugin inspect` and `hrsync plugin test`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use hrsync_engine::installation::InstallationFile;
use hrsync_runtime::{Plugin, Runtime};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Print a plugin's manifest, kind and WIT version.
    Inspect {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Instantiate a plugin with an installation file and call describe and
    /// test-connection.
    Test {
        file: PathBuf,
        /// Installation file (TOML): config, secrets, allowed_hosts, limits.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub fn run(runtime: &Runtime, command: PluginCommand) -> Result<ExitCode, String> {
    match command {
        PluginCommand::Inspect { file, json } => {
            let plugin = runtime
                .load_file(&file)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            if json {
                let doc = serde_json::json!({
                    "manifest": plugin.manifest(),
                    "wit_version": plugin.wit_version().to_string(),
                    "content_hash": plugin.content_hash(),
                });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else {
                print_manifest(&plugin);
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test { file, config } => {
            let plugin = runtime
                .load_file(&file)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let installation = match &config {
                Some(path) => InstallationFile::load(path).map_err(|e| e.to_string())?,
                None => InstallationFile::default(),
            };
            let sandbox = installation.sandbox().map_err(|e| e.to_string())?;
            let manifest = plugin.manifest();
            println!(
                "describe: ok — {} {} ({} plugin, WIT {})",
                manifest.name,
                manifest.version,
                manifest.kind,
                plugin.wit_version()
            );
            if let Err(errors) = plugin.validate(&sandbox) {
                println!("config: invalid");
                for error in errors {
                    println!("  - {error}");
                }
                return Ok(ExitCode::from(2));
            }
            println!("config: valid");
            let probe = plugin.probe(&sandbox);
            let ledger = probe.http;
            for line in probe.log {
                println!("  plugin log [{:?}] {}", line.level, line.message);
            }
            if ledger.sent + ledger.denied > 0 {
                let statuses: Vec<String> = ledger.by_status.iter().map(|(s, n)| format!("{s}×{n}")).collect();
                println!(
                    "http: {} sent, {} denied, {} failed; statuses {}",
                    ledger.sent,
                    ledger.denied,
                    ledger.failed,
                    if statuses.is_empty() {
                        "-".into()
                    } else {
                        statuses.join(" ")
                    }
                );
            }
            for field in &probe.fields.unreadable {
                println!("unreadable field: {} — {}", field.field, field.reason);
            }
            for field in &probe.fields.required {
                println!("needs field: {} — {}", field.field, field.reason);
            }
            match probe.outcome {
                Ok(()) => {
                    println!("test-connection: ok");
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    println!("test-connection: failed — {error}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn print_manifest(plugin: &Plugin) {
    let m = plugin.manifest();
    println!("name:         {}", m.name);
    println!("version:      {}", m.version);
    println!("kind:         {}", m.kind);
    println!("wit version:  hrsync:plugin@{}", plugin.wit_version());
    println!("content hash: {}", plugin.content_hash());
    if !m.description.is_empty() {
        println!("description:  {}", m.description);
    }
    if m.secrets.is_empty() {
        println!("secrets:      none");
    } else {
        println!("secrets:");
        for s in &m.secrets {
            let required = if s.required { "required" } else { "optional" };
            println!("  - {} ({required}) {}", s.name, s.description);
        }
    }
    if m.requested_hosts.is_empty() {
        println!("hosts:        none");
    } else {
        println!("hosts:        {}", m.requested_hosts.join(", "));
    }
    println!("config schema:");
    let schema = serde_json::to_string_pretty(&m.config_schema).unwrap_or_default();
    for line in schema.lines() {
        println!("  {line}");
    }
}
