//! A loaded plugin (one pre-instantiated component per plugin version) and
//! the sessions that call it: a fresh store and instance per session, reused
//! for every call of that session (a whole run passes pages and batches
//! through one instance).

use std::time::Duration;

use wasmtime::component::InstancePre;
use wasmtime::{Engine, Store, Trap};

use hrsync_model::{
    Account, AccountPage, Applied, Capabilities, Change, ChangePage, Decision, EmployeePage, PluginError, PluginKind,
    Subject, TeamPage, WebhookEvent, WebhookRequest,
};

use super::cache::CacheOutcome;
use super::capability::config::Secrets;
use super::capability::fields::FieldReports;
use super::capability::http::{HttpLedger, HttpPolicy};
use super::capability::log::LogLine;
use super::capability::SessionContext;
use super::error::{CallError, LoadError};
use super::manifest::{ConfigError, Manifest};
use super::state::PluginState;
use super::version::ComponentInfo;
use crate::bindings::v1::types::{self, Manifest as RawManifest};
use crate::bindings::v1::{rule, rule_api, source, target, Convert};

/// Resource limits of one installation's sessions.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Cap on the plugin's linear memory.
    pub memory_bytes: usize,
    /// Wall-clock budget of each call into the plugin.
    pub call_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            call_deadline: Duration::from_secs(60),
        }
    }
}

/// What an installation gives a plugin session.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub config: serde_json::Value,
    pub secrets: Secrets,
    pub http: HttpPolicy,
    pub limits: Limits,
    /// The run the session belongs to, for attributing logs and HTTP calls.
    pub run_id: Option<String>,
    /// The integration's IANA time zone (`clock.time-zone`); UTC when none.
    pub time_zone: Option<String>,
}

impl Default for Sandbox {
    /// An empty config object, no secrets, no hosts, default limits.
    fn default() -> Self {
        Self {
            config: serde_json::Value::Object(Default::default()),
            secrets: Secrets::new(),
            http: HttpPolicy::default(),
            limits: Limits::default(),
            run_id: None,
            time_zone: None,
        }
    }
}

#[derive(Clone)]
enum KindPre {
    Source(source::SourcePre<PluginState>),
    Target(target::TargetPre<PluginState>),
    Rule(rule::RulePre<PluginState>),
}

/// A compiled, linked and described plugin, ready to start sessions.
/// Cheap to clone: the compiled code is shared.
#[derive(Clone)]
pub struct Plugin {
    info: ComponentInfo,
    manifest: Manifest,
    content_hash: String,
    cache: CacheOutcome,
    pre: KindPre,
    engine: Engine,
    epoch_tick: Duration,
}

/// `describe` runs with nothing granted and a short deadline.
const DESCRIBE_LIMITS: Limits = Limits {
    memory_bytes: 256 << 20,
    call_deadline: Duration::from_secs(10),
};

