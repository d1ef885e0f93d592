//! HR webhooks: `POST /hooks/{integration}`. No API key: the source plugin
//! checks the HR system's signature with the key of its installation
//! (e.g. BambooHR's webhook private key) and turns the request into
//! events; any event starts an incremental run — at once, or as soon as
//! the run going on ends.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::{AppState, Json, Path};
use hrsync_engine::job::RunRequest;
use hrsync_engine::trigger::Trigger;
use hrsync_model::{PluginError, WebhookRequest};
use hrsync_store::integrations::State as RunState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HookAccepted {
    /// Employees the HR system reported.
    pub events: usize,
    /// The run that started; `null` when none was needed or one is waiting
    /// for the run going on.
    pub run_id: Option<String>,
}

/// Largest webhook body read.
const MAX_BODY: usize = 256 << 10;

/// How long a webhook is remembered against replays: longer than the
/// timestamp window of any source (BambooHR's plugin allows 5 minutes each
/// way).
const RECEIPT_TTL_MS: i64 = 15 * 60 * 1000;

/// What identifies one signed request: its body and the headers that carry
/// a signature or a timestamp (what the HR system signs). The same request
/// sent again has the same digest; changing any of it breaks the signature.
fn receipt_digest(headers: &HeaderMap, body: &[u8]) -> String {
    let mut signed: Vec<(String, &[u8])> = headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name.contains("signature") || name.contains("timestamp")
        })
        .map(|(name, value)| (name.as_str().to_string(), value.as_bytes()))
        .collect();
    signed.sort();
    let mut hasher = blake3::Hasher::new();
    for (name, value) in signed {
        hasher.update(name.as_bytes()).update(b":").update(value).update(b"\n");
    }
    hasher.update(body);
    hasher.finalize().to_hex().to_string()
}

/// Takes a webhook of the integration's HR system.
#[utoipa::path(post, path = "/hooks/{integration}", tag = "hooks", params(("integration" = String, Path)),
    request_body(content = Object, content_type = "application/json", description = "As the HR system sends it"),
    responses((status = 202, body = HookAccepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<HookAccepted>), ApiError> {
    let (parts, body) = request.into_parts();
    let bucket = super::auth::bucket(&parts, &state);
    if let Some(seconds) = state.guard.locked_out(&bucket) {
        return Err(ApiError::TooManyFailures(seconds));
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::TooLarge { limit: MAX_BODY })?;
    let headers: HeaderMap = parts.headers;
    let Some((tenant, integration)) = state.control.store.integration_anywhere(&id).await? else {
        return Err(ApiError::not_found("integration", &id));
    };
    let Some(source) = state.control.source_plugin(&tenant, &integration).await? else {
        return Err(ApiError::invalid(
            "source",
            "this integration's source is its inbound SCIM endpoint (/scim/v2/{integration}); it takes no webhooks",
        ));
    };
    let digest = receipt_digest(&headers, &body);
    let request = WebhookRequest {
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect(),
        body: body.to_vec(),
    };
    let parsed = tokio::task::spawn_blocking(move || {
        let mut session = source.plugin.source(&source.sandbox)?;
        session.parse_webhook(request)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let events = match parsed {
        Ok(events) => events,
        Err(error) => {
            return Err(match error.plugin_error() {
                Some(PluginError::Unauthorized(message)) => {
                    state.guard.failed(bucket);
                    ApiError::BadSignature(message.clone())
                }
                Some(PluginError::Unsupported(_)) => {
                    ApiError::invalid("source", "the source plugin does not take webhooks")
                }
                _ => ApiError::invalid("body", error.to_string()),
            })
        }
    };
    // Only a request whose signature holds gets this far: what follows
    // tells something of the integration.
    if !state.control.store.first_receipt(&id, &digest, RECEIPT_TTL_MS).await? {
        return Err(ApiError::Conflict {
            field: None,
            message: "this webhook was received before (a replay); it is not taken again".into(),
        });
    }
    if integration.state != RunState::Active {
        return Err(ApiError::Conflict {
            field: Some("state".into()),
            message: format!(
                "the integration is {}; webhooks run active integrations only",
                integration.state.as_str()
            ),
        });
    }
    let run_id = if events.is_empty() {
        None
    } else {
        super::quota::run(&state, &tenant).await?;
        let order = RunRequest {
            trigger: Trigger::Webhook,
            by: None,
            ..RunRequest::scheduled()
        };
        state.control.start_soon(&tenant, &integration, order).await?
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(HookAccepted {
            events: events.len(),
            run_id,
        }),
    ))
}
