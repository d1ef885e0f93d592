//! `/Bulk` (RFC 7644 §3.7): many writes in one request, in order, each
//! answered on its own; `bulkId:` references to resources created earlier
//! in the same request are replaced by their ids; `failOnErrors` stops
//! after that many failures.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::filter::get_ci;
use super::schema::{Kind, BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD, BULK_REQUEST, BULK_RESPONSE};
use super::{json_body, Answer, Endpoint, ScimError};

pub async fn bulk(endpoint: Endpoint, body: Bytes) -> Result<Answer, ScimError> {
    if body.len() > BULK_MAX_PAYLOAD {
        return Err(ScimError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request has {} bytes; at most {BULK_MAX_PAYLOAD} are taken",
                body.len()
            ),
        ));
    }
    let request = json_body(&body)?;
    let schemas = request.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST)))
    }) {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("`schemas` must list {BULK_REQUEST}"),
        ));
    }
    let operations = get_ci(&request, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "`Operations` must be a list"))?;
    if operations.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} operations; at most {BULK_MAX_OPERATIONS} are taken",
                operations.len()
            ),
        ));
    }
    let fail_on_errors = get_ci(&request, "failOnErrors").and_then(Value::as_u64);
    let mut created: HashMap<String, String> = HashMap::new();
    let mut answers = Vec::with_capacity(operations.len());
    let mut failures = 0u64;
    for (index, operation) in operations.iter().enumerate() {
        if fail_on_errors.is_some_and(|limit| failures >= limit) {
            break;
        }
        let method = get_ci(operation, "method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_uppercase();
        let bulk_id = get_ci(operation, "bulkId").and_then(Value::as_str).map(str::to_string);
        let outcome = one(&endpoint, &method, operation, bulk_id.as_deref(), &created).await;
        let mut answer = json!({"method": method});
        if let Some(bulk_id) = &bulk_id {
            answer["bulkId"] = Value::from(bulk_id.as_str());
        }
        match outcome {
            Ok(done) => {
                if let (Some(bulk_id), Some(id)) = (&bulk_id, done.body.as_ref().and_then(|b| b.get("id"))) {
                    if let Some(id) = id.as_str() {
                        created.insert(bulk_id.clone(), id.to_string());
                    }
                }
                answer["status"] = Value::from(done.status.as_u16().to_string());
                if let Some(location) = done.location {
                    answer["location"] = Value::from(location);
                }
                if let Some(etag) = done.etag {
                    answer["version"] = Value::from(etag);
                }
            }
            Err(error) => {
                failures += 1;
                let error = error.detailed(|detail| format!("Operations[{index}]: {detail}"));
                answer["status"] = Value::from(error.status.as_u16().to_string());
                answer["response"] = error.body();
            }
        }
        answers.push(answer);
    }
    Ok(Answer::ok(json!({"schemas": [BULK_RESPONSE], "Operations": answers})))
}

/// Replaces `bulkId:x` strings by the ids of resources created earlier.
fn resolve(value: &mut Value, created: &HashMap<String, String>) -> Result<(), ScimError> {
    match value {
        Value::String(text) => {
            if let Some(bulk_id) = text.strip_prefix("bulkId:") {
                let id = created.get(bulk_id).ok_or_else(|| {
                    ScimError::bad(
                        "invalidValue",
                        format!("`bulkId:{bulk_id}` names no resource created before it"),
                    )
                })?;
                *text = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().try_for_each(|item| resolve(item, created))?,
        Value::Object(object) => object.values_mut().try_for_each(|item| resolve(item, created))?,
        _ => {}
    }
    Ok(())
}

async fn one(
    endpoint: &Endpoint,
    method: &str,
    operation: &Value,
    bulk_id: Option<&str>,
    created: &HashMap<String, String>,
) -> Result<Answer, ScimError> {
    let path = get_ci(operation, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "`path` is missing"))?;
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let kind = match segments.next() {
        Some("Users") => Kind::User,
        Some("Groups") => Kind::Group,
        _ => {
            return Err(ScimError::bad(
                "invalidPath",
                format!("`{path}` is not /Users or /Groups"),
            ))
        }
    };
    let id = match segments.next() {
        Some(id) if id.starts_with("bulkId:") => {
            let mut value = Value::from(id);
            resolve(&mut value, created)?;
            value.as_str().map(str::to_string)
        }
        other => other.map(str::to_string),
    };
    let version = get_ci(operation, "version").and_then(Value::as_str);
    let data = || -> Result<Value, ScimError> {
        let mut data = get_ci(operation, "data")
            .cloned()
            .ok_or_else(|| ScimError::bad("invalidSyntax", "`data` is missing"))?;
        resolve(&mut data, created)?;
        Ok(data)
    };
    match (method, id) {
        ("POST", None) => {
            if bulk_id.is_none() {
                return Err(ScimError::bad("invalidSyntax", "a POST needs a `bulkId`"));
            }
            endpoint.create(kind, data()?).await
        }
        ("PUT", Some(id)) => endpoint.replace(kind, &id, data()?, version).await,
        ("PATCH", Some(id)) => endpoint.patch(kind, &id, data()?, version).await,
        ("DELETE", Some(id)) => endpoint.delete(kind, &id, version).await,
        (method, _) => Err(ScimError::bad(
            "invalidSyntax",
            format!("`{method} {path}` is not a bulk operation (POST to a type; PUT, PATCH or DELETE to a resource)"),
        )),
    }
}
