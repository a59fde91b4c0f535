//! Actions (`renkei_engine::actions`): create or find something in the tenant's CRM and get
//! a typed outcome back at once. Every outcome is a 200; only a request renkei cannot read is
//! a 4xx.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_engine::actions::{self, ActionError, ActionRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PathParams};
use crate::routes::connections::existing_tenant;

/// The body of an action request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// `salesforce`, `hubspot` or `zoho_crm`; the tenant's connected CRM when absent (a 400
    /// names the choices when several are connected).
    pub provider: Option<String>,
    /// The action's inputs; any text may be a template over `context`
    /// (`"{{ issue.request }}"`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// The variables templates may use.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The same key within 24 hours returns the first answer and writes nothing again.
    pub idempotency_key: Option<String>,
}

/// The answer: an outcome to branch on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionAnswer {
    /// `success`, `duplicate`, `invalid_input`, `invalid_assignee`, `integration_disabled` or
    /// `failure`.
    pub outcome: String,
    /// The action's outputs: `id` and `object` of a created record, the existing `id` of a
    /// duplicate, `found` and the person for `find_person`.
    #[schema(value_type = Object)]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    pub message: String,
    /// `field` for `invalid_input`, `code` and `provider` for failures,
    /// `retry_after_seconds` when the CRM asked to wait.
    #[schema(value_type = Object)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

fn action_error(e: ActionError) -> ApiError {
    let code = e.code();
    match e {
        ActionError::UnknownAction(_) => ApiError::not_found(code, e.to_string()),
        ActionError::BadRequest { field, message, .. } => {
            ApiError::bad_request(code, message).with_details(serde_json::json!({ "field": field }))
        }
        ActionError::KeyReused(_) => ApiError::unprocessable(code, e.to_string()),
        ActionError::Store(s) => s.into(),
    }
}

/// Runs an action in the tenant's CRM: `add_lead`, `add_contact`, `add_company`, `add_deal`,
/// `add_record`, `find_person`, `upsert_person` or `add_note`. The answer is always 200 with
/// an outcome; a replayed answer (same `idempotency_key`) carries `Idempotent-Replayed: true`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/actions/{action}", tag = "actions",
    params(("tenant" = String, Path), ("action" = String, Path)),
    request_body = ActionBody,
    responses((status = 200, body = ActionAnswer), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn run_action(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((tenant, action)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Response, ApiError> {
    let t = existing_tenant(&state, &caller, &tenant).await?;
    let req = ActionRequest {
        provider: body.provider,
        inputs: body.inputs,
        context: body.context,
        idempotency_key: body.idempotency_key,
    };
    let done = actions::run(&state.vault, &t, &action, req, state.action_deadline)
        .await
        .map_err(action_error)?;
    let a = done.answer;
    let outcome = serde_json::to_value(a.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut resp = (
        StatusCode::OK,
        axum::Json(ActionAnswer {
            outcome,
            outputs: a.outputs,
            message: a.message,
            details: a.details,
        }),
    )
        .into_response();
    if done.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}
