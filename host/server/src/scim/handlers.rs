//! The endpoint's operations on Users and Groups — create, get, replace,
//! patch, delete, list and search — shared by the HTTP handlers at the end
//! of this file and by `/Bulk` (`bulk.rs`).

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::filter::{AttrPath, Filter};
use super::resource::{accept, check, etag, keys, member_ids, show, Projection};
use super::schema::{self, Kind, LIST_RESPONSE, MAX_RESULTS};
use super::{json_body, Answer, Endpoint, ScimError};
use crate::api::Path;
use hrsync_store::pushed::{Pushed, PushedKey, Written};

/// A page when the client asks for none.
const DEFAULT_COUNT: usize = 100;

/// Writes retried when another write changed the resource in between.
const WRITE_ATTEMPTS: usize = 5;

/// What a list or search asks for.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl ListQuery {
    fn from_query(raw: Option<&str>) -> Result<Self, ScimError> {
        let mut query = Self::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let number = |value: &str| {
                value
                    .parse::<i64>()
                    .map_err(|_| ScimError::bad("invalidValue", format!("`{key}` must be a number, not `{value}`")))
            };
            match key.as_ref() {
                "filter" => query.filter = Some(value.into_owned()),
                "sortBy" => query.sort_by = Some(value.into_owned()),
                "sortOrder" => query.descending = value.eq_ignore_ascii_case("descending"),
                "startIndex" => query.start_index = Some(number(&value)?),
                "count" => query.count = Some(number(&value)?),
                "attributes" => query.attributes = Some(value.into_owned()),
                "excludedAttributes" => query.excluded = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(query)
    }

    /// A `SearchRequest` body (RFC 7644 §3.4.3).
    fn from_search(body: &Value) -> Result<Self, ScimError> {
        let field = |name: &str| super::filter::get_ci(body, name);
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::bad("invalidValue", format!("`{name}` must be a string"))),
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => Ok(Some(
                    items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
                )),
                Some(_) => Err(ScimError::bad(
                    "invalidValue",
                    format!("`{name}` must be a list of attributes"),
                )),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => value
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::bad("invalidValue", format!("`{name}` must be a number"))),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            descending: text("sortOrder")?.is_some_and(|o| o.eq_ignore_ascii_case("descending")),
            start_index: number("startIndex")?,
            count: number("count")?,
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        })
    }
}

/// Whether a list of entity tags (`If-Match`, `If-None-Match`) names
/// `current`, weak or strong alike.
fn tags_match(tags: &str, current: &str) -> bool {
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    tags.split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == strip(current))
}

/// Whether `If-Match` lets a write of a resource at `version` go ahead.
fn precondition(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    let Some(wanted) = if_match else { return Ok(()) };
    let current = etag(version);
    if tags_match(wanted, &current) {
        Ok(())
    } else {
        Err(ScimError::status(
            StatusCode::PRECONDITION_FAILED,
            format!("the resource is at version {current}, not {wanted}"),
        ))
    }
}

impl Endpoint {
    fn id(&self) -> &str {
        &self.integration.id
    }

    /// Each user's groups, as a User shows them.
    async fn groups_by_member(&self) -> Result<HashMap<String, Vec<Value>>, ScimError> {
        let groups = self
            .state
            .control
            .store
            .pushed_all(self.id(), Kind::Group.name())
            .await?;
        let mut by_member: HashMap<String, Vec<Value>> = HashMap::new();
        for group in &groups {
            let display = group.body.get("displayName").cloned().unwrap_or(Value::Null);
            // A member listed twice is a member once.
            let mut seen = HashSet::new();
            for id in member_ids(&group.body).filter(|id| seen.insert(*id)) {
                by_member.entry(id.to_string()).or_default().push(json!({
                    "value": group.id,
                    "$ref": format!("{}/Groups/{}", self.base, group.id),
                    "display": display,
                }));
            }
        }
        Ok(by_member)
    }

    async fn shown(&self, kind: Kind, pushed: &Pushed) -> Result<Value, ScimError> {
        let groups = match kind {
            Kind::User => self.groups_by_member().await?.remove(&pushed.id),
            Kind::Group => None,
        };
        Ok(show(kind, pushed, &self.base, groups))
    }

    /// The answer of a write: the resource with its ETag and location.
    async fn answer(&self, status: StatusCode, kind: Kind, pushed: &Pushed) -> Result<Answer, ScimError> {
        Ok(Self::written(status, pushed, self.shown(kind, pushed).await?))
    }

