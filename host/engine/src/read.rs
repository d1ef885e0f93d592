//! Step 3 of a run: page through the source — every employee, or only those
//! changed since the cursor of the last successful run — handing each page
//! on (to the rules) as it arrives. A read that fails halfway returns an
//! error, so nothing downstream acts on a partial view (a failed read never
//! deactivates).

use std::collections::HashSet;

use super::plan::ReadKind;
use super::retry::RetryPolicy;
use super::source::Source;
use hrsync_model::{Employee, PluginError, RejectedRecord};
use hrsync_runtime::CallError;

#[derive(Debug, Clone)]
pub struct SourceRead {
    /// Records handed on (a record repeated across pages counts each time).
    pub records: usize,
    pub rejected: Vec<RejectedRecord>,
    /// HR ids the source reports deleted (incremental reads only).
    pub removed: HashSet<String>,
    /// Where the next incremental read starts.
    pub cursor: Option<String>,
    pub kind: ReadKind,
    pub pages: u32,
}

/// One page, whichever way it was read.
struct Page {
    employees: Vec<Employee>,
    rejected: Vec<RejectedRecord>,
    removed: Vec<String>,
    next_page: Option<String>,
    cursor: Option<String>,
}

/// Why a read stopped: the source failed, or what took the pages asked to
/// stop (it has its own error to tell).
#[derive(Debug)]
pub enum ReadError {
    Source(CallError),
    Stopped,
}

/// Takes each page's employees; `false` stops the read.
pub type Consumer<'a> = &'a mut dyn FnMut(Vec<Employee>) -> bool;

/// Reads every employee, page by page, retrying pages that fail for a
/// retryable reason. `progress` hears the number of employees read after
/// each page.
pub fn read_all(
    source: &mut dyn Source,
    page_size: u32,
    retry: &RetryPolicy,
    progress: &dyn Fn(usize),
    consume: Consumer,
) -> Result<SourceRead, ReadError> {
    read_pages(ReadKind::Full, retry, progress, consume, |page| {
        let page = source.list_employees(page, page_size)?;
        Ok(Page {
            employees: labelled(source, page.employees),
            rejected: page.rejected,
            removed: Vec::new(),
            next_page: page.next_page,
            cursor: page.cursor,
        })
    })
}

/// The page's employees with the custom fields the source labelled also
/// under their labels (`fields.rs`).
fn labelled(source: &dyn Source, mut employees: Vec<Employee>) -> Vec<Employee> {
    super::fields::alias_labels(&mut employees, &source.field_reports().labels);
    employees
}

/// Reads the employees changed since `cursor`. `Ok(None)` when the source
/// cannot read changes (it says so on the first page, before anything was
/// handed on): the caller reads everything instead.
pub fn read_changes(
    source: &mut dyn Source,
    cursor: &str,
    page_size: u32,
    retry: &RetryPolicy,
    progress: &dyn Fn(usize),
    consume: Consumer,
) -> Result<Option<SourceRead>, ReadError> {
    let read = read_pages(ReadKind::Incremental, retry, progress, consume, |page| {
        let page = source.changes_since(cursor, page, page_size)?;
        Ok(Page {
            employees: labelled(source, page.employees),
            rejected: page.rejected,
            removed: page.removed,
            next_page: page.next_page,
            cursor: page.cursor,
        })
    });
    match read {
        Err(ReadError::Source(error)) if matches!(error.plugin_error(), Some(PluginError::Unsupported(_))) => Ok(None),
        other => other.map(Some),
    }
}

fn read_pages(
    kind: ReadKind,
    retry: &RetryPolicy,
    progress: &dyn Fn(usize),
    consume: Consumer,
    mut fetch: impl FnMut(Option<&str>) -> Result<Page, CallError>,
) -> Result<SourceRead, ReadError> {
    let mut read = SourceRead {
        records: 0,
        rejected: Vec::new(),
        removed: HashSet::new(),
        cursor: None,
        kind,
        pages: 0,
    };
    let mut page: Option<String> = None;
    loop {
        let result = retry.run(|| fetch(page.as_deref())).map_err(ReadError::Source)?;
        read.pages += 1;
        read.rejected.extend(result.rejected);
        read.removed.extend(result.removed);
        read.records += result.employees.len();
        if !consume(result.employees) {
            return Err(ReadError::Stopped);
        }
        progress(read.records);
        // A token given before is refused by the session (pages in a circle).
        match result.next_page {
            Some(next) => page = Some(next),
            None => {
                read.cursor = result.cursor;
                return Ok(read);
            }
        }
    }
}
