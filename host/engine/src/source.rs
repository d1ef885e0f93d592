//! Where step 3 reads employees from: a source plugin's session, or a
//! directory the host holds itself — what an identity provider pushed to
//! hrsync's inbound SCIM endpoint (host/server/src/scim/), loaded from the
//! store when the run is prepared and handed on here page by page, exactly
//! as a plugin's pages would be, so the rules, correlation and plan do not
//! know the difference.

use std::sync::Arc;

use hrsync_model::{ChangePage, Employee, EmployeePage, PluginError, RejectedRecord};
use hrsync_runtime::capability::fields::FieldReports;
use hrsync_runtime::{CallError, SourceSession};

use super::job::PluginSetup;

/// What the read step asks of a source.
pub trait Source {
    fn list_employees(&mut self, page: Option<&str>, page_size: u32) -> Result<EmployeePage, CallError>;
    fn changes_since(&mut self, cursor: &str, page: Option<&str>, page_size: u32) -> Result<ChangePage, CallError>;
    /// What the source said of its fields (unreadable ones, custom labels).
    fn field_reports(&self) -> &FieldReports;
}

impl Source for SourceSession {
    fn list_employees(&mut self, page: Option<&str>, page_size: u32) -> Result<EmployeePage, CallError> {
        SourceSession::list_employees(self, page, page_size)
    }

    fn changes_since(&mut self, cursor: &str, page: Option<&str>, page_size: u32) -> Result<ChangePage, CallError> {
        SourceSession::changes_since(self, cursor, page, page_size)
    }

    fn field_reports(&self) -> &FieldReports {
        SourceSession::field_reports(self)
    }
}

/// A directory the host holds: everyone in it, already turned into
/// employees, and the records that could not be.
#[derive(Debug, Clone, Default)]
pub struct HeldDirectory {
    /// Names the source in errors, e.g. `inbound SCIM`.
    pub origin: String,
    pub employees: Vec<Employee>,
    pub rejected: Vec<RejectedRecord>,
}

/// A held directory read page by page. Every read is a full read (the
/// directory is in memory; there is no cursor), so a person removed from
/// it is missed by the next run like an employee gone from an HR system.
pub struct HeldReader {
    directory: Arc<HeldDirectory>,
    reports: FieldReports,
}

impl HeldReader {
    fn refuse(&self, function: &'static str, error: PluginError) -> CallError {
        CallError::Plugin {
            plugin: self.directory.origin.clone(),
            function,
            error,
        }
    }
}

impl Source for HeldReader {
    fn list_employees(&mut self, page: Option<&str>, page_size: u32) -> Result<EmployeePage, CallError> {
        let start = match page {
            None => 0,
            Some(token) => token.parse::<usize>().map_err(|_| {
                let error = PluginError::Fatal(format!("page token `{token}` is not one this source gave"));
                self.refuse("list-employees", error)
            })?,
        };
        let all = &self.directory.employees;
        let end = start.saturating_add(page_size.max(1) as usize).min(all.len());
        let employees = all.get(start..end).map(<[Employee]>::to_vec).unwrap_or_default();
        let last = end >= all.len();
        Ok(EmployeePage {
            employees,
            // Rejected records come once, with the first page.
            rejected: if start == 0 {
                self.directory.rejected.clone()
            } else {
                Vec::new()
            },
            next_page: (!last).then(|| end.to_string()),
            cursor: None,
        })
    }

    fn changes_since(&mut self, _cursor: &str, _page: Option<&str>, _size: u32) -> Result<ChangePage, CallError> {
        let error = PluginError::Unsupported("a held directory is always read whole".into());
        Err(self.refuse("changes-since", error))
    }

    fn field_reports(&self) -> &FieldReports {
        &self.reports
    }
}

/// An integration's source, ready to start a reader per run.
// One per job, cloned once per run: the size of a plugin's setup is no
// cost worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum SourceSetup {
    Plugin(PluginSetup),
    Held(Arc<HeldDirectory>),
}

impl From<PluginSetup> for SourceSetup {
    fn from(setup: PluginSetup) -> Self {
        Self::Plugin(setup)
    }
}

impl SourceSetup {
    pub(crate) fn plugin_mut(&mut self) -> Option<&mut PluginSetup> {
        match self {
            Self::Plugin(setup) => Some(setup),
            Self::Held(_) => None,
        }
    }

    /// A reader for one run (a fresh plugin session: one instance per run).
    pub fn start(&self, run_id: Option<&str>) -> Result<Box<dyn Source>, CallError> {
        match self {
            Self::Plugin(setup) => Ok(Box::new(setup.plugin.source(&setup.sandbox(run_id))?)),
            Self::Held(directory) => Ok(Box::new(HeldReader {
                directory: Arc::clone(directory),
                reports: FieldReports::default(),
            })),
        }
    }

    /// What identifies the source in `Job::config_hash`: a plugin's code
    /// and config; a held directory's origin (its content is data, read
    /// whole by every run).
    pub(crate) fn identity(&self) -> (String, String) {
        match self {
            Self::Plugin(setup) => (
                setup.plugin.content_hash().to_string(),
                setup.sandbox.config.to_string(),
            ),
            Self::Held(directory) => (format!("held:{}", directory.origin), String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn employee(hr_id: &str) -> Employee {
        serde_json::from_value(
            serde_json::json!({"hr_id": hr_id, "email": null, "preferred_name": null,
            "employment_type": null, "job_title": null, "department": null, "team": null, "office": null,
            "supervisor": null, "hire_date": null, "termination_date": null, "gender": null, "language": null}),
        )
        .expect("an employee")
    }

    #[test]
    fn a_held_directory_is_read_in_pages_with_its_rejected_records_once_and_no_cursor() {
        let directory = HeldDirectory {
            origin: "inbound SCIM".into(),
            employees: (0..5).map(|i| employee(&format!("u{i}"))).collect(),
            rejected: vec![RejectedRecord {
                hr_id: Some("bad".into()),
                reason: "no userName".into(),
            }],
        };
        let mut reader = SourceSetup::Held(Arc::new(directory))
            .start(None)
            .ok()
            .expect("a reader");
        let first = reader.list_employees(None, 2).expect("page 1");
        assert_eq!(first.employees.len(), 2);
        assert_eq!(first.rejected.len(), 1);
        let second = reader.list_employees(first.next_page.as_deref(), 2).expect("page 2");
        assert_eq!(second.employees[0].hr_id, "u2");
        assert!(second.rejected.is_empty());
        let third = reader.list_employees(second.next_page.as_deref(), 2).expect("page 3");
        assert_eq!((third.employees.len(), third.next_page, third.cursor), (1, None, None));
        let changes = reader.changes_since("x", None, 2).err().expect("no changes read");
        assert!(matches!(changes.plugin_error(), Some(PluginError::Unsupported(_))));
        assert!(reader.list_employees(Some("nope"), 2).is_err());
    }
}
