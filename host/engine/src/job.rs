//! An integration ready to run: its components loaded, their sandboxes
//! resolved, its settings. [`Job::run`] is one run from trigger to record:
//! it loads the links and cursor, decides how much to read, starts a fresh
//! session per plugin (one instance per run), runs the steps and records
//! the outcome — the same for `hrsync sync`, the demo, the benchmark and
//! `hrsync serve`.

use std::collections::BTreeSet;
use std::sync::Arc;

use hrsync_model::clock::now_ms;

use super::read::{read_all, ReadError};
use super::record;
use super::rules::{trace, Tried};
use super::run::{
    run_observed, what_if, Observer, Progress, RunError, RunReport, RunScope, Sessions, Settings, StopSignal, Variant,
};
use super::source::SourceSetup;
use super::storage::RunStore;
use super::trigger::{read_since, FullReads, ReadAsked, Trigger};
use super::whatif::{compare, WhatIf};
use hrsync_runtime::{Plugin, RuleSession, Sandbox, TargetSession};

/// A component and what its installation gives it.
#[derive(Clone)]
pub struct PluginSetup {
    pub plugin: Plugin,
    pub sandbox: Sandbox,
}

impl PluginSetup {
    /// Starts a rule as a run would and hands it no one: a rule builds
    /// itself from its config on its first call, so a script that does not
    /// compile or a filter with a value that is no date is refused here,
    /// before any run.
    pub fn check_rule(&self) -> Result<(), hrsync_runtime::CallError> {
        self.plugin.rule(&self.sandbox)?.evaluate(Vec::new()).map(|_| ())
    }

    /// The installation's sandbox, its logs and HTTP calls attributed to
    /// the run when there is one.
    pub(crate) fn sandbox(&self, run_id: Option<&str>) -> std::borrow::Cow<'_, Sandbox> {
        match run_id {
            Some(run_id) => std::borrow::Cow::Owned(Sandbox {
                run_id: Some(run_id.to_string()),
                ..self.sandbox.clone()
            }),
            None => std::borrow::Cow::Borrowed(&self.sandbox),
        }
    }

    fn start_target(&self, run_id: Option<&str>) -> Result<TargetSession, RunError> {
        let sandbox = self.sandbox(run_id);
        (self.plugin.target(&sandbox)).map_err(|error| RunError::Start { role: "target", error })
    }
}

/// A session of each rule, in order.
/// Each employee (found or not) through the rules, traced.
fn trace_each(
    rules: &mut [RuleSession],
    employees: impl Iterator<Item = (String, Option<hrsync_model::Employee>)>,
) -> Result<Vec<Tried>, RunError> {
    employees
        .map(|(hr_id, employee)| {
            let steps = match &employee {
                Some(employee) => trace(rules, employee.clone()).map_err(RunError::Rules)?,
                None => Vec::new(),
            };
            Ok(Tried { hr_id, employee, steps })
        })
        .collect()
}

fn start_rules(rules: &[PluginSetup], run_id: Option<&str>) -> Result<Vec<RuleSession>, RunError> {
    rules
        .iter()
        .map(|rule| {
            let sandbox = rule.sandbox(run_id);
            rule.plugin
                .rule(&sandbox)
                .map_err(|error| RunError::Start { role: "rule", error })
        })
        .collect()
}

#[derive(Clone)]
pub struct Job {
    pub integration: String,
    pub source: SourceSetup,
    pub rules: Vec<PluginSetup>,
    pub target: PluginSetup,
    pub settings: Settings,
    pub full_reads: FullReads,
}

/// What to run: who asked, and how. One type for `hrsync sync`, the
/// admin API, HR webhooks and the schedule.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub trigger: Trigger,
    /// The member who started it, if one did.
    pub by: Option<String>,
    /// Stop after the plan and record it.
    pub dry_run: bool,
    /// Read everyone even when an incremental read would do.
    pub full: bool,
    /// Read the changes since the cursor even when the configuration
    /// changed or the last full read is old (a quick dry run).
    pub incremental: bool,
    /// Provision only these employees (HR ids); everyone else is left as
    /// is and the cursor does not move.
    pub only: Option<BTreeSet<String>>,
    /// Asks the run to stop after the batch in flight (a shutdown).
    pub stop: StopSignal,
}

impl Default for RunRequest {
    /// `hrsync sync`: applies changes, reads incrementally when it can.
    fn default() -> Self {
        Self {
            trigger: Trigger::Cli,
            by: None,
            dry_run: false,
            full: false,
            incremental: false,
            only: None,
            stop: StopSignal::default(),
        }
    }
}

impl RunRequest {
    /// A member's run from the admin API.
    pub fn manual(by: &str) -> Self {
        Self {
            trigger: Trigger::Manual,
            by: Some(by.to_string()),
            ..Self::default()
        }
    }

    /// The schedule's run.
    pub fn scheduled() -> Self {
        Self {
            trigger: Trigger::Schedule,
            ..Self::default()
        }
    }
}