    fn written(status: StatusCode, pushed: &Pushed, body: Value) -> Answer {
        Answer {
            status,
            location: body
                .pointer("/meta/location")
                .and_then(Value::as_str)
                .map(str::to_string),
            etag: Some(etag(pushed.version)),
            body: Some(body),
        }
    }

    fn taken(kind: Kind, stored: &Value) -> ScimError {
        let name = stored.get("userName").and_then(Value::as_str).unwrap_or_default();
        ScimError {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: format!("a {} with userName `{name}` exists", kind.name()),
        }
    }

    pub async fn create(&self, kind: Kind, body: Value) -> Result<Answer, ScimError> {
        let stored = accept(kind, body)?;
        let id = new_resource_id()?;
        let store = &self.state.control.store;
        match store
            .push_create(self.id(), kind.name(), &id, &keys(kind, &stored), &stored)
            .await?
        {
            Written::Done(pushed) => {
                self.pushed();
                // A new id: no group lists it yet.
                let body = show(kind, &pushed, &self.base, None);
                Ok(Self::written(StatusCode::CREATED, &pushed, body))
            }
            _ => Err(Self::taken(kind, &stored)),
        }
    }

    pub async fn read(&self, kind: Kind, id: &str) -> Result<Pushed, ScimError> {
        (self.state.control.store.pushed(self.id(), kind.name(), id).await?)
            .ok_or_else(|| ScimError::not_found(kind.name(), id))
    }

    async fn fetch(
        &self,
        kind: Kind,
        id: &str,
        query: &ListQuery,
        if_none_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let pushed = self.read(kind, id).await?;
        let tag = etag(pushed.version);
        if if_none_match.is_some_and(|tags| tags_match(tags, &tag)) {
            return Ok(Answer {
                status: StatusCode::NOT_MODIFIED,
                body: None,
                etag: Some(tag),
                location: None,
            });
        }
        let projection = Projection::parse(query.attributes.as_deref(), query.excluded.as_deref())?;
        let body = projection.apply(self.shown(kind, &pushed).await?);
        Ok(Answer {
            etag: Some(tag),
            ..Answer::ok(body)
        })
    }

