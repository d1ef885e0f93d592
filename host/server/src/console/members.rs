//! Members and keys: invite a member with a role, change a role, remove a
//! member; create a key (shown once) and revoke keys. Owners act; the
//! others see the members only (the API decides, as for every caller).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::page::{self, csrf_field, layout, time, Section};
use super::session::Signed;
use super::{see_other, Result};
use crate::api::error::ApiError;
use crate::api::tenants::{self as api, MemberChange, NewKey, NewKeyResponse, NewMember};
use crate::api::{AppState, Json, Path};
use hrsync_store::tenants::{Mode, Role};

const ROLES: &[Role] = &[Role::Viewer, Role::Admin, Role::Owner];

fn role_select(name: &str, id: &str, label: &str, current: Role) -> Markup {
    html! {
        select name=(name) id=(id) aria-label=(label) {
            @for role in ROLES { option value=(role.as_str()) selected[*role == current] { (role.as_str()) } }
        }
    }
}

async fn members_page(
    state: &AppState,
    signed: &Signed,
    issued: Option<&NewKeyResponse>,
    error: Option<String>,
    notice: Option<&str>,
) -> Result<Markup> {
    let Json(members) = api::list_members(State(state.clone()), signed.who.clone()).await?;
    let owner = signed.who.role == Role::Owner;
    let keys = if owner {
        api::list_keys(State(state.clone()), signed.who.clone()).await?.0
    } else {
        Vec::new()
    };
    let email_of = |id: &str| {
        members
            .iter()
            .find(|m| m.id == id)
            .map_or(id.to_string(), |m| m.email.clone())
    };
    let content = html! {
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        @if let Some(error) = &error { (page::error_note(error)) }
        @if let Some(issued) = issued {
            div.banner.good role="status" {
                p { "The new key " strong { (issued.key.name) } " — copy it now, it is not shown again:" }
                input.key type="text" readonly value=(issued.secret) aria-label="The new key";
            }
        }
        h2 { "Members" }
        table {
            caption.visually-hidden { "Members" }
            thead { tr { th scope="col" { "E-mail" } th scope="col" { "Role" } th scope="col" { "Since" } @if owner { th scope="col" { span.visually-hidden { "Actions" } } } } }
            tbody {
                @for m in &members {
                    tr {
                        td { (m.email) }
                        td {
                            @if owner {
                                form.inline method="post" action="/members" {
                                    (csrf_field(signed))
                                    input type="hidden" name="member" value=(m.id);
                                    (role_select("role", &format!("role-{}", m.id), &format!("role of {}", m.email), m.role))
                                    button.small type="submit" name="do" value="role" { "Change role" span.visually-hidden { " of " (m.email) } }
                                }
                            } @else { (m.role.as_str()) }
                        }
                        td { (time(m.created_at)) }
                        @if owner {
                            td {
                                form.inline method="post" action="/members" {
                                    (csrf_field(signed))
                                    input type="hidden" name="member" value=(m.id);
                                    button.small.danger type="submit" name="do" value="remove" { "Remove" span.visually-hidden { " " (m.email) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            form.card.inline-form method="post" action="/members" {
                (csrf_field(signed))
                label for="invite-email" { "Invite" }
                input #invite-email type="email" name="email" required placeholder="name@example.com";
                (role_select("role", "invite-role", "role of the new member", Role::Viewer))
                button.primary type="submit" name="do" value="invite" { "Invite" }
            }
            h2 { "API keys" }
            table {
                caption.visually-hidden { "API keys" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Member" } th scope="col" { "Mode" } th scope="col" { "Starts with" } th scope="col" { "Created" } th scope="col" { "Revoked" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for k in &keys {
                        tr {
                            td { (k.name) } td { (email_of(&k.member_id)) } td { (k.mode.as_str()) } td { code { (k.prefix) "…" } }
                            td { (time(k.created_at)) }
                            td { @match k.revoked_at { Some(at) => (time(at)), None => "—" } }
                            td {
                                @if k.revoked_at.is_none() {
                                    form.inline method="post" action="/members" {
                                        (csrf_field(signed))
                                        input type="hidden" name="key" value=(k.id);
                                        button.small.danger type="submit" name="do" value="revoke" { "Revoke" span.visually-hidden { " " (k.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.card.inline-form method="post" action="/members" {
                (csrf_field(signed))
                label for="key-name" { "New key" }
                input #key-name type="text" name="name" required placeholder="CI pipeline";
                select name="mode" aria-label="mode of the new key" {
                    option value="live" { "live" } option value="test" { "test" }
                }
                select name="member" aria-label="member the key acts as" {
                    @for m in &members { option value=(m.id) selected[m.id == signed.who.member] { (m.email) } }
                }
                button.primary type="submit" name="do" value="key" { "Create key" }
            }
        }
    };
    Ok(layout(signed, Section::Members, "Members and keys", content))
}

pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    axum::extract::Query(query): axum::extract::Query<super::integrations::Notice>,
) -> Result<Markup> {
    let notice = query.done.is_some().then_some("Done.");
    members_page(&state, &signed, None, None, notice).await
}

/// Invite, change a role, remove; create or revoke a key.
pub async fn act(
    State(state): State<AppState>,
    signed: Signed,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response> {
    let get = |name: &str| super::form::value(&form, name).unwrap_or_default().to_string();
    let role = Role::parse(&get("role"));
    let mode = Mode::parse(&get("mode"));
    let (st, who) = (State(state.clone()), signed.who.clone());
    let result: std::result::Result<Option<NewKeyResponse>, ApiError> = match get("do").as_str() {
        // An unknown role or mode is refused, never read as the least one.
        "invite" | "role" if role.is_none() => Err(ApiError::invalid("role", "choose a role: viewer, admin or owner")),
        "key" if mode.is_none() => Err(ApiError::invalid("mode", "choose a mode: live or test")),
        "invite" => api::add_member(
            st,
            who,
            Json(NewMember {
                email: get("email").trim().to_string(),
                role: role.unwrap_or(Role::Viewer),
            }),
        )
        .await
        .map(|_| None),
        "role" => api::change_member(
            st,
            who,
            Path(get("member")),
            Json(MemberChange {
                role: role.unwrap_or(Role::Viewer),
            }),
        )
        .await
        .map(|_| None),
        "remove" => api::remove_member(st, who, Path(get("member"))).await.map(|_| None),
        "revoke" => api::revoke_key(st, who, Path(get("key"))).await.map(|_| None),
        "key" => {
            let new = NewKey {
                name: get("name").trim().to_string(),
                mode: mode.unwrap_or(Mode::Test),
                member_id: Some(get("member")).filter(|m| !m.is_empty()),
            };
            api::create_key(st, who, Json(new))
                .await
                .map(|(_, Json(issued))| Some(issued))
        }
        _ => return Ok(see_other("/members")),
    };
    match result {
        // The new key is shown in this answer only, never in a URL.
        Ok(Some(issued)) => Ok(members_page(&state, &signed, Some(&issued), None, None)
            .await?
            .into_response()),
        Ok(None) => Ok(see_other("/members?done=saved")),
        Err(error) => {
            let status = error.status();
            let message = page::explain(error).1;
            Ok((status, members_page(&state, &signed, None, Some(message), None).await?).into_response())
        }
    }
}