/// Told of a run's progress, on the thread that runs its steps.
pub type SharedObserver = Arc<dyn Fn(Progress) + Send + Sync>;

/// An observer that ignores progress.
pub fn unobserved() -> SharedObserver {
    Arc::new(|_| {})
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
    /// A what-if stopped (nothing is recorded).
    #[error("the what-if failed: {0}")]
    WhatIf(RunError),
    /// A what-if draft reads another source or writes another target.
    #[error("the draft's {0} differs from the integration's: a what-if compares rules and options over one read")]
    OtherEnds(&'static str),
}

impl JobError {
    fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}

impl Job {
    /// Every plugin of the job reads `zone` as the integration's time zone
    /// (`clock.time-zone`: the day a rule's "today" is); UTC when `None`.
    pub fn in_time_zone(mut self, zone: Option<&str>) -> Self {
        for setup in (self.source.plugin_mut().into_iter())
            .chain(self.rules.iter_mut())
            .chain(std::iter::once(&mut self.target))
        {
            setup.sandbox.time_zone = zone.map(str::to_string);
        }
        self
    }

    /// One run, recorded in `store`.
    pub async fn run<S: RunStore>(
        &self,
        store: &S,
        request: RunRequest,
        observe: SharedObserver,
    ) -> Result<Finished, JobError> {
        let run_id = store
            .start_run(&self.integration, request.trigger.as_str(), request.by.as_deref())
            .await
            .map_err(JobError::store)?;
        self.run_started(store, run_id, request, observe).await
    }

    /// Runs a run already recorded as started (`RunStore::start_run`): the
    /// admin API answers with its id before it ends.
    ///
    /// The hand-over between async and blocking code is here and only
    /// here: the store is read and written on the caller's executor; the
    /// steps, which call plugins (wasm, and their HTTP requests, both
    /// blocking), run on one of tokio's blocking threads.
    pub async fn run_started<S: RunStore>(
        &self,
        store: &S,
        run_id: String,
        request: RunRequest,
        observe: SharedObserver,
    ) -> Result<Finished, JobError> {
        let integration = self.integration.as_str();
        let by = request.by.as_deref();
        let config = self.config_hash();
        let loaded = async {
            Ok::<_, S::Error>((
                store.links(integration).await?,
                store.cursor(integration).await?,
                store.last_full_read(integration).await?,
                store.open_conflicts(integration).await?,
            ))
        }
        .await;
        let (links, cursor, last_full_read, open_conflicts) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                let _ = record::record_failure(store, integration, &run_id, by, &error.to_string()).await;
                return Err(JobError::store(error));
            }
        };
        let scope = RunScope {
            since: read_since(
                cursor,
                last_full_read.as_ref(),
                &config,
                now_ms(),
                self.full_reads,
                match (request.full, request.incremental) {
                    (true, _) => ReadAsked::Full,
                    (false, true) => ReadAsked::Incremental,
                    (false, false) => ReadAsked::Auto,
                },
            ),
            dry_run: request.dry_run,
            open_conflicts,
            only: request.only.clone(),
            stop: request.stop.clone(),
        };
        // A clone per run: plugins share their compiled code; the rest is
        // small.
        let (job, id) = (self.clone(), run_id.clone());
        let steps = tokio::task::spawn_blocking(move || {
            let outcome = job.run_steps(&id, &links, &scope, &*observe);
            (links, outcome)
        })
        .await;
        let outcome = match steps {
            Ok((links, Ok(report))) => {
                record::record(store, integration, &run_id, by, &links, &report, &config)
                    .await
                    .map_err(JobError::store)?;
                return Ok(Finished { run_id, report });
            }
            Ok((_, Err(error))) => error,
            Err(joined) => RunError::Aborted(joined.to_string()),
        };
        record::record_failure(store, integration, &run_id, by, &outcome.to_string())
            .await
            .map_err(JobError::store)?;
        Err(JobError::Run { run_id, error: outcome })
    }

    /// What-if: this integration and `draft` (the same source and target,
    /// other rules or options) planned over one read of HR and of the app,
    /// compared employee by employee. Nothing is written or recorded.
    pub async fn what_if<S: RunStore>(&self, store: &S, draft: &Job) -> Result<WhatIf, JobError> {
        let same = |a: &PluginSetup, b: &PluginSetup| {
            a.plugin.content_hash() == b.plugin.content_hash() && a.sandbox.config == b.sandbox.config
        };
        if self.source.identity() != draft.source.identity() {
            return Err(JobError::OtherEnds("source"));
        }
        if !same(&self.target, &draft.target) {
            return Err(JobError::OtherEnds("target"));
        }
        let links = store.links(&self.integration).await.map_err(JobError::store)?;
        let (job, draft) = (self.clone(), draft.clone());
        let compared = tokio::task::spawn_blocking(move || job.what_if_steps(&draft, &links))
            .await
            .map_err(|joined| JobError::WhatIf(RunError::Aborted(joined.to_string())))?;
        compared.map_err(JobError::WhatIf)
    }

    fn what_if_steps(&self, draft: &Job, links: &[super::correlate::Link]) -> Result<WhatIf, RunError> {
        let mut source = self.start_source(None)?;
        let mut target = self.target.start_target(None)?;
        let (mut current_rules, mut draft_rules) = (start_rules(&self.rules, None)?, start_rules(&draft.rules, None)?);
        let (current, planned) = what_if(
            &mut *source,
            &mut target,
            Variant {
                rules: &mut current_rules,
                settings: &self.settings,
            },
            Variant {
                rules: &mut draft_rules,
                settings: &draft.settings,
            },
            links,
            &|_| {},
        )?;
        Ok(compare(&current, &planned))
    }

    /// `hrsync rules try`: reads the source until it has found the
    /// employees asked for (or read everyone) and runs each through the
    /// rules, every rule's decision traced. Blocking; nothing is written.
    /// Answers how many employees were read, and each one tried.
    pub fn try_rules(&self, hr_ids: &[String]) -> Result<(usize, Vec<Tried>), RunError> {
        let mut wanted: std::collections::BTreeMap<&str, Option<hrsync_model::Employee>> =
            hr_ids.iter().map(|id| (id.as_str(), None)).collect();
        let (read, mut rules) = self.read_for_trial(|page| {
            for employee in page {
                if let Some(slot) = wanted.get_mut(employee.hr_id.as_str()) {
                    *slot = Some(employee);
                }
            }
            // Stop reading once everyone asked for is found.
            wanted.values().any(Option::is_none)
        })?;
        let wanted = wanted
            .into_iter()
            .map(|(hr_id, employee)| (hr_id.to_string(), employee));
        Ok((read, trace_each(&mut rules, wanted)?))
    }

    /// The first `count` employees the source returns, each through the
    /// rules: examples of what the rules make of real employees (the
    /// console's rule editors). Blocking; nothing is written.
    pub fn try_first(&self, count: usize) -> Result<Vec<Tried>, RunError> {
        let mut first = Vec::with_capacity(count);
        let (_, mut rules) = self.read_for_trial(|page| {
            let room = count.saturating_sub(first.len());
            first.extend(page.into_iter().take(room));
            first.len() < count
        })?;
        let first = first
            .into_iter()
            .map(|employee| (employee.hr_id.clone(), Some(employee)));
        trace_each(&mut rules, first)
    }

    /// Reads the source, page by page into `consume` until it answers
    /// false, and starts the rules: what trying the rules needs.
    fn read_for_trial(
        &self,
        mut consume: impl FnMut(Vec<hrsync_model::Employee>) -> bool,
    ) -> Result<(usize, Vec<RuleSession>), RunError> {
        let mut source = self.start_source(None)?;
        let rules = start_rules(&self.rules, None)?;
        let mut read = 0usize;
        let mut counted = |page: Vec<hrsync_model::Employee>| {
            read += page.len();
            consume(page)
        };
        let options = &self.settings.options;
        match read_all(
            &mut *source,
            options.page_size,
            &self.settings.retry,
            &|_| {},
            &mut counted,
        ) {
            Ok(_) | Err(ReadError::Stopped) => {}
            Err(ReadError::Source(error)) => return Err(RunError::Read(error)),
        }
        Ok((read, rules))
    }

    fn start_source(&self, run_id: Option<&str>) -> Result<Box<dyn super::source::Source>, RunError> {
        (self.source.start(run_id)).map_err(|error| RunError::Start { role: "source", error })
    }

    /// A hash of everything that decides what a run does to whom: each
    /// plugin's code and config (not its secrets), in order, and the
    /// options. A run after it changed reads everyone (see `read_since`).
    pub fn config_hash(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        let (source_code, source_config) = self.source.identity();
        hasher.update(source_code.as_bytes());
        hasher.update(source_config.as_bytes());
        hasher.update(b"\0");
        for setup in self.rules.iter().chain(std::iter::once(&self.target)) {
            hasher.update(setup.plugin.content_hash().as_bytes());
            hasher.update(setup.sandbox.config.to_string().as_bytes());
            hasher.update(b"\0");
        }
        let options = serde_json::to_string(&self.settings.options).unwrap_or_default();
        hasher.update(options.as_bytes());
        hasher.finalize().to_hex().to_string()
    }

    fn run_steps(
        &self,
        run_id: &str,
        links: &[super::correlate::Link],
        scope: &RunScope,
        observe: Observer<'_>,
    ) -> Result<RunReport, RunError> {
        let run_id = Some(run_id);
        let mut source = self.start_source(run_id)?;
        let mut rules = start_rules(&self.rules, run_id)?;
        let mut target = self.target.start_target(run_id)?;
        let sessions = Sessions {
            source: &mut *source,
            rules: &mut rules,
            target: &mut target,
        };
        run_observed(sessions, links, &self.settings, scope, observe)
    }
}