    /// Writes `change(resource)` over the stored resource, again when
    /// another write came in between.
    async fn rewrite(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
        change: impl Fn(&Pushed) -> Result<Value, ScimError>,
    ) -> Result<Answer, ScimError> {
        let store = &self.state.control.store;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.read(kind, id).await?;
            precondition(if_match, current.version)?;
            let stored = change(&current)?;
            match store
                .push_replace(
                    self.id(),
                    kind.name(),
                    id,
                    current.version,
                    &keys(kind, &stored),
                    &stored,
                )
                .await?
            {
                Written::Done(pushed) => {
                    self.pushed();
                    return self.answer(StatusCode::OK, kind, &pushed).await;
                }
                Written::NameTaken => return Err(Self::taken(kind, &stored)),
                Written::Missing => return Err(ScimError::not_found(kind.name(), id)),
                Written::Stale => continue,
            }
        }
        Err(ScimError::status(
            StatusCode::CONFLICT,
            format!("{} `{id}` kept changing under this write; send it again", kind.name()),
        ))
    }

    pub async fn replace(
        &self,
        kind: Kind,
        id: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let stored = accept(kind, body)?;
        self.rewrite(kind, id, if_match, |_| Ok(stored.clone())).await
    }

    pub async fn patch(&self, kind: Kind, id: &str, body: Value, if_match: Option<&str>) -> Result<Answer, ScimError> {
        self.rewrite(kind, id, if_match, |current| {
            let mut resource = current.body.clone();
            super::patch::apply(kind, &mut resource, &body)?;
            super::resource::tidy(&mut resource);
            check(kind, &resource)?;
            Ok(resource)
        })
        .await
    }

    pub async fn delete(&self, kind: Kind, id: &str, if_match: Option<&str>) -> Result<Answer, ScimError> {
        let store = &self.state.control.store;
        let current = self.read(kind, id).await?;
        precondition(if_match, current.version)?;
        if !store.push_delete(self.id(), kind.name(), id).await? {
            return Err(ScimError::not_found(kind.name(), id));
        }
        if kind == Kind::User {
            self.forget_member(id).await?;
        }
        self.pushed();
        Ok(Answer {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: None,
            location: None,
        })
    }

    /// Takes a deleted user out of the groups that listed it.
    async fn forget_member(&self, user: &str) -> Result<(), ScimError> {
        let store = &self.state.control.store;
        for group in store.pushed_all(self.id(), Kind::Group.name()).await? {
            let lists = |g: &Pushed| member_ids(&g.body).any(|id| id == user);
            if !lists(&group) {
                continue;
            }
            self.rewrite(Kind::Group, &group.id, None, |current| {
                let mut body = current.body.clone();
                if let Some(Value::Array(members)) = body.get_mut("members") {
                    members.retain(|m| m.get("value").and_then(Value::as_str) != Some(user));
                }
                Ok(body)
            })
            .await
            .map(|_| ())
            .or_else(|error| {
                if error.status == StatusCode::NOT_FOUND {
                    Ok(())
                } else {
                    Err(error)
                }
            })?;
        }
        Ok(())
    }

    /// A page of the resources of `kinds` the query's filter matches.
    pub async fn list(&self, kinds: &[Kind], query: &ListQuery) -> Result<Answer, ScimError> {
        let filter = query
            .filter
            .as_deref()
            .map(|f| Filter::parse(f).map_err(|e| ScimError::bad("invalidFilter", format!("filter `{f}`: {e}"))))
            .transpose()?;
        let projection = Projection::parse(query.attributes.as_deref(), query.excluded.as_deref())?;
        let sort = query
            .sort_by
            .as_deref()
            .map(|s| AttrPath::parse(s).map_err(|e| ScimError::bad("invalidPath", format!("sortBy: {e}"))))
            .transpose()?;
        let store = &self.state.control.store;
        // Read once, and only when a user is to be shown.
        let mut groups: Option<HashMap<String, Vec<Value>>> = None;
        let mut found: Vec<Value> = Vec::new();
        for &kind in kinds {
            // What identity providers ask before creating a user is
            // answered from an index; other filters read the type.
            let indexed = filter.as_ref().and_then(|f| {
                (f.equality_on("userName").filter(|_| kind == Kind::User))
                    .map(|name| (PushedKey::Name, name.to_lowercase()))
                    .or_else(|| {
                        f.equality_on("externalId")
                            .map(|id| (PushedKey::ExternalId, id.to_string()))
                    })
            });
            let candidates = match indexed {
                Some((key, value)) => store.pushed_by_key(self.id(), kind.name(), key, &value).await?,
                None => store.pushed_all(self.id(), kind.name()).await?,
            };
            for pushed in &candidates {
                let member_of = match kind {
                    Kind::User => {
                        if groups.is_none() {
                            groups = Some(self.groups_by_member().await?);
                        }
                        groups.as_ref().and_then(|g| g.get(&pushed.id).cloned())
                    }
                    Kind::Group => None,
                };
                let shown = show(kind, pushed, &self.base, member_of);
                if filter.as_ref().is_none_or(|f| f.matches(&shown)) {
                    found.push(shown);
                }
            }
        }
        if let Some(path) = &sort {
            let key = |resource: &Value| {
                path.values(resource).first().map(|v| match v {
                    Value::String(s) => s.to_lowercase(),
                    other => other.to_string(),
                })
            };
            found.sort_by(|a, b| match (key(a), key(b)) {
                (Some(a), Some(b)) if query.descending => b.cmp(&a),
                (Some(a), Some(b)) => a.cmp(&b),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
        let total = found.len();
        let start = query.start_index.unwrap_or(1).max(1) as usize;
        let count = query.count.unwrap_or(DEFAULT_COUNT as i64).clamp(0, MAX_RESULTS as i64) as usize;
        let page: Vec<Value> = found
            .into_iter()
            .skip(start - 1)
            .take(count)
            .map(|resource| projection.apply(resource))
            .collect();
        Ok(Answer::ok(json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": page.len(),
            "startIndex": start,
            "Resources": page,
        })))
    }
}

/// A new resource id: 128 random bits in the UUID's form.
fn new_resource_id() -> Result<String, ScimError> {
    let mut bytes = crate::vault::random_bytes::<16>().map_err(ScimError::internal)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = crate::vault::to_hex(&bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

type Reply = Result<Answer, ScimError>;

// The HTTP handlers: one per route and method, each a line over the
// operations above.

pub async fn service_provider_config(endpoint: Endpoint) -> Answer {
    Answer::ok(schema::service_provider_config(&endpoint.base))
}

fn listed(resources: Vec<Value>) -> Answer {
    Answer::ok(json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    }))
}

