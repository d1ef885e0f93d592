//! Step 3 of a run: page through the source. A read that fails halfway
//! returns an error and nothing else, so nothing downstream acts on a
//! partial view (a failed read never deactivates).

use std::collections::BTreeMap;

use super::plan::ReadKind;
use super::retry::RetryPolicy;
use crate::runtime::types::{Employee, RejectedRecord};
use crate::runtime::{CallError, SourceSession};

pub struct SourceRead {
    /// By HR id; a record repeated across pages counts once (the last wins).
    pub employees: BTreeMap<String, Employee>,
    pub rejected: Vec<RejectedRecord>,
    /// Where the next incremental read starts.
    pub cursor: Option<String>,
    pub kind: ReadKind,
    pub pages: u32,
}

/// Reads every employee, page by page, retrying pages that fail for a
/// retryable reason.
pub fn read_all(source: &mut SourceSession, page_size: u32, retry: &RetryPolicy) -> Result<SourceRead, CallError> {
    let mut read = SourceRead {
        employees: BTreeMap::new(),
        rejected: Vec::new(),
        cursor: None,
        kind: ReadKind::Full,
        pages: 0,
    };
    let mut page: Option<String> = None;
    loop {
        let mut attempt = 0;
        let result = loop {
            match source.list_employees(page.as_deref(), page_size) {
                Err(error) => match error.plugin_error().and_then(|e| retry.delay(e, attempt)) {
                    Some(wait) => {
                        std::thread::sleep(wait);
                        attempt += 1;
                    }
                    None => return Err(error),
                },
                Ok(result) => break result,
            }
        };
        read.pages += 1;
        read.rejected.extend(result.rejected);
        for employee in result.employees {
            read.employees.insert(employee.hr_id.clone(), employee);
        }
        match result.next_page {
            // A page token that repeats would loop for ever.
            Some(next) if page.as_deref() != Some(next.as_str()) => page = Some(next),
            _ => {
                read.cursor = result.cursor;
                return Ok(read);
            }
        }
    }
}