impl Plugin {
    pub(crate) fn new(
        engine: Engine,
        pre: InstancePre<PluginState>,
        info: ComponentInfo,
        content_hash: String,
        cache: CacheOutcome,
        epoch_tick: Duration,
    ) -> Result<Self, LoadError> {
        let link = |e: wasmtime::Error| LoadError::Link(format!("{e:#}"));
        let pre = match info.kind {
            PluginKind::Source => KindPre::Source(source::SourcePre::new(pre).map_err(link)?),
            PluginKind::Target => KindPre::Target(target::TargetPre::new(pre).map_err(link)?),
            PluginKind::Rule => KindPre::Rule(rule::RulePre::new(pre).map_err(link)?),
        };
        let probe = Sandbox {
            limits: DESCRIBE_LIMITS,
            ..Sandbox::default()
        };
        let raw = describe(&engine, &pre, &probe, epoch_tick).map_err(LoadError::Describe)?;
        let manifest = Manifest::from_plugin(raw, info.kind)?;
        Ok(Self {
            info,
            manifest,
            content_hash,
            cache,
            pre,
            engine,
            epoch_tick,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }
    pub fn wit_version(&self) -> &semver::Version {
        &self.info.wit_version
    }
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }
    /// How the compiled code was obtained when this plugin was loaded.
    pub fn cache_outcome(&self) -> &CacheOutcome {
        &self.cache
    }

    /// Checks an installation's config and secrets against the manifest.
    pub fn validate(&self, sandbox: &Sandbox) -> Result<(), Vec<ConfigError>> {
        self.manifest.validate_installation(&sandbox.config, &sandbox.secrets)
    }

    pub fn source(&self, sandbox: &Sandbox) -> Result<SourceSession, CallError> {
        let KindPre::Source(pre) = &self.pre else {
            return Err(self.wrong_kind("source"));
        };
        self.session(sandbox, |store| pre.instantiate(store))
    }

    pub fn target(&self, sandbox: &Sandbox) -> Result<TargetSession, CallError> {
        let KindPre::Target(pre) = &self.pre else {
            return Err(self.wrong_kind("target"));
        };
        self.session(sandbox, |store| pre.instantiate(store))
    }

    pub fn rule(&self, sandbox: &Sandbox) -> Result<RuleSession, CallError> {
        let KindPre::Rule(pre) = &self.pre else {
            return Err(self.wrong_kind("rule"));
        };
        self.session(sandbox, |store| pre.instantiate(store))
    }

    fn session<B>(
        &self,
        sandbox: &Sandbox,
        instantiate: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<B>,
    ) -> Result<Session<B>, CallError> {
        let declared = self.manifest.declared_secrets().collect();
        Session::start(
            &self.engine,
            &self.manifest.name,
            sandbox,
            declared,
            self.epoch_tick,
            instantiate,
        )
    }

    /// Starts a session of whatever kind the plugin is and tests the
    /// connection. A rule has no connection: starting it and evaluating an
    /// empty batch (which reads its config) is the test.
    pub fn probe(&self, sandbox: &Sandbox) -> Probe {
        match self.info.kind {
            PluginKind::Source => Probe::of(self.source(sandbox), |s| s.test_connection()),
            PluginKind::Target => Probe::of(self.target(sandbox), |s| s.test_connection()),
            PluginKind::Rule => Probe::of(self.rule(sandbox), |s| s.evaluate(Vec::new()).map(drop)),
        }
    }

    fn wrong_kind(&self, wanted: &str) -> CallError {
        CallError::Instantiate {
            plugin: self.manifest.name.clone(),
            message: format!("it is a {} plugin, not a {wanted} plugin", self.manifest.kind),
        }
    }
}

fn describe(engine: &Engine, pre: &KindPre, sandbox: &Sandbox, tick: Duration) -> Result<RawManifest, CallError> {
    const PLUGIN: &str = "(loading)";
    match pre {
        KindPre::Source(pre) => {
            Session::start(engine, PLUGIN, sandbox, vec![], tick, |s| pre.instantiate(s))?.describe()
        }
        KindPre::Target(pre) => {
            Session::start(engine, PLUGIN, sandbox, vec![], tick, |s| pre.instantiate(s))?.describe()
        }
        KindPre::Rule(pre) => Session::start(engine, PLUGIN, sandbox, vec![], tick, |s| pre.instantiate(s))?.describe(),
    }
}

/// The outcome of [`Plugin::probe`], with what the plugin did meanwhile.
pub struct Probe {
    pub outcome: Result<(), CallError>,
    pub http: HttpLedger,
    pub log: Vec<LogLine>,
    /// Fields the source said the HR system withheld.
    pub fields: FieldReports,
}

impl Probe {
    fn of<B>(
        session: Result<Session<B>, CallError>,
        test: impl FnOnce(&mut Session<B>) -> Result<(), CallError>,
    ) -> Self {
        match session {
            Ok(mut session) => {
                let outcome = test(&mut session);
                Self {
                    outcome,
                    http: session.http_ledger().clone(),
                    log: session.log_lines(),
                    fields: session.field_reports().clone(),
                }
            }
            Err(error) => Self {
                outcome: Err(error),
                http: HttpLedger::default(),
                log: Vec::new(),
                fields: FieldReports::default(),
            },
        }
    }
}

/// One store and one instance of a plugin, with the limits of its
/// installation. After a trap or a limit is hit the instance is discarded:
/// later calls fail with [`CallError::Unusable`].
pub struct Session<B> {
    store: Store<PluginState>,
    bindings: B,
    plugin: String,
    limits: Limits,
    epoch_tick: Duration,
    failed: Option<String>,
    /// The page tokens each listing of this session has handed out.
    pages: PageTokens,
    _alive: Alive,
}

/// Counts the instance in `hrsync_plugin_instances` while it lives.
struct Alive;

impl Alive {
    fn new() -> Self {
        hrsync_metrics::plugin_instances(1);
        Alive
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        hrsync_metrics::plugin_instances(-1);
    }
}

/// Page tokens of the listings in progress, per function: a plugin whose
/// next page is one it gave before pages in a circle, and a read that
/// ended there would be partial — employees missing from it deactivated,
/// accounts missing from it created twice — so it is an error instead.
#[derive(Default)]
struct PageTokens(std::collections::HashMap<&'static str, std::collections::HashSet<String>>);

impl PageTokens {
    /// `page` was asked for (none: a new listing starts) and `next` came back.
    fn check(&mut self, function: &'static str, page: Option<&str>, next: Option<&str>) -> Result<(), String> {
        let seen = self.0.entry(function).or_default();
        if page.is_none() {
            seen.clear();
        }
        match next {
            Some(next) if page == Some(next) || !seen.insert(next.to_string()) => Err(format!(
                "next page {next:?} was returned before: the plugin pages in a circle (a listing that ended there would be partial)"
            )),
            _ => Ok(()),
        }
    }
}

pub type SourceSession = Session<source::Source>;
pub type TargetSession = Session<target::Target>;
pub type RuleSession = Session<rule::Rule>;

impl<B> Session<B> {
    fn start(
        engine: &Engine,
        plugin: &str,
        sandbox: &Sandbox,
        declared: Vec<String>,
        epoch_tick: Duration,
        instantiate: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<B>,
    ) -> Result<Self, CallError> {
        let state = PluginState::new(&SessionContext::new(plugin, sandbox, declared));
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limiter());
        store.set_epoch_deadline(ticks(sandbox.limits.call_deadline, epoch_tick));
        store.data_mut().call_started(sandbox.limits.call_deadline);
        let bindings = instantiate(&mut store).map_err(|e| {
            let plugin = plugin.to_string();
            let output = store.data().take_output();
            log_printed(&plugin, "instantiate", &output);
            match classify(e, "instantiate", &plugin, &sandbox.limits, store.data(), &output) {
                CallError::Malformed { message, .. } => CallError::Instantiate { plugin, message },
                other => other,
            }
        })?;
        Ok(Self {
            store,
            bindings,
            plugin: plugin.to_string(),
            limits: sandbox.limits.clone(),
            epoch_tick,
            failed: None,
            pages: PageTokens::default(),
            _alive: Alive::new(),
        })
    }

    /// What the plugin's outbound HTTP did in this session.
    pub fn http_ledger(&self) -> &HttpLedger {
        self.store.data().http_ledger()
    }

    /// What the plugin said about employee fields in this session.
    pub fn field_reports(&self) -> &FieldReports {
        self.store.data().field_reports()
    }

    /// The plugin's name, as its manifest gives it.
    pub fn plugin_name(&self) -> &str {
        &self.plugin
    }

    /// The lines the plugin logged in this session (secrets masked).
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.store.data().log_lines().cloned().collect()
    }

