//! An integration ready to run: its components loaded, their sandboxes
//! resolved, its settings. [`Job::run`] is one run from trigger to record:
//! it loads the links and cursor, decides how much to read, starts a fresh
//! session per plugin (one instance per run), runs the steps and records
//! the outcome — the same for `hrsync sync`, the demo, the benchmark and
//! (later) the scheduler.

use hrsync_model::clock::now_ms;

use super::record;
use super::run::{run_observed, Observer, RunError, RunReport, Sessions, Settings};
use super::storage::RunStore;
use super::trigger::{read_since, FullReads, Trigger};
use hrsync_runtime::{Plugin, Sandbox};

/// A component and what its installation gives it.
pub struct PluginSetup {
    pub plugin: Plugin,
    pub sandbox: Sandbox,
}

pub struct Job {
    pub integration: String,
    pub source: PluginSetup,
    pub rules: Vec<PluginSetup>,
    pub target: PluginSetup,
    pub settings: Settings,
    pub full_reads: FullReads,
}

#[derive(Debug, Clone, Copy)]
pub struct RunRequest<'a> {
    pub trigger: Trigger,
    /// The member who started it, if one did.
    pub by: Option<&'a str>,
    /// Stop after the plan and record it.
    pub dry_run: bool,
    /// Read everyone even when an incremental read would do.
    pub full: bool,
}

impl Default for RunRequest<'_> {
    fn default() -> Self {
        Self {
            trigger: Trigger::Cli,
            by: None,
            dry_run: false,
            full: false,
        }
    }
}

/// A run that ended, with or without failed items.
#[derive(Debug)]
pub struct Finished {
    pub run_id: String,
    pub report: RunReport,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("storage: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The run stopped; it is recorded as failed with this error.
    #[error("run {run_id} failed: {error}")]
    Run { run_id: String, error: RunError },
}

impl JobError {
    fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}

impl Job {
    /// One run, recorded in `store`. Blocking: call it from a thread that
    /// may block (`tokio` drives the store's futures).
    pub fn run<S: RunStore>(
        &self,
        store: &S,
        tokio: &tokio::runtime::Handle,
        request: RunRequest<'_>,
        observe: Observer,
    ) -> Result<Finished, JobError> {
        let run_id = tokio
            .block_on(store.start_run(&self.integration, request.trigger.as_str(), request.by))
            .map_err(JobError::store)?;
        self.run_started(store, tokio, run_id, request, observe)
    }

    /// Runs a run already recorded as started (`Store::start_run`): the
    /// admin API answers with its id before it ends.
    pub fn run_started<S: RunStore>(
        &self,
        store: &S,
        tokio: &tokio::runtime::Handle,
        run_id: String,
        request: RunRequest<'_>,
        observe: Observer,
    ) -> Result<Finished, JobError> {
        let integration = self.integration.as_str();
        let loaded = (|| {
            let links = tokio.block_on(store.links(integration))?;
            let cursor = tokio.block_on(store.cursor(integration))?;
            let full_read_at = tokio.block_on(store.full_read_at(integration))?;
            let open_conflicts = tokio.block_on(store.open_conflicts(integration))?;
            Ok::<_, S::Error>((links, cursor, full_read_at, open_conflicts))
        })();
        let (links, cursor, full_read_at, open_conflicts) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                let _ = tokio.block_on(record::record_failure(
                    store,
                    integration,
                    &run_id,
                    request.by,
                    &error.to_string(),
                ));
                return Err(JobError::store(error));
            }
        };
        let settings = Settings {
            since: read_since(cursor, full_read_at, now_ms(), self.full_reads, request.full),
            dry_run: request.dry_run,
            open_conflicts,
            ..self.settings.clone()
        };
        match self.run_steps(&run_id, &links, &settings, observe) {
            Ok(report) => {
                tokio
                    .block_on(record::record(store, integration, &run_id, request.by, &links, &report))
                    .map_err(JobError::store)?;
                Ok(Finished { run_id, report })
            }
            Err(error) => {
                tokio
                    .block_on(record::record_failure(
                        store,
                        integration,
                        &run_id,
                        request.by,
                        &error.to_string(),
                    ))
                    .map_err(JobError::store)?;
                Err(JobError::Run { run_id, error })
            }
        }
    }

    fn run_steps(
        &self,
        run_id: &str,
        links: &[super::correlate::Link],
        settings: &Settings,
        observe: Observer,
    ) -> Result<RunReport, RunError> {
        let sandbox = |setup: &PluginSetup| Sandbox {
            run_id: Some(run_id.to_string()),
            ..setup.sandbox.clone()
        };
        let start = |role: &'static str| move |error| RunError::Start { role, error };
        let mut source = self
            .source
            .plugin
            .source(&sandbox(&self.source))
            .map_err(start("source"))?;
        let mut rules = self
            .rules
            .iter()
            .map(|rule| rule.plugin.rule(&sandbox(rule)).map_err(start("rule")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut target = self
            .target
            .plugin
            .target(&sandbox(&self.target))
            .map_err(start("target"))?;
        let sessions = Sessions {
            source: &mut source,
            rules: &mut rules,
            target: &mut target,
        };
        run_observed(sessions, links, settings, observe)
    }
}
