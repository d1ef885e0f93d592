//! Synthetic employees for benchmarks and tests: plausible records, no
//! HR system behind them.

use hrsync_model::{Employee, EmployeeStatus, PersonRef};

/// A plausible employee: a mix of statuses, externals and departments.
pub fn synthetic_employee(i: usize) -> Employee {
    let status = match i % 20 {
        0 => EmployeeStatus::Inactive,
        1 => EmployeeStatus::Leave,
        2 => EmployeeStatus::Onboarding,
        _ => EmployeeStatus::Active,
    };
    let department = ["Engineering", "Sales", "People", "Finance", "Support"][i % 5];
    Employee {
        hr_id: format!("{}", 10_000 + i),
        email: Some(if i.is_multiple_of(97) {
            format!("test.user{i}@example.com")
        } else {
            format!("employee{i}@example.com")
        }),
        first_name: format!("First{i}"),
        last_name: format!("Last{i}"),
        preferred_name: None,
        status,
        employment_type: Some(if i % 10 == 3 { "external" } else { "internal" }.into()),
        job_title: Some("Specialist".into()),
        department: Some(department.into()),
        team: Some(format!("{department} {}", i % 3)),
        office: Some(["Berlin", "Munich", "Madrid"][i % 3].into()),
        supervisor: Some(PersonRef {
            hr_id: format!("{}", 10_000 + i / 10),
            email: Some(format!("employee{}@example.com", i / 10)),
            first_name: Some(format!("First{}", i / 10)),
            last_name: Some(format!("Last{}", i / 10)),
        }),
        hire_date: Some("2021-04-01".into()),
        termination_date: None,
        gender: Some("diverse".into()),
        language: Some("de".into()),
        custom: vec![],
    }
}
