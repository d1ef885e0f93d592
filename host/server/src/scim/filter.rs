//! SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2): parsed
//! into a tree, evaluated against stored resources (JSON). Attribute names
//! are case-insensitive; string comparisons too, except of the attributes
//! SCIM calls case-exact (ids and references).

use serde_json::Value;

use super::schema::{is_case_exact, CORE_GROUP, CORE_USER, ENTERPRISE_USER};

/// An attribute: `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The extension schema whose object holds the attribute; `None` for
    /// the core schema (its URN prefix is dropped).
    pub extension: Option<String>,
    /// The attribute and, optionally, its sub-attribute.
    pub names: Vec<String>,
}

impl AttrPath {
    /// Parses one path (no filter); `what` names it in errors.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an attribute path is empty".into());
        }
        let whole_schema = [ENTERPRISE_USER, CORE_USER, CORE_GROUP]
            .into_iter()
            .find(|urn| urn.eq_ignore_ascii_case(text));
        let (extension, rest) = if let Some(urn) = whole_schema {
            // A schema by itself: the extension's whole object.
            let core = urn != ENTERPRISE_USER;
            (if core { None } else { Some(urn.to_string()) }, "")
        } else if starts_with_ci(text, "urn:") {
            // The URN has dots of its own (`2.0`): the attribute follows the
            // last colon.
            let split = text
                .rfind(':')
                .ok_or_else(|| format!("`{text}` is no attribute path"))?;
            let (urn, rest) = (&text[..split], &text[split + 1..]);
            let core = urn.eq_ignore_ascii_case(CORE_USER) || urn.eq_ignore_ascii_case(CORE_GROUP);
            (if core { None } else { Some(urn.to_string()) }, rest)
        } else {
            (None, text)
        };
        let names: Vec<String> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('.').map(str::to_string).collect()
        };
        let valid = |name: &String| {
            let mut chars = name.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if names.len() > 2
            || !names.iter().all(valid)
            || (names.is_empty() && whole_schema.is_none() && extension.is_none())
        {
            return Err(format!("`{text}` is no attribute path"));
        }
        Ok(Self { extension, names })
    }

    /// The object that holds the attribute: the resource, or its
    /// extension's object.
    fn holder<'v>(&self, resource: &'v Value) -> Option<&'v Value> {
        match &self.extension {
            None => Some(resource),
            Some(urn) => get_ci(resource, urn),
        }
    }

    /// Every value at the path; multi-valued attributes give one per
    /// element (a complex element counts by its `value`).
    pub fn values<'v>(&self, resource: &'v Value) -> Vec<&'v Value> {
        let Some(holder) = self.holder(resource) else {
            return Vec::new();
        };
        let mut current = vec![holder];
        for name in &self.names {
            current = current
                .into_iter()
                .filter_map(|value| get_ci(value, name))
                .flat_map(|value| match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                })
                .collect();
        }
        if self.names.len() == 1 {
            current = current
                .into_iter()
                .map(|value| match value {
                    Value::Object(_) => get_ci(value, "value").unwrap_or(value),
                    other => other,
                })
                .collect();
        }
        current
    }

    fn case_exact(&self) -> bool {
        is_case_exact(&self.names)
    }
}

