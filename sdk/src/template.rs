//! Naming templates: `"Abteilung {department}"`,
//! `"{supervisor.first_name} {supervisor.last_name}s Team"`. Placeholders
//! name employee fields as [`Employee::field`](crate::Employee::field) reads
//! them; `{{` and `}}` are literal braces. Parsed once (errors name the
//! unknown field and its position), rendered per employee.

use crate::employee::{is_known_field, normalize_field};
use crate::Employee;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
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
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
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
                '}' => return Err(TemplateError::Unopened { at: at + 1 }),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, c)) => name.push(c),
                            None => return Err(TemplateError::Unclosed { at: at + 1 }),
                        }
                    }
                    if !is_known_field(&name) {
                        return Err(TemplateError::UnknownField {
                            field: name.trim().to_string(),
                            at: at + 1,
                        });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(normalize_field(&name)));
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
                Part::Field(name) => out.push_str(&employee.field(name)?),
            }
        }
        Some(out.trim().to_string()).filter(|s| !s.is_empty())
    }

    /// The fields it reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }
}
