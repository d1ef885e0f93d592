//! Host-side bindings of `wit/`, generated once per world. The `target` and
//! `rule` worlds reuse the types and imports generated for `source`, so the
//! three worlds share one set of Rust types.

pub mod source {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "source",
        additional_derives: [PartialEq],
    });
}

pub mod target {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "target",
        with: {
            "hrsync:plugin/types": super::source::hrsync::plugin::types,
            "hrsync:plugin/http": super::source::hrsync::plugin::http,
            "hrsync:plugin/log": super::source::hrsync::plugin::log,
            "hrsync:plugin/config": super::source::hrsync::plugin::config,
            "hrsync:plugin/clock": super::source::hrsync::plugin::clock,
            "hrsync:plugin/fields": super::source::hrsync::plugin::fields,
        },
    });
}

pub mod rule {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "rule",
        additional_derives: [PartialEq],
        with: {
            "hrsync:plugin/types": super::source::hrsync::plugin::types,
            "hrsync:plugin/http": super::source::hrsync::plugin::http,
            "hrsync:plugin/log": super::source::hrsync::plugin::log,
            "hrsync:plugin/config": super::source::hrsync::plugin::config,
            "hrsync:plugin/clock": super::source::hrsync::plugin::clock,
            "hrsync:plugin/fields": super::source::hrsync::plugin::fields,
        },
    });
}

/// The records shared by every world (employee, account, change, error...).
pub use source::hrsync::plugin::types;
pub use source::hrsync::plugin::{clock, config, fields, http, log};

impl types::AttributeValue {
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

impl types::DesiredAccount {
    /// The account an employee gets when no rule says otherwise (see
    /// `subject` in wit/worlds.wit; the SDKs build the same default).
    pub fn for_employee(employee: &types::Employee) -> Self {
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