/// Whether `text` starts with `prefix` in any case (never splitting a
/// character).
pub fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// A key of a JSON object, looked up without regard to case.
pub fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    object
        .get(key)
        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: Op,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`: one element matches all.
    Within {
        attribute: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(format!(
                "a filter has at most {MAX_FILTER_BYTES} bytes; this one {}",
                text.len()
            ));
        }
        let mut parser = Parser { text, at: 0, depth: 0 };
        let filter = parser.or()?;
        parser.skip_space();
        if parser.at < text.len() {
            return Err(format!(
                "unexpected `{}` at character {}",
                &text[parser.at..],
                parser.at + 1
            ));
        }
        Ok(filter)
    }

    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::Present(path) => path.values(resource).into_iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Filter::Compare { path, op, value } => {
                let exact = path.case_exact();
                path.values(resource)
                    .into_iter()
                    .any(|found| compare(found, *op, value, exact))
            }
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(inner) => !inner.matches(resource),
            Filter::Within { attribute, filter } => {
                let Some(holder) = attribute.holder(resource) else {
                    return false;
                };
                let Some(found) = attribute.names.first().and_then(|name| get_ci(holder, name)) else {
                    return false;
                };
                match found {
                    Value::Array(items) => items.iter().any(|item| filter.matches(item)),
                    item => filter.matches(item),
                }
            }
        }
    }

    /// `userName eq "x"` (any case of the name): what an identity
    /// provider asks before it creates a user, answered from an index.
    pub fn equality_on(&self, attribute: &str) -> Option<&str> {
        match self {
            Filter::Compare {
                path,
                op: Op::Eq,
                value: Value::String(text),
            } if path.extension.is_none() && path.names.len() == 1 && path.names[0].eq_ignore_ascii_case(attribute) => {
                Some(text)
            }
            _ => None,
        }
    }
}

fn compare(found: &Value, op: Op, wanted: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (found, wanted) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            match a.partial_cmp(&b) {
                Some(ordering) => ordering,
                None => return false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) if matches!(op, Op::Eq | Op::Ne) => a.cmp(b),
        (Value::String(a), Value::Bool(b)) if matches!(op, Op::Eq | Op::Ne) => {
            // Some identity providers send booleans as "True"/"False".
            match a.to_ascii_lowercase().as_str() {
                "true" => true.cmp(b),
                "false" => false.cmp(b),
                _ => return op == Op::Ne,
            }
        }
        (_, Value::Null) => return (op == Op::Eq) == found.is_null(),
        _ => return op == Op::Ne,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
    /// Parentheses and brackets open: bounded, so that a filter of
    /// thousands of `(` is refused, not a stack overflow.
    depth: usize,
}

/// The deepest nesting of parentheses and brackets a filter may have.
const MAX_DEPTH: usize = 32;
/// The longest filter: its terms make a tree as deep as there are terms,
/// walked recursively.
const MAX_FILTER_BYTES: usize = 4096;

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    /// Takes `word` (any case) when it comes next as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        let ends = rest
            .get(word.len()..)
            .is_some_and(|after| after.is_empty() || after.starts_with([' ', '(', ')', '[', ']', '"']));
        if starts_with_ci(rest, word) && ends {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbol: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(symbol) {
            self.at += symbol.len_utf8();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("more than {MAX_DEPTH} parentheses or brackets deep"));
        }
        let parsed = parse(self);
        self.depth -= 1;
        parsed
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.keyword("not") {
            if !self.symbol('(') {
                return Err(format!("`not` must be followed by `(` at character {}", self.at + 1));
            }
            let inner = self.nested(Self::or)?;
            return self.close(')').map(|_| Filter::Not(Box::new(inner)));
        }
        if self.symbol('(') {
            let inner = self.nested(Self::or)?;
            return self.close(')').map(|_| inner);
        }
        self.attribute_expression()
    }

    fn close(&mut self, symbol: char) -> Result<(), String> {
        if self.symbol(symbol) {
            Ok(())
        } else {
            Err(format!("`{symbol}` expected at character {}", self.at + 1))
        }
    }

    fn attribute_expression(&mut self) -> Result<Filter, String> {
        self.skip_space();
        let start = self.at;
        let length = self
            .rest()
            .find(|c: char| c.is_whitespace() || matches!(c, '[' | '(' | ')' | ']'))
            .unwrap_or(self.rest().len());
        if length == 0 {
            return Err(format!("an attribute expected at character {}", start + 1));
        }
        self.at += length;
        let path = AttrPath::parse(&self.text[start..self.at])?;
        if self.symbol('[') {
            let inner = self.nested(Self::or)?;
            self.close(']')?;
            return Ok(Filter::Within {
                attribute: path,
                filter: Box::new(inner),
            });
        }
        if self.keyword("pr") {
            return Ok(Filter::Present(path));
        }
        let op = [
            ("eq", Op::Eq),
            ("ne", Op::Ne),
            ("co", Op::Co),
            ("sw", Op::Sw),
            ("ew", Op::Ew),
            ("gt", Op::Gt),
            ("ge", Op::Ge),
            ("lt", Op::Lt),
            ("le", Op::Le),
        ]
        .into_iter()
        .find(|(word, _)| self.keyword(word))
        .map(|(_, op)| op)
        .ok_or_else(|| {
            format!(
                "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) expected at character {}",
                self.at + 1
            )
        })?;
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space();
        let rest = self.rest();
        if let Some(inside) = rest.strip_prefix('"') {
            // A JSON string: find its closing quote, skipping escapes.
            let mut escaped = false;
            let end = inside
                .char_indices()
                .find(|&(_, c)| {
                    let close = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map(|(i, _)| i + 2)
                .ok_or_else(|| format!("a string opened at character {} is not closed", self.at + 1))?;
            let value = serde_json::from_str(&rest[..end]).map_err(|e| format!("a string: {e}"))?;
            self.at += end;
            return Ok(value);
        }
        let length = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']'))
            .unwrap_or(rest.len());
        let word = &rest[..length];
        let value = match word.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => serde_json::from_str::<serde_json::Number>(word)
                .map(Value::Number)
                .map_err(|_| format!("`{word}` at character {} is no value (strings are quoted)", self.at + 1))?,
        };
        self.at += length;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "userName": "Jörg.Müller@example.com",
            "name": {"givenName": "Jörg", "familyName": "Müller"},
            "active": true,
            "externalId": "E-17",
            "emails": [{"value": "jm@example.com", "type": "work", "primary": true},
                       {"value": "jm@home.example", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "IT", "manager": {"value": "u-1"}
            },
            "meta": {"lastModified": "2026-12-01T10:00:00Z"}
        })
    }

    fn matches(filter: &str) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(&user())
    }

    #[test]
    fn filters_of_the_rfc_and_of_identity_providers_match_as_specified() {
        assert!(matches(r#"userName eq "jörg.müller@example.com""#));
        assert!(matches(r#"USERNAME Eq "JÖRG.MÜLLER@EXAMPLE.COM""#));
        assert!(!matches(r#"externalId eq "e-17""#), "externalId is case-exact");
        assert!(matches(r#"externalId eq "E-17""#));
        assert!(matches(r#"name.familyName sw "Mü" and active eq true"#));
        assert!(matches(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!matches(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(matches(r#"emails co "home.example""#));
        assert!(matches(r#"emails.value ew "home.example""#));
        assert!(matches(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName pr"#));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "u-1""#
        ));
        assert!(matches(
            r#"not (title pr) and (active eq false or name.givenName eq "jörg")"#
        ));
        assert!(matches(r#"meta.lastModified gt "2026-11-30T00:00:00Z""#));
        assert!(!matches(r#"meta.lastModified lt "2026-11-30T00:00:00Z""#));
        assert!(matches(r#"userName eq "a" or userName eq "b" or active eq true"#));
    }

    #[test]
    fn a_malformed_filter_is_refused_naming_where() {
        for (filter, says) in [
            (r#"userName eq"#, "value"),
            (r#"userName xx "a""#, "operator"),
            (r#"userName eq "a"#, "not closed"),
            (r#"(userName eq "a""#, "`)` expected"),
            (r#"userName eq a"#, "no value"),
            (r#"emails[type eq "work""#, "`]` expected"),
            (r#"userName eq "a" junk"#, "unexpected"),
            (r#"1abc eq "a""#, "no attribute path"),
            (r#"xä eq "a""#, "no attribute path"),
            (r#"äöü"#, "no attribute path"),
            (
                format!("{}userName pr{}", "(".repeat(1_000), ")".repeat(1_000)).as_str(),
                "32 parentheses",
            ),
            ("userName pr or ".repeat(1_000).as_str(), "at most 4096 bytes"),
        ] {
            let error = Filter::parse(filter).err().unwrap_or_else(|| panic!("{filter} parsed"));
            assert!(error.contains(says), "{filter}: {error}");
        }
    }

    #[test]
    fn an_equality_on_user_name_is_recognised_for_the_index() {
        let filter = Filter::parse(r#"username EQ "x@y""#).unwrap();
        assert_eq!(filter.equality_on("userName"), Some("x@y"));
        assert_eq!(
            Filter::parse(r#"userName co "x""#).unwrap().equality_on("userName"),
            None
        );
    }
}
