//! The host's own types: the employee every source produces, the target's
//! accounts and teams, the changes the engine asks a target to make, the
//! rules' decisions and the typed error every plugin function returns.
//!
//! They mirror the records of `wit/types.wit` field by field, but belong to
//! the host: the runtime converts the generated WIT types into these at the
//! edge (`host/runtime/src/bindings/`, one module per WIT major version), so
//! a new WIT version changes one bindings module, not the engine, the store
//! and the command line. No wasmtime and no sqlx here.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod clock;

/// Which of the three plugin kinds a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Source,
    Target,
    Rule,
}

impl PluginKind {
    /// `source`, `target` or `rule`, as manifests and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Target => "target",
            Self::Rule => "rule",
        }
    }
}

/// A typed value of a custom attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeValue {
    Text(String),
    Integer(i64),
    Decimal(f64),
    Boolean(bool),
    /// An ISO 8601 calendar date, `YYYY-MM-DD`.
    Date(String),
    TextList(Vec<String>),
}

impl AttributeValue {
    /// The value as text: numbers in decimal, booleans as `true`/`false`,
    /// lists joined with `, ` (as the SDK's `AttributeValue::to_text`).
    pub fn to_text(&self) -> String {
        match self {
            Self::Text(s) | Self::Date(s) => s.clone(),
            Self::Integer(i) => i.to_string(),
            Self::Decimal(d) => d.to_string(),
            Self::Boolean(b) => b.to_string(),
            Self::TextList(items) => items.join(", "),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub name: String,
    pub value: AttributeValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeStatus {
    Onboarding,
    Active,
    Leave,
    Inactive,
}

impl EmployeeStatus {
    /// As files, rules and the API write it: `onboarding`, `active`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Leave => "leave",
            Self::Inactive => "inactive",
        }
    }

    /// The status of an employee a hand-written record leaves it out of.
    fn active() -> Self {
        Self::Active
    }
}

/// Another employee named by reference (the supervisor), with the fields
/// rules need for naming ("{supervisor.first-name}s Team").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRef {
    pub hr_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// The canonical employee every source produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Employee {
    pub hr_id: String,
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub preferred_name: Option<String>,
    #[serde(default = "EmployeeStatus::active")]
    pub status: EmployeeStatus,
    /// e.g. "internal", "external", "full-time"; as the HR system names it.
    pub employment_type: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub team: Option<String>,
    pub office: Option<String>,
    pub supervisor: Option<PersonRef>,
    /// `YYYY-MM-DD`.
    pub hire_date: Option<String>,
    /// `YYYY-MM-DD`.
    pub termination_date: Option<String>,
    pub gender: Option<String>,
    /// BCP 47 language tag, e.g. "de", "en-GB".
    pub language: Option<String>,
    /// Everything else the HR system returned. Never sent to a target
    /// unless a mapping rule puts it on the desired account.
    #[serde(default)]
    pub custom: Vec<Attribute>,
}

/// A record the source could not turn into an employee: reported, never
/// fatal to the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedRecord {
    pub hr_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeePage {
    pub employees: Vec<Employee>,
    pub rejected: Vec<RejectedRecord>,
    /// Opaque token for the next page; none on the last page.
    pub next_page: Option<String>,
    /// On the last page: a cursor for the next incremental read.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePage {
    /// Employees created or changed since the cursor.
    pub employees: Vec<Employee>,
    pub rejected: Vec<RejectedRecord>,
    /// HR ids deleted in the HR system since the cursor.
    pub removed: Vec<String>,
    pub next_page: Option<String>,
    pub cursor: Option<String>,
}

/// An HTTP request the HR system sent to the host's webhook endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRequest {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventKind {
    Created,
    Updated,
    Terminated,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    pub hr_id: String,
    pub kind: WebhookEventKind,
}

/// An account in the target app as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The target's own id.
    pub id: String,
    pub external_id: Option<String>,
    pub user_name: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub active: bool,
    /// Every other field the target exposes (title, department, ...).
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// Target id of the manager's account.
    pub manager_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub next_page: Option<String>,
}

/// What the rules want an employee's account to look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredAccount {
    pub external_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// Fields the integration owns: kept in step on every run.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// Fields set only when the account is created.
    #[serde(default)]
    pub create_only: Vec<Attribute>,
    /// Team names the employee belongs to.
    #[serde(default)]
    pub teams: Vec<String>,
    /// HR id of the manager; the engine resolves it to an account.
    pub manager_hr_id: Option<String>,
}

