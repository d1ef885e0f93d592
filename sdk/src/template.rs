//! Naming templates: `"Abteilung {department}"`,
//! `"{supervisor.first_name} {supervisor.last_name}s Team"`. Placeholders
//! name employee fields as [`Employee::field`](crate::Employee::field) reads
//! them; `{{` and `}}` are literal braces. A date field may carry a format
//! after a colon, in strftime codes: `"Jahrgang {hire_date:%Y}"`,
//! `"{hire_date:%d.%m.%Y}"` — a value that is not a date then counts as
//! empty. Parsed once (errors name the unknown field or the bad format and
//! their position), rendered per employee.

use chrono::format::{Item, StrftimeItems};

use crate::employee::{is_known_field, normalize_field};
use crate::Employee;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field {
        name: String,
        /// strftime codes for a date (`%d.%m.%Y`).
        date_format: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown field `{field}` at character {at}")]
    UnknownField { field: String, at: usize },
    #[error("`{{` at character {at} is not closed")]
    Unclosed { at: usize },
    #[error("`}}` at character {at} has no `{{`; write `}}}}` for a literal brace")]
    Unopened { at: usize },
    #[error(
        "`{format}` at character {at} is not a date format; write strftime codes such as %Y, %m, %d \
         (`{{hire_date:%d.%m.%Y}}`)"
    )]
    BadDateFormat { format: String, at: usize },
}

/// Splits `hire_date:%d.%m.%Y` into the field and its date format; a
/// colon not followed by a `%` code is part of the name.
fn field_and_format(text: &str) -> (&str, Option<&str>) {
    match text.split_once(':') {
        Some((name, format)) if format.contains('%') => (name, Some(format)),
        _ => (text, None),
    }
}

/// Whether chrono understands every code of `format`.
fn is_date_format(format: &str) -> bool {
    !StrftimeItems::new(format).any(|item| matches!(item, Item::Error))
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        // Errors count characters from 1, as people do: "Zoë {x" has its
        // `{` at 5.
        let character = |byte: usize| text[..byte].chars().count() + 1;
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unopened { at: character(at) }),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, c)) => name.push(c),
                            None => return Err(TemplateError::Unclosed { at: character(at) }),
                        }
                    }
                    let (field, date_format) = field_and_format(&name);
                    if !is_known_field(field) {
                        return Err(TemplateError::UnknownField {
                            field: field.trim().to_string(),
                            at: character(at),
                        });
                    }
                    if let Some(format) = date_format.filter(|f| !is_date_format(f)) {
                        return Err(TemplateError::BadDateFormat {
                            format: format.to_string(),
                            at: character(at),
                        });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field {
                        name: normalize_field(field),
                        date_format: date_format.map(str::to_string),
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The text for `employee`; `None` when a field it names is empty (an
    /// employee without a supervisor gets no "{supervisor...}s Team").
    pub fn render(&self, employee: &Employee) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field {
                    name,
                    date_format: None,
                } => out.push_str(&employee.field(name)?),
                Part::Field {
                    name,
                    date_format: Some(format),
                } => {
                    let date = crate::time::date_of(employee.field(name)?.trim())?;
                    out.push_str(&date.format(format).to_string());
                }
            }
        }
        Some(out.trim().to_string()).filter(|s| !s.is_empty())
    }

    /// The fields it reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmployeeStatus;

    fn employee(hire_date: &str) -> Employee {
        Employee {
            hr_id: "7".into(),
            email: None,
            first_name: "Zoë".into(),
            last_name: "Weiß".into(),
            preferred_name: None,
            status: EmployeeStatus::Active,
            employment_type: None,
            job_title: None,
            department: Some("IT".into()),
            team: None,
            office: None,
            supervisor: None,
            hire_date: Some(hire_date.into()),
            termination_date: None,
            gender: None,
            language: None,
            custom: Vec::new(),
        }
    }

    #[test]
    fn dates_are_formatted_by_strftime_codes() {
        let template = Template::parse("Jahrgang {hire_date:%Y} – {department} seit {hire-date:%d.%m.%Y}").unwrap();
        assert_eq!(
            template.render(&employee("2024-02-29T00:00:00+01:00")).as_deref(),
            Some("Jahrgang 2024 – IT seit 29.02.2024")
        );
        assert_eq!(
            template.fields().collect::<Vec<_>>(),
            ["hire_date", "department", "hire_date"]
        );
        // Not a date: empty, as a missing field is.
        assert_eq!(template.render(&employee("next spring")), None);
        // Without a format, the value as written.
        let plain = Template::parse("{hire_date}").unwrap();
        assert_eq!(plain.render(&employee("2024-02-29")).as_deref(), Some("2024-02-29"));
    }

    #[test]
    fn a_bad_date_format_is_named_with_its_position() {
        let error = Template::parse("Team {hire_date:%Q}").unwrap_err();
        assert_eq!(
            error,
            TemplateError::BadDateFormat {
                format: "%Q".into(),
                at: 6
            }
        );
        assert!(error.to_string().contains("%Y, %m, %d"), "{error}");
        // Positions count characters, not bytes.
        assert_eq!(
            Template::parse("Zoë {hire_date:%Q}").unwrap_err(),
            TemplateError::BadDateFormat {
                format: "%Q".into(),
                at: 5
            }
        );
        // A colon without a code belongs to the name (a custom label).
        assert!(matches!(
            Template::parse("{custom.Start: Datum}"),
            Ok(t) if t.fields().collect::<Vec<_>>() == ["custom.Start: Datum"]
        ));
    }
}
