//! An hrsync source plugin in Rust: reads the employees of the tiny HR
//! system (host/emulators/src/tiny.rs; `hrsync-lab emulate` serves it on
//! http://127.0.0.1:7003 with the bearer token `tiny-hr-token`).
//!
//! Build and try it (see sdk/README.md):
//!
//!     cargo build --release --target wasm32-wasip2
//!     cp target/wasm32-wasip2/release/{{crate}}.wasm {{name}}.wasm
//!     TINY_HR_TOKEN=tiny-hr-token hrsync plugin test {{name}}.wasm --config installation.toml

use hrsync_sdk::{
    config, export_source, http, secret, Employee, EmployeePage, EmployeeStatus, PersonRef, PluginError, PluginInfo,
    RejectedRecord, Source,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    base_url: String,
    #[serde(default = "default_page_size")]
    page_size: u32,
}

fn default_page_size() -> u32 {
    100
}

#[derive(Deserialize)]
struct Page {
    employees: Vec<serde_json::Value>,
    next_page: Option<u32>,
}

/// One employee of the HR system's JSON.
#[derive(Deserialize)]
struct Record {
    id: u64,
    email: Option<String>,
    first_name: String,
    last_name: String,
    status: Option<String>,
    department: Option<String>,
    title: Option<String>,
    manager_id: Option<u64>,
    hired_on: Option<String>,
}

fn to_employee(record: Record) -> Result<Employee, String> {
    let status = match record.status.as_deref().unwrap_or("active") {
        "active" => EmployeeStatus::Active,
        "onboarding" => EmployeeStatus::Onboarding,
        "leave" => EmployeeStatus::Leave,
        "inactive" => EmployeeStatus::Inactive,
        other => return Err(format!("unknown status {other:?}")),
    };
    Ok(Employee {
        hr_id: record.id.to_string(),
        email: record.email,
        first_name: record.first_name,
        last_name: record.last_name,
        preferred_name: None,
        status,
        employment_type: None,
        job_title: record.title,
        department: record.department,
        team: None,
        office: None,
        supervisor: record.manager_id.map(|id| PersonRef {
            hr_id: id.to_string(),
            email: None,
            first_name: None,
            last_name: None,
        }),
        hire_date: record.hired_on,
        termination_date: None,
        gender: None,
        language: None,
        custom: Vec::new(),
    })
}

struct TinyHr {
    config: Config,
    token: String,
}

impl Source for TinyHr {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("Employees of the tiny HR system")
            .config_schema(serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["base_url"],
                "properties": {
                    "base_url": { "type": "string", "description": "The HR system's address, e.g. https://hr.example.com" },
                    "page_size": { "type": "integer", "minimum": 1, "maximum": 100, "default": 100 }
                }
            }))
            .secret("token", "API token of the HR system", true)
            .host("http://127.0.0.1:7003")
    }

    fn new() -> Result<Self, PluginError> {
        Ok(Self {
            config: config()?,
            token: secret("token")?,
        })
    }

    fn list_employees(&mut self, page: Option<String>, page_size: u32) -> Result<EmployeePage, PluginError> {
        let url = format!(
            "{}/api/employees?page={}&per_page={}",
            self.config.base_url,
            page.as_deref().unwrap_or("1"),
            page_size.min(self.config.page_size)
        );
        let body: Page = http::Request::get(&url)
            .bearer(&self.token)
            .send()?
            .error_for_status()?
            .json()?;
        let mut employees = Vec::new();
        let mut rejected = Vec::new();
        // One bad record never sinks a run: it is rejected with the reason.
        for value in body.employees {
            let hr_id = value.get("id").map(|id| id.to_string());
            match serde_json::from_value::<Record>(value)
                .map_err(|e| e.to_string())
                .and_then(to_employee)
            {
                Ok(employee) => employees.push(employee),
                Err(reason) => rejected.push(RejectedRecord { hr_id, reason }),
            }
        }
        Ok(EmployeePage {
            employees,
            rejected,
            next_page: body.next_page.map(|n| n.to_string()),
            cursor: None,
        })
    }
}

export_source!(TinyHr);