    /// Calls into the plugin under the installation's deadline; flattens the
    /// plugin's typed error into [`CallError::Plugin`] with secrets masked.
    fn call<T>(
        &mut self,
        function: &'static str,
        f: impl FnOnce(&B, &mut Store<PluginState>) -> wasmtime::Result<Result<T, types::PluginError>>,
    ) -> Result<T, CallError> {
        match self.call_raw(function, f)? {
            Ok(value) => Ok(value),
            Err(error) => Err(CallError::Plugin {
                plugin: self.plugin.clone(),
                function,
                error: error.redacted(self.store.data().redactor()).convert(),
            }),
        }
    }

    fn call_raw<T>(
        &mut self,
        function: &'static str,
        f: impl FnOnce(&B, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        if let Some(reason) = &self.failed {
            return Err(CallError::Unusable {
                plugin: self.plugin.clone(),
                reason: reason.clone(),
            });
        }
        self.store
            .set_epoch_deadline(ticks(self.limits.call_deadline, self.epoch_tick));
        self.store.data_mut().call_started(self.limits.call_deadline);
        let started = std::time::Instant::now();
        let result = f(&self.bindings, &mut self.store);
        hrsync_metrics::plugin_call(&self.plugin, function, started.elapsed().as_secs_f64());
        let output = self.store.data().take_output();
        let printed = log_printed(&self.plugin, function, &output);
        match result {
            Ok(value) => {
                if printed {
                    self.store.data_mut().capabilities.log.printed(&output);
                }
                Ok(value)
            }
            Err(e) => {
                let error = classify(e, function, &self.plugin, &self.limits, self.store.data(), &output);
                self.failed = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// The page just read, unless its next page is one this listing had.
    fn paged<P>(
        &mut self,
        function: &'static str,
        page: Option<&str>,
        read: P,
        next: impl Fn(&P) -> Option<&str>,
    ) -> Result<P, CallError> {
        match self.pages.check(function, page, next(&read)) {
            Ok(()) => Ok(read),
            // A token may be a provider URL with a key in it.
            Err(message) => {
                let message = self.store.data().redactor().redact(&message);
                Err(self.malformed(function, message))
            }
        }
    }

    fn malformed(&mut self, function: &'static str, message: String) -> CallError {
        let error = CallError::Malformed {
            plugin: self.plugin.clone(),
            function,
            message,
        };
        self.failed = Some(error.to_string());
        error
    }
}

impl SourceSession {
    pub fn describe(&mut self) -> Result<RawManifest, CallError> {
        self.call_raw("describe", |b, s| b.hrsync_plugin_source_api().call_describe(s))
    }
    pub fn test_connection(&mut self) -> Result<(), CallError> {
        self.call("test-connection", |b, s| {
            b.hrsync_plugin_source_api().call_test_connection(s)
        })
    }
    pub fn list_employees(&mut self, page: Option<&str>, page_size: u32) -> Result<EmployeePage, CallError> {
        let read: EmployeePage = self
            .call("list-employees", |b, s| {
                b.hrsync_plugin_source_api().call_list_employees(s, page, page_size)
            })
            .map(Convert::convert)?;
        self.paged("list-employees", page, read, |r| r.next_page.as_deref())
    }
    pub fn changes_since(&mut self, cursor: &str, page: Option<&str>, page_size: u32) -> Result<ChangePage, CallError> {
        let read: ChangePage = self
            .call("changes-since", |b, s| {
                b.hrsync_plugin_source_api()
                    .call_changes_since(s, cursor, page, page_size)
            })
            .map(Convert::convert)?;
        self.paged("changes-since", page, read, |r| r.next_page.as_deref())
    }
    pub fn parse_webhook(&mut self, request: WebhookRequest) -> Result<Vec<WebhookEvent>, CallError> {
        let request: types::WebhookRequest = request.convert();
        self.call("parse-webhook", |b, s| {
            b.hrsync_plugin_source_api().call_parse_webhook(s, &request)
        })
        .map(Convert::convert)
    }
}

impl TargetSession {
    pub fn describe(&mut self) -> Result<RawManifest, CallError> {
        self.call_raw("describe", |b, s| b.hrsync_plugin_target_api().call_describe(s))
    }
    pub fn capabilities(&mut self) -> Result<Capabilities, CallError> {
        self.call_raw("capabilities", |b, s| {
            b.hrsync_plugin_target_api().call_get_capabilities(s)
        })
        .map(Convert::convert)
    }
    pub fn test_connection(&mut self) -> Result<(), CallError> {
        self.call("test-connection", |b, s| {
            b.hrsync_plugin_target_api().call_test_connection(s)
        })
    }
    pub fn list_accounts(&mut self, page: Option<&str>, page_size: u32) -> Result<AccountPage, CallError> {
        let read: AccountPage = self
            .call("list-accounts", |b, s| {
                b.hrsync_plugin_target_api().call_list_accounts(s, page, page_size)
            })
            .map(Convert::convert)?;
        self.paged("list-accounts", page, read, |r| r.next_page.as_deref())
    }
    pub fn get_accounts(&mut self, ids: &[String]) -> Result<Vec<Account>, CallError> {
        self.call("get-accounts", |b, s| {
            b.hrsync_plugin_target_api().call_get_accounts(s, ids)
        })
        .map(Convert::convert)
    }
    pub fn list_teams(&mut self, page: Option<&str>, page_size: u32) -> Result<TeamPage, CallError> {
        let read: TeamPage = self
            .call("list-teams", |b, s| {
                b.hrsync_plugin_target_api().call_list_teams(s, page, page_size)
            })
            .map(Convert::convert)?;
        self.paged("list-teams", page, read, |r| r.next_page.as_deref())
    }
    /// One outcome per change, in order; plugin errors have secrets masked.
    pub fn apply_batch(&mut self, changes: Vec<Change>) -> Result<Vec<Result<Applied, PluginError>>, CallError> {
        let count = changes.len();
        let changes: Vec<types::Change> = changes.convert();
        let outcomes = self.call_raw("apply-batch", |b, s| {
            b.hrsync_plugin_target_api().call_apply_batch(s, &changes)
        })?;
        if outcomes.len() != count {
            let message = format!("{} outcomes for {} changes", outcomes.len(), count);
            return Err(self.malformed("apply-batch", message));
        }
        let redactor = self.store.data().redactor().clone();
        Ok(outcomes
            .into_iter()
            .map(|o| o.map(Convert::convert).map_err(|e| e.redacted(&redactor).convert()))
            .collect())
    }
}

impl RuleSession {
    pub fn describe(&mut self) -> Result<RawManifest, CallError> {
        self.call_raw("describe", |b, s| b.hrsync_plugin_rule_api().call_describe(s))
    }
    /// One decision per subject, in order, each with its subject: the
    /// subjects move across the boundary and back, never copied.
    pub fn evaluate(&mut self, batch: Vec<Subject>) -> Result<Vec<(Subject, Decision)>, CallError> {
        let batch: Vec<rule_api::Subject> = batch.convert();
        let decisions = self.call("evaluate", |b, s| b.hrsync_plugin_rule_api().call_evaluate(s, &batch))?;
        if decisions.len() != batch.len() {
            let message = format!("{} decisions for {} employees", decisions.len(), batch.len());
            return Err(self.malformed("evaluate", message));
        }
        Ok(batch
            .into_iter()
            .map(Convert::convert)
            .zip(decisions.into_iter().map(Convert::convert))
            .collect())
    }
}

fn ticks(deadline: Duration, tick: Duration) -> u64 {
    (deadline.as_nanos() / tick.as_nanos().max(1)).max(1) as u64 + 1
}

/// Logs what a plugin printed in a call at debug level, all that was kept
/// (errors quote or summarise only its end); whether it printed anything.
fn log_printed(plugin: &str, function: &str, output: &str) -> bool {
    let printed = !output.trim().is_empty();
    if printed {
        tracing::debug!(plugin, function, output = %output.trim_end(), "the plugin printed");
    }
    printed
}

/// The most of a plugin's output an error quotes (its end); the debug log
/// of the call has all that was kept.
const OUTPUT_QUOTED: usize = 2000;

/// `message`, and what the plugin printed before it failed — a panic's
/// message, a traceback — when it printed anything.
fn with_output(message: String, output: &str) -> String {
    let output = output.trim();
    if output.is_empty() {
        return message;
    }
    let quoted = match output.char_indices().rev().nth(OUTPUT_QUOTED) {
        Some((cut, _)) => format!("…{}", &output[cut..]),
        None => output.to_string(),
    };
    format!("{message}; the plugin printed: {quoted}")
}

/// Explains a wasmtime failure: which limit was hit, or what went wrong.
fn classify(
    error: wasmtime::Error,
    function: &'static str,
    plugin: &str,
    limits: &Limits,
    state: &PluginState,
    output: &str,
) -> CallError {
    let plugin = plugin.to_string();
    let memory = || CallError::Memory {
        plugin: plugin.clone(),
        function,
        limit_mib: limits.memory_bytes >> 20,
    };
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Deadline {
            plugin,
            function,
            limit: limits.call_deadline,
        },
        Some(Trap::StackOverflow) => CallError::StackOverflow { plugin, function },
        Some(_) if state.memory_cap_hit() => memory(),
        Some(Trap::MemoryOutOfBounds) => CallError::Trap {
            plugin,
            function,
            message: with_output(
                format!(
                    "{}; in compiled languages this is most often the plugin's own stack overflowing",
                    Trap::MemoryOutOfBounds
                ),
                output,
            ),
        },
        Some(trap) => match crate::exception::summarize(output) {
            Some(exception) => CallError::Exception {
                plugin,
                function,
                exception,
            },
            None => CallError::Trap {
                plugin,
                function,
                message: with_output(trap.to_string(), output),
            },
        },
        None if state.memory_cap_hit() => memory(),
        None => {
            let message = state.redactor().redact(&format!("{error:#}"));
            CallError::Malformed {
                plugin,
                function,
                message: with_output(message, output),
            }
        }
    }
}
