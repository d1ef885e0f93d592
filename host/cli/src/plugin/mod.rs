//! `hrsync plugin inspect`, `hrsync plugin test` (test.rs) and `hrsync
//! plugin new` (new.rs).

mod new;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

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
    /// Call a plugin as a run would, with an installation file: describe,
    /// the config check and test-connection, then a source's first page of
    /// employees (`--all`, `--since`), a target's accounts and teams
    /// (`--apply`), a rule's decisions (`--employees`).
    Test(test::TestArgs),
    /// Write a new plugin from a template into a folder, ready to build:
    /// `--kind source|target|rule`, `--lang rust|python|js`.
    New(new::NewArgs),
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
        PluginCommand::Test(args) => test::run(runtime, args),
        PluginCommand::New(args) => new::run(args),
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