impl DesiredAccount {
    /// The account an employee gets when no rule says otherwise (see
    /// `subject` in wit/worlds.wit; the SDKs build the same default).
    pub fn for_employee(employee: &Employee) -> Self {
        Self {
            external_id: employee.hr_id.clone(),
            user_name: employee.email.clone().unwrap_or_default(),
            email: employee.email.clone(),
            first_name: employee.first_name.clone(),
            last_name: employee.last_name.clone(),
            attributes: Vec::new(),
            create_only: Vec::new(),
            teams: Vec::new(),
            manager_hr_id: employee.supervisor.as_ref().map(|s| s.hr_id.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    /// Target ids of member accounts.
    pub member_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamPage {
    pub teams: Vec<Team>,
    pub next_page: Option<String>,
}

/// A new account, built from the desired account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDraft {
    pub external_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub attributes: Vec<Attribute>,
    /// Send the app's invitation e-mail on create.
    pub invite: bool,
}

/// One field of an update: `None` clears the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<AttributeValue>,
    pub after: Option<AttributeValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    pub id: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamDraft {
    pub name: String,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRename {
    pub id: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub team_id: String,
    pub account_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerLink {
    pub account_id: String,
    /// `None` removes the manager.
    pub manager_id: Option<String>,
}

/// One write the engine asks a target to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    CreateAccount(AccountDraft),
    UpdateAccount(AccountUpdate),
    DeactivateAccount(String),
    ReactivateAccount(String),
    Invite(String),
    CreateTeam(TeamDraft),
    RenameTeam(TeamRename),
    AddMember(Membership),
    RemoveMember(Membership),
    LinkManager(ManagerLink),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applied {
    /// The id of what was created (account or team); none otherwise.
    pub id: Option<String>,
}

/// What a target can do; the engine plans only what it supports.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub teams: bool,
    pub managers: bool,
    pub invites: bool,
    pub reactivation: bool,
    /// Most changes per batch; 1 means one at a time.
    pub max_batch: u32,
    /// Account fields the target can match existing accounts by, in the
    /// order it prefers ("email", "user-name", "external-id").
    pub matching_attributes: Vec<String>,
}

/// What a rule sees: the employee, and what earlier rules want.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub employee: Employee,
    pub desired: Option<DesiredAccount>,
}

impl Subject {
    /// An employee no rule has decided on yet.
    pub fn new(employee: Employee) -> Self {
        Self {
            employee,
            desired: None,
        }
    }
}

/// A rule's verdict on one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Out of scope, with the reason.
    Exclude(String),
    Keep,
    Modify(DesiredAccount),
    /// The rule cannot decide: the record is left alone this run and reported.
    Reject(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryHint {
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conflict {
    pub message: String,
    /// The id of the record that already exists, when the API says.
    pub existing_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

/// The error every plugin function can return; the engine decides what
/// each means for the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginError {
    /// Try again later (timeouts, 5xx).
    Retryable(RetryHint),
    /// Too many requests; wait `retry_after_ms` when given.
    RateLimited(RetryHint),
    /// The record already exists.
    Conflict(Conflict),
    NotFound(String),
    InvalidInput(InvalidField),
    /// Credentials missing, wrong or revoked.
    Unauthorized(String),
    /// The plugin does not offer this function.
    Unsupported(String),
    /// Stop: retrying will not help.
    Fatal(String),
}

/// A plugin's typed error in words, for logs, run items and the CLI.
impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let retry_after = |ms: Option<u64>| ms.map(|ms| format!(" (retry after {ms} ms)")).unwrap_or_default();
        match self {
            Self::Retryable(hint) => write!(
                f,
                "temporary failure: {}{}",
                hint.message,
                retry_after(hint.retry_after_ms)
            ),
            Self::RateLimited(hint) => write!(f, "rate limited: {}{}", hint.message, retry_after(hint.retry_after_ms)),
            Self::Conflict(c) => match &c.existing_id {
                Some(id) => write!(f, "already exists (id {id}): {}", c.message),
                None => write!(f, "already exists: {}", c.message),
            },
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::InvalidInput(i) => write!(f, "invalid input in `{}`: {}", i.field, i.message),
            Self::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            Self::Unsupported(m) => write!(f, "unsupported: {m}"),
            Self::Fatal(m) => write!(f, "fatal: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}