fn one_of(resources: Vec<Value>, id: &str, what: &str) -> Reply {
    resources
        .into_iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        .map(Answer::ok)
        .ok_or_else(|| ScimError::not_found(what, id))
}

pub async fn schemas(endpoint: Endpoint) -> Answer {
    listed(schema::schemas(&endpoint.base))
}

pub async fn one_schema(endpoint: Endpoint, Path((_, id)): Path<(String, String)>) -> Reply {
    one_of(schema::schemas(&endpoint.base), &id, "schema")
}

pub async fn resource_types(endpoint: Endpoint) -> Answer {
    listed(schema::resource_types(&endpoint.base))
}

pub async fn one_resource_type(endpoint: Endpoint, Path((_, id)): Path<(String, String)>) -> Reply {
    one_of(schema::resource_types(&endpoint.base), &id, "resource type")
}

async fn list_of(endpoint: Endpoint, kinds: &[Kind], query: RawQuery) -> Reply {
    endpoint.list(kinds, &ListQuery::from_query(query.0.as_deref())?).await
}

async fn search_of(endpoint: Endpoint, kinds: &[Kind], body: Bytes) -> Reply {
    endpoint.list(kinds, &ListQuery::from_search(&json_body(&body)?)?).await
}

async fn get_of(endpoint: Endpoint, kind: Kind, id: &str, query: RawQuery, headers: HeaderMap) -> Reply {
    let query = ListQuery::from_query(query.0.as_deref())?;
    endpoint
        .fetch(kind, id, &query, header(&headers, header::IF_NONE_MATCH))
        .await
}

pub async fn list_users(endpoint: Endpoint, query: RawQuery) -> Reply {
    list_of(endpoint, &[Kind::User], query).await
}

pub async fn list_groups(endpoint: Endpoint, query: RawQuery) -> Reply {
    list_of(endpoint, &[Kind::Group], query).await
}

pub async fn search_users(endpoint: Endpoint, body: Bytes) -> Reply {
    search_of(endpoint, &[Kind::User], body).await
}

pub async fn search_groups(endpoint: Endpoint, body: Bytes) -> Reply {
    search_of(endpoint, &[Kind::Group], body).await
}

pub async fn search_all(endpoint: Endpoint, body: Bytes) -> Reply {
    search_of(endpoint, &[Kind::User, Kind::Group], body).await
}

pub async fn create_user(endpoint: Endpoint, body: Bytes) -> Reply {
    endpoint.create(Kind::User, json_body(&body)?).await
}

pub async fn create_group(endpoint: Endpoint, body: Bytes) -> Reply {
    endpoint.create(Kind::Group, json_body(&body)?).await
}

pub async fn get_user(
    endpoint: Endpoint,
    Path((_, id)): Path<(String, String)>,
    query: RawQuery,
    headers: HeaderMap,
) -> Reply {
    get_of(endpoint, Kind::User, &id, query, headers).await
}

pub async fn get_group(
    endpoint: Endpoint,
    Path((_, id)): Path<(String, String)>,
    query: RawQuery,
    headers: HeaderMap,
) -> Reply {
    get_of(endpoint, Kind::Group, &id, query, headers).await
}

pub async fn replace_user(
    endpoint: Endpoint,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    endpoint
        .replace(Kind::User, &id, json_body(&body)?, header(&headers, header::IF_MATCH))
        .await
}

pub async fn replace_group(
    endpoint: Endpoint,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    endpoint
        .replace(Kind::Group, &id, json_body(&body)?, header(&headers, header::IF_MATCH))
        .await
}

pub async fn patch_user(
    endpoint: Endpoint,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    endpoint
        .patch(Kind::User, &id, json_body(&body)?, header(&headers, header::IF_MATCH))
        .await
}

pub async fn patch_group(
    endpoint: Endpoint,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    endpoint
        .patch(Kind::Group, &id, json_body(&body)?, header(&headers, header::IF_MATCH))
        .await
}

pub async fn delete_user(endpoint: Endpoint, Path((_, id)): Path<(String, String)>, headers: HeaderMap) -> Reply {
    endpoint
        .delete(Kind::User, &id, header(&headers, header::IF_MATCH))
        .await
}

pub async fn delete_group(endpoint: Endpoint, Path((_, id)): Path<(String, String)>, headers: HeaderMap) -> Reply {
    endpoint
        .delete(Kind::Group, &id, header(&headers, header::IF_MATCH))
        .await
}
