//! Actions (PRODUCT.md 4.2, issue 7): a chatbot flow, a form or a button asks renkei to create
//! or find something in the tenant's CRM and branches on a typed answer.
//!
//! One request is one action: `add_lead`, `add_contact`, `add_company`, `add_deal`,
//! `add_record`, `find_person`, `upsert_person` or `add_note`. Its inputs may be templates over
//! the caller's `context` (the recipes' template language, [`renkei_core::template`]). The
//! answer is always an [`Answer`] with an [`Outcome`]: the CRM's refusals are outcomes, not
//! errors, and are read from each provider's real error bodies by the connectors
//! ([`ConnectorError::Duplicate`], [`ConnectorError::Invalid`] naming the field). Only a
//! request renkei itself cannot read is an [`ActionError`].
//!
//! **Field values** written to a record by name (`add_record`, the `fields` input of the other
//! actions, a deal's stage and date) are checked against the object's cached field metadata
//! ([`crate::schema`]) before anything is sent: an unknown or read-only field, a number that is
//! not one, a picklist value that is not an option (matched by value or label) and a date in no
//! known form are `invalid_input` naming the field; dates and times are written in ISO 8601,
//! lookups in the shape the CRM takes (Zoho `{"id": …}`).
//!
//! **Idempotency.** With an `idempotency_key`, the first request claims the key in the store
//! (race-safe, [`Store::claim_action`]) and records its answer; a second request with the key
//! within [`IDEMPOTENCY_WINDOW`] gets that answer without writing, and one that arrives while
//! the first is still running waits for it. A key reused for a different request is refused.
//! An answer that certainly wrote nothing (the CRM unreachable before sending, a rate limit)
//! releases the key, so the same request can be sent again.
//!
//! **Deadline.** An action answers within its deadline ([`DEFAULT_DEADLINE`] unless the
//! deployment says otherwise): the HTTP client waits for no rate window or `Retry-After` that
//! would end after it and the CRM's answer is returned at once (`failure` with `retry_after`),
//! and an action still running at the deadline answers `failure`, saying that the write may
//! have happened.

use std::time::{Duration, Instant};

use renkei_connectors::people::{PersonObject, PersonUpdate, RemotePerson};
use renkei_connectors::records::{
    ActivityKind, FieldKind, FieldMeta, NewActivity, NewCompany, NewPerson, PersonLookup, RecordRef,
};
use renkei_connectors::{ConnectorError, Provider, Session};
use renkei_core::matching::phone::{Region, normalize_phone};
use renkei_core::template::Template;
use renkei_core::{EmailAddress, Millis, TenantId};
use renkei_store::action_requests::ActionClaim;
use renkei_store::tenants::Tenant;
use renkei_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::vault::{Access, Target, Vault, VaultError};

/// How long an action may take unless the deployment says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);
/// How long an idempotency key counts.
pub const IDEMPOTENCY_WINDOW: Millis = Millis(24 * 3_600_000);
/// An unanswered claim older than this belongs to a request whose process died.
const ABANDONED_AFTER: Millis = Millis(120_000);
/// The longest idempotency key.
const MAX_KEY_CHARS: usize = 255;

/// The actions there are, by their API names.
pub const ACTIONS: [&str; 8] = [
    "add_lead",
    "add_contact",
    "add_company",
    "add_deal",
    "add_record",
    "find_person",
    "upsert_person",
    "add_note",
];

/// What became of an action (PRODUCT.md 4.2). The HTTP status is 200 for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// The CRM has the record already: `outputs.id` is the existing one.
    Duplicate,
    /// An input was refused: `details.field` names it.
    InvalidInput,
    /// The owner does not exist or cannot own records.
    InvalidAssignee,
    /// The tenant has no usable connection: missing, disconnected, disabled or needing
    /// re-authorisation.
    IntegrationDisabled,
    /// Technical: the CRM failed, was unreachable, rate-limited past the deadline, or too
    /// slow. `details.code` says which.
    Failure,
}

/// The answer to an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub outcome: Outcome,
    pub outputs: Map<String, Value>,
    pub message: String,
    pub details: Map<String, Value>,
}

impl Answer {
    fn success(outputs: Map<String, Value>, message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Success,
            outputs,
            message: message.into(),
            details: Map::new(),
        }
    }

    fn new(outcome: Outcome, message: impl Into<String>, details: Value) -> Self {
        Self {
            outcome,
            outputs: Map::new(),
            message: message.into(),
            details: match details {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(Outcome::InvalidInput, message, json!({ "field": field }))
    }
}

/// A request to run an action.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `salesforce`, `hubspot` or `zoho_crm`; the tenant's connected CRM when absent.
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// The variables the inputs' templates may use.
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A request renkei cannot run: a 4xx, never an outcome.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("there is no action {0:?}; the actions are {list}", list = ACTIONS.join(", "))]
    UnknownAction(String),
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        field: Option<String>,
        message: String,
    },
    #[error("the idempotency key {0:?} was used within the last 24 hours for a different request")]
    KeyReused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownAction(_) => "unknown_action",
            Self::BadRequest { code, .. } => code,
            Self::KeyReused(_) => "idempotency_key_reused",
            Self::Store(_) => "unavailable",
        }
    }

    fn bad(code: &'static str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// An answer, and whether it is the stored answer of an earlier request with the same key.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub answer: Answer,
    pub replayed: bool,
}

/// Runs `action` for `tenant`.
pub async fn run(
    vault: &Vault,
    tenant: &Tenant,
    action: &str,
    req: ActionRequest,
    deadline: Duration,
) -> Result<Answered, ActionError> {
    if !ACTIONS.contains(&action) {
        return Err(ActionError::UnknownAction(action.to_owned()));
    }
    let store = vault.store();
    let key = match req.idempotency_key.as_deref() {
        None => None,
        Some(k) if !k.is_empty() && k.chars().count() <= MAX_KEY_CHARS => Some(k),
        Some(_) => {
            return Err(ActionError::bad(
                "invalid_idempotency_key",
                Some("idempotency_key"),
                format!("an idempotency key has 1 to {MAX_KEY_CHARS} characters"),
            ));
        }
    };
    let provider = match choose_provider(store, &tenant.id, req.provider.as_deref()).await? {
        Ok(p) => p,
        Err(answer) => {
            return Ok(Answered {
                answer,
                replayed: false,
            });
        }
    };
    let inputs = render_inputs(&req.inputs, &req.context, &tenant.default_region)?;
    let fingerprint = fingerprint(action, provider, &req);

    let started = Instant::now();
    let until = started + deadline;
    let mut claim = None;
    if let Some(key) = key {
        let now = vault.now();
        match store
            .claim_action(
                &tenant.id,
                key,
                action,
                &fingerprint,
                now,
                Millis(now.0 - IDEMPOTENCY_WINDOW.0),
                Millis(now.0 - ABANDONED_AFTER.0),
            )
            .await?
        {
            ActionClaim::Claimed { started_at } => claim = Some((key, started_at)),
            ActionClaim::Held {
                fingerprint: held, ..
            } if held != fingerprint => return Err(ActionError::KeyReused(key.to_owned())),
            ActionClaim::Held { answer, .. } => {
                return wait_for_answer(store, &tenant.id, key, answer, until).await;
            }
        }
    }

    let ctx = Ctx {
        vault,
        tenant,
        provider,
        until,
    };
    let (answer, wrote) = match tokio::time::timeout(deadline, execute(&ctx, action, &inputs)).await
    {
        Ok(done) => done,
        Err(_) => (
            Answer::new(
                Outcome::Failure,
                format!(
                    "{} did not finish within the action's deadline of {} s; the record may \
                     have been written",
                    provider.as_str(),
                    deadline.as_secs_f64()
                ),
                json!({"code": "deadline_exceeded", "provider": provider.as_str()}),
            ),
            Wrote::Maybe,
        ),
    };
    metrics::counter!("renkei_actions_total", "action" => action.to_owned(),
        "provider" => provider.as_str(), "outcome" => outcome_str(answer.outcome))
    .increment(1);
    if let Some((key, started_at)) = claim {
        if wrote == Wrote::No
            && matches!(
                answer.outcome,
                Outcome::Failure | Outcome::IntegrationDisabled
            )
        {
            store.release_action(&tenant.id, key, started_at).await?;
        } else {
            let body = serde_json::to_string(&answer).unwrap_or_default();
            store
                .finish_action(&tenant.id, key, started_at, &body, vault.now())
                .await?;
        }
    }
    Ok(Answered {
        answer,
        replayed: false,
    })
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Duplicate => "duplicate",
        Outcome::InvalidInput => "invalid_input",
        Outcome::InvalidAssignee => "invalid_assignee",
        Outcome::IntegrationDisabled => "integration_disabled",
        Outcome::Failure => "failure",
    }
}

/// The stored answer of the request holding `key`, waiting for it until `until` when that
/// request is still running.
async fn wait_for_answer(
    store: &Store,
    tenant: &TenantId,
    key: &str,
    mut answer: Option<String>,
    until: Instant,
) -> Result<Answered, ActionError> {
    loop {
        if let Some(body) = answer {
            let answer = serde_json::from_str(&body)
                .map_err(|e| StoreError::Decode(format!("an action's stored answer: {e}")))?;
            return Ok(Answered {
                answer,
                replayed: true,
            });
        }
        if Instant::now() >= until {
            return Ok(Answered {
                answer: Answer::new(
                    Outcome::Failure,
                    "a request with this idempotency key is still running; ask again shortly \
                     for its answer",
                    json!({"code": "in_progress", "retry_after_seconds": 1}),
                ),
                replayed: false,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = match store.action_answer(tenant, key).await? {
            Some(answer) => answer,
            // Released by the first request: it wrote nothing, so this one may be sent again.
            None => {
                return Ok(Answered {
                    answer: Answer::new(
                        Outcome::Failure,
                        "the first request with this idempotency key wrote nothing and gave \
                         the key up; send the request again",
                        json!({"code": "in_progress", "retry_after_seconds": 0}),
                    ),
                    replayed: false,
                });
            }
        };
    }
}

/// The CRM an action goes to: the one named, else the tenant's only connected CRM. No
/// connection is an answer (`integration_disabled`), several without a choice a bad request.
async fn choose_provider(
    store: &Store,
    tenant: &TenantId,
    named: Option<&str>,
) -> Result<Result<Provider, Answer>, ActionError> {
    let connected: Vec<Provider> = store
        .list_connections(tenant)
        .await?
        .iter()
        .filter(|c| c.member_id.is_none())
        .filter_map(|c| Provider::parse(&c.provider))
        .collect();
    let disabled = |p: &str| {
        Answer::new(
            Outcome::IntegrationDisabled,
            format!("{p} is not connected for this tenant"),
            json!({"code": "not_connected", "provider": p}),
        )
    };
    match named {
        Some(name) => {
            let Some(p) = Provider::parse(name) else {
                return Err(ActionError::bad(
                    "unknown_provider",
                    Some("provider"),
                    format!(
                        "there is no CRM {name:?}; the CRMs are {}",
                        Provider::ALL.map(|p| p.as_str()).join(", ")
                    ),
                ));
            };
            Ok(if connected.contains(&p) {
                Ok(p)
            } else {
                Err(disabled(p.as_str()))
            })
        }
        None => match connected.as_slice() {
            [] => Ok(Err(Answer::new(
                Outcome::IntegrationDisabled,
                "the tenant has no CRM connected",
                json!({"code": "not_connected"}),
            ))),
            [one] => Ok(Ok(*one)),
            several => Err(ActionError::bad(
                "provider_required",
                Some("provider"),
                format!(
                    "the tenant has several CRMs connected ({}); name one in \"provider\"",
                    several
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        },
    }
}

/// Every string among the inputs rendered as a template over the context.
fn render_inputs(
    inputs: &Map<String, Value>,
    context: &Map<String, Value>,
    region: &str,
) -> Result<Map<String, Value>, ActionError> {
    let ctx = Value::Object(context.clone());
    let mut out = Map::new();
    for (k, v) in inputs {
        out.insert(k.clone(), render_value(v, &ctx, region, k)?);
    }
    Ok(out)
}

fn render_value(v: &Value, ctx: &Value, region: &str, path: &str) -> Result<Value, ActionError> {
    Ok(match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let bad = |e: renkei_core::template::TemplateError| {
                ActionError::bad(
                    "invalid_template",
                    Some(path),
                    format!("inputs.{path}: {}", e.message),
                )
            };
            let t = Template::parse(s).map_err(bad)?;
            Value::String(t.render(ctx, region).map_err(bad)?)
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(
                    k.clone(),
                    render_value(v, ctx, region, &format!("{path}.{k}"))?,
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| render_value(v, ctx, region, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// A request's identity for its idempotency key: the action, the CRM and the request's inputs
/// and context with object keys in order.
fn fingerprint(action: &str, provider: Provider, req: &ActionRequest) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Array(
                    keys.into_iter()
                        .map(|k| json!([k, canonical(&m[k])]))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let doc = json!([
        action,
        provider.as_str(),
        canonical(&Value::Object(req.inputs.clone())),
        canonical(&Value::Object(req.context.clone())),
    ]);
    let digest = Sha256::digest(doc.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an action's answer leaves the CRM certainly unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrote {
    No,
    Maybe,
}

struct Ctx<'a> {
    vault: &'a Vault,
    tenant: &'a Tenant,
    provider: Provider,
    until: Instant,
}

impl Ctx<'_> {
    fn p(&self) -> &'static str {
        self.provider.as_str()
    }

    /// Calls the connector with the tenant's connection. The closure gives its calls the
    /// action's deadline with [`Ctx::session`].
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, VaultError>
    where
        F: Fn(Access) -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        self.vault
            .call(&Target::tenant(&self.tenant.id, self.provider), f)
            .await
    }

    /// `a`'s session under the action's deadline.
    fn session<'s>(&self, a: &'s Access) -> Session<'s> {
        a.session().until(self.until)
    }

    async fn fields(&self, object: &str) -> Result<Vec<FieldMeta>, VaultError> {
        Ok(
            crate::schema::fields(self.vault, &self.tenant.id, self.provider, object, false)
                .await?
                .items,
        )
    }
}

/// Runs one action; returns its answer and whether the CRM may have changed.
async fn execute(ctx: &Ctx<'_>, action: &str, inputs: &Map<String, Value>) -> (Answer, Wrote) {
    let result = match action {
        "add_lead" => add_person(ctx, inputs, PersonObject::Lead).await,
        "add_contact" => add_person(ctx, inputs, PersonObject::Contact).await,
        "add_company" => add_company(ctx, inputs).await,
        "add_deal" => add_deal(ctx, inputs).await,
        "add_record" => add_record(ctx, inputs).await,
        "find_person" => find_person(ctx, inputs).await.map(|a| (a, Wrote::No)),
        "upsert_person" => upsert_person(ctx, inputs).await,
        "add_note" => add_note(ctx, inputs).await,
        _ => Ok((
            Answer::new(Outcome::Failure, "unknown action", json!({})),
            Wrote::No,
        )),
    };
    match result {
        Ok(done) => done,
        Err(Stop::Answer(a)) => (a, Wrote::No),
        Err(Stop::Vault(e, field)) => from_error(ctx.p(), e, field.as_deref()),
    }
}

/// Why an action stopped before its answer: an answer of its own (an input renkei refused
/// before asking the CRM), or the CRM's error with the input it concerns.
enum Stop {
    Answer(Answer),
    Vault(VaultError, Option<String>),
}

impl From<VaultError> for Stop {
    fn from(e: VaultError) -> Self {
        Stop::Vault(e, None)
    }
}

type Step<T> = Result<T, Stop>;

/// The CRM's error as an answer. `about` is the input the failed call wrote (an owner, a
/// contact id), for messages that name no field.
fn from_error(provider: &str, e: VaultError, about: Option<&str>) -> (Answer, Wrote) {
    let e = match e {
        VaultError::Connector(c) => c,
        VaultError::Store(s) => {
            return (
                Answer::new(
                    Outcome::Failure,
                    format!("renkei's database failed: {s}"),
                    json!({"code": "unavailable"}),
                ),
                Wrote::No,
            );
        }
        other => {
            return (
                Answer::new(
                    Outcome::IntegrationDisabled,
                    other.to_string(),
                    json!({"code": other.code(), "provider": provider}),
                ),
                Wrote::No,
            );
        }
    };
    let wrote = if e.may_have_been_sent() {
        Wrote::Maybe
    } else {
        Wrote::No
    };
    let answer = match &e {
        ConnectorError::Duplicate { existing_id, .. } => {
            let mut a = Answer::new(
                Outcome::Duplicate,
                e.to_string(),
                json!({"existing_id": existing_id, "provider": provider}),
            );
            a.outputs.insert("id".into(), json!(existing_id));
            return (a, Wrote::No);
        }
        ConnectorError::Invalid {
            code,
            field,
            message,
            ..
        } => {
            let field = field.clone().or_else(|| about.map(str::to_owned));
            let outcome = if is_owner_error(code, field.as_deref()) {
                Outcome::InvalidAssignee
            } else {
                Outcome::InvalidInput
            };
            return (
                Answer::new(
                    outcome,
                    message.clone(),
                    json!({"field": field, "code": code, "provider": provider}),
                ),
                Wrote::No,
            );
        }
        ConnectorError::NotFound { what, .. } => {
            return (
                Answer::new(
                    Outcome::InvalidInput,
                    e.to_string(),
                    json!({"field": about, "code": "not_found", "what": what,
                           "provider": provider}),
                ),
                Wrote::No,
            );
        }
        ConnectorError::Reauth { .. } | ConnectorError::Unauthorized { .. } => Answer::new(
            Outcome::IntegrationDisabled,
            e.to_string(),
            json!({"code": "needs_reauth", "provider": provider}),
        ),
        ConnectorError::RateLimited { retry_after, .. } => Answer::new(
            Outcome::Failure,
            e.to_string(),
            json!({"code": e.code(), "provider": provider,
                   "retry_after_seconds": retry_after.map(|d| d.as_secs().max(1))}),
        ),
        other => Answer::new(
            Outcome::Failure,
            other.to_string(),
            json!({"code": other.code(), "provider": provider,
                   "provider_status": other.http_status()}),
        ),
    };
    (answer, wrote)
}

/// Whether a refused write was refused for its owner: Salesforce names `OwnerId` (or answers
/// `INACTIVE_OWNER_OR_USER`), HubSpot `hubspot_owner_id`, Zoho `Owner`.
fn is_owner_error(code: &str, field: Option<&str>) -> bool {
    matches!(
        code,
        "INACTIVE_OWNER_OR_USER" | "INVALID_OWNER" | "INACTIVE_USER"
    ) || field.is_some_and(|f| {
        matches!(
            f,
            "OwnerId" | "hubspot_owner_id" | "Owner" | "owner_id" | "owner"
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// A text input, trimmed; `None` when absent or empty.
fn text(inputs: &Map<String, Value>, name: &str) -> Step<Option<String>> {
    match inputs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Stop::Answer(Answer::invalid(
            name,
            format!("inputs.{name} must be text"),
        ))),
    }
}

fn required(inputs: &Map<String, Value>, name: &str) -> Step<String> {
    text(inputs, name)?
        .ok_or_else(|| Stop::Answer(Answer::invalid(name, format!("inputs.{name} is required"))))
}

/// The `fields` input: further fields by their API names.
fn extra_fields(inputs: &Map<String, Value>) -> Step<Map<String, Value>> {
    match inputs.get("fields") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Stop::Answer(Answer::invalid(
            "fields",
            "inputs.fields must be an object of field API names to values",
        ))),
    }
}

/// Refuses inputs the action does not take, naming them: a misspelt input would otherwise be
/// silently dropped.
fn known_inputs(inputs: &Map<String, Value>, known: &[&str]) -> Step<()> {
    match inputs.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(Stop::Answer(Answer::invalid(
            k,
            format!(
                "inputs.{k} is not an input of this action; it takes {}",
                known.join(", ")
            ),
        ))),
    }
}

/// The email input, normalised; an address that is not one is `invalid_input`.
fn email(inputs: &Map<String, Value>) -> Step<Option<String>> {
    let Some(raw) = text(inputs, "email")? else {
        return Ok(None);
    };
    EmailAddress::parse(&raw)
        .map(|e| Some(e.as_str().to_owned()))
        .map_err(|e| Stop::Answer(Answer::invalid("email", format!("inputs.email: {e}"))))
}

/// The name inputs: `last_name` and `first_name`, or `name` split the way renkei reads a
/// display name ("山田 太郎" → 山田, 太郎; "Taro Yamada" → Yamada, Taro).
fn name_parts(inputs: &Map<String, Value>) -> Step<(String, Option<String>)> {
    if let Some(last) = text(inputs, "last_name")? {
        return Ok((last, text(inputs, "first_name")?));
    }
    if let Some(name) = text(inputs, "name")? {
        let (family, given) = renkei_core::matching::name::split_name(&name);
        if let Some(family) = family {
            return Ok((family, given));
        }
    }
    Err(Stop::Answer(Answer::invalid(
        "last_name",
        "a person needs inputs.last_name (or inputs.name)",
    )))
}

// ---------------------------------------------------------------------------------------------
// Field values checked against metadata.

/// `values` (field API name → value) checked and converted against `object`'s fields: the
/// value each CRM takes for the field's type, or `invalid_input` naming the field.
async fn coerce(
    ctx: &Ctx<'_>,
    object: &str,
    values: Map<String, Value>,
) -> Step<Map<String, Value>> {
    if values.is_empty() {
        return Ok(values);
    }
    let fields = ctx
        .fields(object)
        .await
        .map_err(|e| Stop::Vault(e, Some("object".into())))?;
    coerce_with(ctx.provider, &ctx.tenant.time_zone, &fields, values).map_err(Stop::Answer)
}

/// [`coerce`] over known `fields`.
pub fn coerce_with(
    provider: Provider,
    time_zone: &str,
    fields: &[FieldMeta],
    values: Map<String, Value>,
) -> Result<Map<String, Value>, Answer> {
    let mut out = Map::new();
    for (name, value) in values {
        let Some(f) = fields.iter().find(|f| f.name == name) else {
            return Err(Answer::invalid(
                &name,
                format!("the object has no field {name:?} (see its fields in the schema API)"),
            ));
        };
        if !f.writable {
            return Err(Answer::invalid(&name, format!("{name} is read-only")));
        }
        let v = coerce_value(provider, time_zone, f, value)
            .map_err(|m| Answer::invalid(&name, format!("{name}: {m}")))?;
        out.insert(name, v);
    }
    Ok(out)
}

fn coerce_value(
    provider: Provider,
    time_zone: &str,
    f: &FieldMeta,
    v: Value,
) -> Result<Value, String> {
    if v.is_null() {
        return Ok(v);
    }
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match f.kind {
        FieldKind::Number => match &v {
            Value::Number(_) => Ok(v),
            Value::String(s) => {
                let cleaned: String = s.trim().chars().filter(|c| *c != ',').collect();
                // Whole numbers stay whole: Zoho refuses `8.0` for an integer field.
                if let Ok(i) = cleaned.parse::<i64>() {
                    return Ok(json!(i));
                }
                let n: f64 = cleaned
                    .parse()
                    .map_err(|_| format!("{s:?} is not a number"))?;
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| format!("{s:?} is not a finite number"))
            }
            _ => Err("expected a number".into()),
        },
        FieldKind::Bool => match &v {
            Value::Bool(_) => Ok(v),
            Value::String(s) => match s.trim().to_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("{s:?} is not true or false")),
            },
            _ => Err("expected true or false".into()),
        },
        FieldKind::Date => {
            let s = as_text(&v).ok_or("expected a date")?;
            parse_date(&s, time_zone)
                .map(|d| Value::String(d.to_string()))
                .ok_or_else(|| format!("{s:?} is not a date (2026-12-31)"))
        }
        FieldKind::DateTime => {
            let s = as_text(&v).ok_or("expected a date and time")?;
            parse_datetime(&s, time_zone)
                .map(|t| Value::String(t.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()))
                .ok_or_else(|| format!("{s:?} is not a date and time (2026-12-31T10:00:00+09:00)"))
        }
        FieldKind::Picklist => {
            let pick = |s: &str| -> Result<String, String> {
                if f.options.is_empty() {
                    return Ok(s.to_owned());
                }
                f.options
                    .iter()
                    .find(|(value, _)| value == s)
                    .or_else(|| {
                        f.options.iter().find(|(value, label)| {
                            value.eq_ignore_ascii_case(s) || label.eq_ignore_ascii_case(s)
                        })
                    })
                    .map(|(value, _)| value.clone())
                    .ok_or_else(|| {
                        format!(
                            "{s:?} is not one of its options ({})",
                            f.options
                                .iter()
                                .map(|(value, _)| value.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
            };
            match &v {
                Value::Array(items) => {
                    let picked = items
                        .iter()
                        .map(|i| as_text(i).ok_or("expected text options".to_owned()))
                        .map(|s| s.and_then(|s| pick(&s)))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(match provider {
                        // Salesforce writes a multi-select picklist as one `;`-separated
                        // string, HubSpot too; Zoho takes a JSON array.
                        Provider::ZohoCrm => json!(picked),
                        _ => Value::String(picked.join(";")),
                    })
                }
                other => {
                    let s = as_text(other).ok_or("expected one of its options")?;
                    Ok(Value::String(pick(&s)?))
                }
            }
        }
        FieldKind::Reference => match (provider, &v) {
            // Zoho writes a lookup as `{"id": …}` ("Insert Records": lookup fields).
            (Provider::ZohoCrm, Value::Object(_)) => Ok(v),
            (Provider::ZohoCrm, other) => {
                let id = as_text(other).ok_or("expected a record id")?;
                Ok(json!({ "id": id }))
            }
            (_, other) => as_text(other)
                .map(Value::String)
                .ok_or_else(|| "expected a record id".into()),
        },
        _ => match &v {
            Value::String(_) => Ok(v),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(as_text(&v).unwrap_or_default())),
            _ => Err("expected text".into()),
        },
    }
}

fn tz(time_zone: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// A date in ISO form (`2026-12-31`), with slashes (`2026/12/31`), or the tenant's local date
/// of a timestamp.
pub fn parse_date(s: &str, time_zone: &str) -> Option<jiff::civil::Date> {
    let s = s.trim();
    if let Ok(d) = s.replace('/', "-").parse::<jiff::civil::Date>() {
        return Some(d);
    }
    parse_datetime(s, time_zone).map(|z| z.date())
}

/// A timestamp with an offset (`2026-12-31T10:00:00+09:00`, `…Z`), or a local date and time
/// in the tenant's time zone (`2026-12-31 10:00`, `2026/12/31 10:00`).
pub fn parse_datetime(s: &str, time_zone: &str) -> Option<jiff::Zoned> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.to_zoned(tz(time_zone)));
    }
    let local = s.replace('/', "-").replacen(' ', "T", 1);
    local
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(tz(time_zone)).ok())
}

// ---------------------------------------------------------------------------------------------
// The actions.

fn created(r: &RecordRef) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("object".into(), json!(r.object));
    m
}

/// HubSpot has no leads among its people (connectors: `PersonObject::Lead` is unsupported): a
/// HubSpot lead is a contact whose lifecycle stage is `lead`, which is how HubSpot itself
/// marks one ("Lifecycle stage" in HubSpot's knowledge base).
fn person_object(provider: Provider, object: PersonObject) -> (PersonObject, Map<String, Value>) {
    let mut extra = Map::new();
    if provider == Provider::Hubspot && object == PersonObject::Lead {
        extra.insert("lifecyclestage".into(), json!("lead"));
        return (PersonObject::Contact, extra);
    }
    (object, extra)
}

/// The object name of a person object at `provider`; a HubSpot lead is a contact
/// ([`person_object`]).
fn person_object_name(provider: Provider, object: PersonObject) -> &'static str {
    object
        .remote_name(provider)
        .or_else(|| PersonObject::Contact.remote_name(provider))
        .unwrap_or("contacts")
}

fn account_object(provider: Provider) -> &'static str {
    match provider {
        Provider::Salesforce => "Account",
        Provider::Hubspot => "companies",
        Provider::ZohoCrm => "Accounts",
    }
}

const PERSON_INPUTS: &[&str] = &[
    "name",
    "last_name",
    "first_name",
    "company",
    "account_id",
    "email",
    "phone",
    "description",
    "owner_id",
    "fields",
];

async fn new_person(
    ctx: &Ctx<'_>,
    inputs: &Map<String, Value>,
    object: PersonObject,
) -> Step<NewPerson> {
    let (last_name, first_name) = name_parts(inputs)?;
    let (object, mut extra) = person_object(ctx.provider, object);
    let given = coerce(
        ctx,
        person_object_name(ctx.provider, object),
        extra_fields(inputs)?,
    )
    .await?;
    extra.extend(given);
    let account =
        text(inputs, "account_id")?.map(|id| RecordRef::new(account_object(ctx.provider), id));
    Ok(NewPerson {
        object,
        last_name,
        first_name,
        company: text(inputs, "company")?,
        account,
        email: email(inputs)?,
        phone: text(inputs, "phone")?,
        description: text(inputs, "description")?,
        owner_id: text(inputs, "owner_id")?,
        extra,
    })
}

/// `add_lead`, `add_contact`: a new lead or contact. A contact given a `company` but no
/// `account_id` is attached to the company's account (Salesforce, Zoho CRM), found by name or
/// created.
async fn add_person(
    ctx: &Ctx<'_>,
    inputs: &Map<String, Value>,
    object: PersonObject,
) -> Step<(Answer, Wrote)> {
    known_inputs(inputs, PERSON_INPUTS)?;
    let mut person = new_person(ctx, inputs, object).await?;
    let p = ctx.provider;
    let mut wrote = Wrote::No;
    if person.object == PersonObject::Contact
        && p != Provider::Hubspot
        && person.account.is_none()
        && let Some(company) = person.company.clone()
    {
        let company = &company;
        let found = ctx
            .call(|a| async move {
                ctx.vault
                    .connectors()
                    .find_company(p, ctx.session(&a), Some(company), None)
                    .await
            })
            .await?;
        let account = match found {
            Some(a) => a,
            None => {
                let c = NewCompany {
                    name: company.to_owned(),
                    ..NewCompany::default()
                };
                wrote = Wrote::Maybe;
                let c = &c;
                ctx.call(|a| async move {
                    ctx.vault
                        .connectors()
                        .create_company(p, ctx.session(&a), c)
                        .await
                })
                .await
                .map_err(|e| Stop::Vault(e, Some("company".into())))?
            }
        };
        person.account = Some(account);
    }
    let person = &person;
    match ctx
        .call(|a| async move {
            ctx.vault
                .connectors()
                .create_person(p, ctx.session(&a), person)
                .await
        })
        .await
    {
        Ok(r) => {
            let mut outputs = created(&r);
            if let Some(a) = &person.account {
                outputs.insert("account_id".into(), json!(a.id));
            }
            Ok((
                Answer::success(outputs, format!("{} {} created", p.as_str(), r.object)),
                Wrote::Maybe,
            ))
        }
        Err(e) => {
            let (a, w) = from_error(p.as_str(), e, None);
            Ok((
                a,
                if wrote == Wrote::Maybe {
                    Wrote::Maybe
                } else {
                    w
                },
            ))
        }
    }
}

/// `add_company`: a company (Salesforce and Zoho Account, HubSpot company).
async fn add_company(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<(Answer, Wrote)> {
    known_inputs(inputs, &["name", "domain", "owner_id", "fields"])?;
    let name = required(inputs, "name")?;
    let extra = coerce(ctx, account_object(ctx.provider), extra_fields(inputs)?).await?;
    let c = NewCompany {
        name,
        domain: text(inputs, "domain")?,
        owner_id: text(inputs, "owner_id")?,
        extra,
    };
    let (p, c) = (ctx.provider, &c);
    let r = ctx
        .call(|a| async move {
            ctx.vault
                .connectors()
                .create_company(p, ctx.session(&a), c)
                .await
        })
        .await?;
    Ok((
        Answer::success(created(&r), format!("{} {} created", p.as_str(), r.object)),
        Wrote::Maybe,
    ))
}

/// The deal object and its field names at each provider: name, stage, closing date, amount,
/// account lookup, contact lookup, owner.
struct DealFields {
    object: &'static str,
    name: &'static str,
    stage: &'static str,
    close: &'static str,
    amount: &'static str,
    account: Option<&'static str>,
    contact: Option<&'static str>,
    owner: &'static str,
}

fn deal_fields(p: Provider) -> DealFields {
    match p {
        Provider::Salesforce => DealFields {
            object: "Opportunity",
            name: "Name",
            stage: "StageName",
            close: "CloseDate",
            amount: "Amount",
            account: Some("AccountId"),
            // An Opportunity's contacts are OpportunityContactRoles, not a field; the link is
            // made after the create.
            contact: None,
            owner: "OwnerId",
        },
        Provider::Hubspot => DealFields {
            object: "deals",
            name: "dealname",
            stage: "dealstage",
            close: "closedate",
            amount: "amount",
            account: None,
            contact: None,
            owner: "hubspot_owner_id",
        },
        Provider::ZohoCrm => DealFields {
            object: "Deals",
            name: "Deal_Name",
            stage: "Stage",
            close: "Closing_Date",
            amount: "Amount",
            account: Some("Account_Name"),
            contact: Some("Contact_Name"),
            owner: "Owner",
        },
    }
}

/// `add_deal`: a deal (Salesforce Opportunity, HubSpot deal, Zoho Deal) with its stage,
/// closing date, amount and owner, linked to a contact and an account.
async fn add_deal(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<(Answer, Wrote)> {
    known_inputs(
        inputs,
        &[
            "name",
            "stage",
            "closing_date",
            "amount",
            "contact_id",
            "account_id",
            "owner_id",
            "fields",
        ],
    )?;
    let p = ctx.provider;
    let d = deal_fields(p);
    let mut values = Map::new();
    values.insert(d.name.into(), json!(required(inputs, "name")?));
    let named = [
        ("stage", d.stage),
        ("closing_date", d.close),
        ("amount", d.amount),
        ("owner_id", d.owner),
    ];
    for (input, field) in named {
        if let Some(v) = inputs.get(input).filter(|v| !v.is_null()) {
            values.insert(field.into(), v.clone());
        }
    }
    if let (Some(field), Some(id)) = (d.account, text(inputs, "account_id")?) {
        values.insert(field.into(), json!(id));
    }
    let contact = text(inputs, "contact_id")?;
    if let (Some(field), Some(id)) = (d.contact, &contact) {
        values.insert(field.into(), json!(id));
    }
    values.extend(extra_fields(inputs)?);
    // Errors name the input rather than the CRM's field where there is one.
    let values = coerce(ctx, d.object, values)
        .await
        .map_err(|stop| match stop {
            Stop::Answer(mut a) => {
                if let Some(Value::String(f)) = a.details.get("field")
                    && let Some((input, _)) = named.iter().find(|(_, field)| field == f)
                {
                    a.details.insert("field".into(), json!(input));
                }
                Stop::Answer(a)
            }
            other => other,
        })?;
    let values = &values;
    let r = ctx
        .call(|a| async move {
            ctx.vault
                .connectors()
                .create_record(p, ctx.session(&a), d.object, values)
                .await
        })
        .await?;
    let mut outputs = created(&r);
    // The contact of a HubSpot deal is an association; of a Salesforce Opportunity, a contact
    // role. Both are made after the deal exists, so a refusal there leaves the deal created
    // and says so.
    if d.contact.is_none()
        && let Some(id) = contact
    {
        let person = RecordRef::new(person_object_name(p, PersonObject::Contact), id);
        let (deal, person) = (&r, &person);
        let linked = if p == Provider::Salesforce {
            // The primary OpportunityContactRole, as Salesforce's UI makes when an opportunity
            // is created from a contact (Object Reference: OpportunityContactRole, "Each
            // Opportunity has only one primary contact").
            let mut role = Map::new();
            role.insert("OpportunityId".into(), json!(deal.id));
            role.insert("ContactId".into(), json!(person.id));
            role.insert("IsPrimary".into(), json!(true));
            let role = &role;
            ctx.call(|a| async move {
                ctx.vault
                    .connectors()
                    .create_record(p, ctx.session(&a), "OpportunityContactRole", role)
                    .await
            })
            .await
            .map(|_| ())
        } else {
            ctx.call(|a| async move {
                ctx.vault
                    .connectors()
                    .associate(p, ctx.session(&a), person, deal)
                    .await
            })
            .await
        };
        if let Err(e) = linked {
            let (mut a, _) = from_error(p.as_str(), e, Some("contact_id"));
            a.outputs = outputs;
            a.message = format!(
                "the deal was created ({}), but the contact could not be linked: {}",
                r.id, a.message
            );
            return Ok((a, Wrote::Maybe));
        }
        outputs.insert("contact_id".into(), json!(person.id));
    }
    Ok((
        Answer::success(outputs, format!("{} {} created", p.as_str(), r.object)),
        Wrote::Maybe,
    ))
}

/// `add_record`: a record of any object or module, custom ones included, from a field → value
/// map checked against the object's fields.
async fn add_record(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<(Answer, Wrote)> {
    known_inputs(inputs, &["object", "fields"])?;
    let object = required(inputs, "object")?;
    let values = extra_fields(inputs)?;
    if values.is_empty() {
        return Err(Stop::Answer(Answer::invalid(
            "fields",
            "inputs.fields must name at least one field",
        )));
    }
    let fields = ctx
        .fields(&object)
        .await
        .map_err(|e| Stop::Vault(e, Some("object".into())))?;
    let values =
        coerce_with(ctx.provider, &ctx.tenant.time_zone, &fields, values).map_err(Stop::Answer)?;
    if let Some(missing) = fields
        .iter()
        .find(|f| f.required && f.writable && !values.contains_key(&f.name))
    {
        return Err(Stop::Answer(Answer::invalid(
            &missing.name,
            format!("{} is required on {object}", missing.name),
        )));
    }
    let (p, object, values) = (ctx.provider, &object, &values);
    let r = ctx
        .call(|a| async move {
            ctx.vault
                .connectors()
                .create_record(p, ctx.session(&a), object, values)
                .await
        })
        .await?;
    Ok((
        Answer::success(created(&r), format!("{} {} created", p.as_str(), r.object)),
        Wrote::Maybe,
    ))
}

/// The people the CRM has with this email or phone, re-checked here: a connector may return
/// near matches (SOSL matches words, phone searches match forms).
async fn lookup(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<Vec<RemotePerson>> {
    let email = email(inputs)?;
    let phone = match text(inputs, "phone")? {
        None => None,
        Some(raw) => {
            let region = Region::parse(&ctx.tenant.default_region).map_err(|_| {
                Stop::Answer(Answer::invalid("phone", "the tenant's region is not valid"))
            })?;
            let n = normalize_phone(&raw, &region).map_err(|e| {
                Stop::Answer(Answer::invalid("phone", format!("inputs.phone: {e}")))
            })?;
            Some((n.e164, region))
        }
    };
    if email.is_none() && phone.is_none() {
        return Err(Stop::Answer(Answer::invalid(
            "email",
            "a person is found by inputs.email or inputs.phone",
        )));
    }
    let q = PersonLookup {
        phone_e164: phone.as_ref().map(|(e, _)| e.as_str().to_owned()),
        phone_national: phone
            .as_ref()
            .map(|(e, _)| e.national_forms())
            .unwrap_or_default(),
        email: email.clone(),
    };
    let objects: &[PersonObject] = match ctx.provider {
        Provider::Hubspot => &[PersonObject::Contact],
        _ => &PersonObject::ALL,
    };
    let (p, q) = (ctx.provider, &q);
    let found = ctx
        .call(|a| async move {
            ctx.vault
                .connectors()
                .find_people(p, ctx.session(&a), objects, q)
                .await
        })
        .await?;
    Ok(found
        .into_iter()
        .filter(|r| {
            let by_email = email
                .as_deref()
                .is_some_and(|e| r.emails.iter().any(|x| x.trim().eq_ignore_ascii_case(e)));
            let by_phone = phone.as_ref().is_some_and(|(e164, region)| {
                r.phone
                    .iter()
                    .chain(r.other_phones.iter())
                    .any(|x| normalize_phone(x, region).is_ok_and(|n| &n.e164 == e164))
            });
            by_email || by_phone
        })
        .collect())
}

fn person_outputs(provider: Provider, r: &RemotePerson) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.remote_id));
    m.insert(
        "object".into(),
        json!(person_object_name(provider, r.object)),
    );
    let name =
        renkei_core::matching::name::display_name(r.last_name.as_deref(), r.first_name.as_deref())
            .or_else(|| r.full_name.clone());
    m.insert("name".into(), json!(name));
    m.insert("email".into(), json!(r.emails.first()));
    m.insert("phone".into(), json!(r.phone));
    m.insert("company".into(), json!(r.company));
    m.insert("owner_id".into(), json!(r.owner_id));
    m
}

/// `find_person`: the lead or contact with this email or phone (any notation). Found is
/// `success` with `found: true` and the person; none is `success` with `found: false`. Several
/// are answered oldest first, with `matches` counting them.
async fn find_person(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<Answer> {
    known_inputs(inputs, &["email", "phone"])?;
    let mut found = lookup(ctx, inputs).await?;
    found.sort_by_key(|r| (r.created_at, r.remote_id.clone()));
    let Some(first) = found.first() else {
        let mut outputs = Map::new();
        outputs.insert("found".into(), json!(false));
        return Ok(Answer::success(
            outputs,
            "no person has this email or phone",
        ));
    };
    let mut outputs = person_outputs(ctx.provider, first);
    outputs.insert("found".into(), json!(true));
    outputs.insert("matches".into(), json!(found.len()));
    Ok(Answer::success(outputs, "found"))
}

/// `upsert_person`: the person with this email or phone updated with the given name, email,
/// phone and description, or created (a contact unless `object` is `lead`) when there is none.
async fn upsert_person(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<(Answer, Wrote)> {
    let mut known = PERSON_INPUTS.to_vec();
    known.push("object");
    known_inputs(inputs, &known)?;
    let object = match text(inputs, "object")?.as_deref() {
        None | Some("contact") => PersonObject::Contact,
        Some("lead") => PersonObject::Lead,
        Some(other) => {
            return Err(Stop::Answer(Answer::invalid(
                "object",
                format!("inputs.object is lead or contact, not {other:?}"),
            )));
        }
    };
    let mut found = lookup(ctx, inputs).await?;
    found.sort_by_key(|r| (r.created_at, r.remote_id.clone()));
    let Some(existing) = found.into_iter().next() else {
        let (mut answer, wrote) = add_person(ctx, inputs, object).await?;
        answer.outputs.insert("created".into(), json!(true));
        return Ok((answer, wrote));
    };
    let (last, first) = match name_parts(inputs) {
        Ok((l, f)) => (Some(l), f),
        Err(_) => (None, None),
    };
    let u = PersonUpdate {
        last_name: last,
        first_name: first,
        phone: text(inputs, "phone")?,
        email: email(inputs)?,
        description: text(inputs, "description")?,
    };
    let p = ctx.provider;
    if !u.is_empty() {
        let (u, id, obj) = (&u, existing.remote_id.as_str(), existing.object);
        ctx.call(|a| async move {
            ctx.vault
                .connectors()
                .update_person(p, ctx.session(&a), obj, id, u)
                .await
        })
        .await?;
    }
    let mut outputs = person_outputs(p, &existing);
    outputs.insert("created".into(), json!(false));
    Ok((
        Answer::success(
            outputs,
            format!("{} {} updated", p.as_str(), existing.remote_id),
        ),
        Wrote::Maybe,
    ))
}

/// `add_note`: a note on a person (`person_id`, with `person_object` lead or contact) or a
/// deal (`deal_id`).
async fn add_note(ctx: &Ctx<'_>, inputs: &Map<String, Value>) -> Step<(Answer, Wrote)> {
    known_inputs(
        inputs,
        &["title", "body", "person_id", "person_object", "deal_id"],
    )?;
    let p = ctx.provider;
    let body = required(inputs, "body")?;
    let title = text(inputs, "title")?.unwrap_or_else(|| {
        body.lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect()
    });
    let person_object = match text(inputs, "person_object")?.as_deref() {
        None | Some("contact") => PersonObject::Contact,
        Some("lead") => PersonObject::Lead,
        Some(other) => {
            return Err(Stop::Answer(Answer::invalid(
                "person_object",
                format!("inputs.person_object is lead or contact, not {other:?}"),
            )));
        }
    };
    let person = text(inputs, "person_id")?
        .map(|id| RecordRef::new(person_object_name(p, person_object), id));
    let deal = text(inputs, "deal_id")?.map(|id| RecordRef::new(deal_fields(p).object, id));
    if person.is_none() && deal.is_none() {
        return Err(Stop::Answer(Answer::invalid(
            "person_id",
            "a note goes on inputs.person_id or inputs.deal_id",
        )));
    }
    let now = ctx.vault.now();
    let note = NewActivity {
        kind: ActivityKind::Note,
        key: format!("renkei:{}:action:{}", ctx.tenant.id.as_str(), now.0),
        subject: title,
        body,
        occurred_at: now,
        ends_at: None,
        owner_id: None,
        person,
        deal,
        call: None,
        completed: true,
    };
    let about = if note.person.is_some() {
        "person_id"
    } else {
        "deal_id"
    };
    let note = &note;
    match ctx
        .call(|a| async move {
            ctx.vault
                .connectors()
                .create_activity(p, ctx.session(&a), note)
                .await
        })
        .await
    {
        Ok(r) => Ok((
            Answer::success(created(&r), format!("{} note created", p.as_str())),
            Wrote::Maybe,
        )),
        Err(e) => Err(Stop::Vault(e, Some(about.into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind, options: &[(&str, &str)]) -> FieldMeta {
        FieldMeta {
            name: name.into(),
            label: name.into(),
            kind,
            provider_type: "x".into(),
            required: false,
            writable: name != "Formula",
            options: options
                .iter()
                .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
                .collect(),
            references: Vec::new(),
        }
    }

    fn fields() -> Vec<FieldMeta> {
        vec![
            field("Amount", FieldKind::Number, &[]),
            field("Close", FieldKind::Date, &[]),
            field("At", FieldKind::DateTime, &[]),
            field(
                "Stage",
                FieldKind::Picklist,
                &[("Won", "受注"), ("Lost", "失注")],
            ),
            field("Done", FieldKind::Bool, &[]),
            field("Account", FieldKind::Reference, &[]),
            field("Note", FieldKind::Text, &[]),
            field("Formula", FieldKind::Text, &[]),
        ]
    }

    fn coerce1(p: Provider, name: &str, v: Value) -> Result<Value, Answer> {
        let mut m = Map::new();
        m.insert(name.into(), v);
        coerce_with(p, "Asia/Tokyo", &fields(), m).map(|m| m[name].clone())
    }

    #[test]
    fn values_are_coerced_to_their_fields_types() {
        let sf = Provider::Salesforce;
        assert_eq!(
            coerce1(sf, "Amount", json!("1,200.5")).unwrap(),
            json!(1200.5)
        );
        assert_eq!(coerce1(sf, "Amount", json!(3)).unwrap(), json!(3));
        assert_eq!(
            coerce1(sf, "Close", json!("2026/12/31")).unwrap(),
            json!("2026-12-31")
        );
        assert_eq!(
            coerce1(sf, "Close", json!("2026-12-31T20:00:00Z")).unwrap(),
            json!("2027-01-01"),
            "the tenant's local date of a timestamp"
        );
        assert_eq!(
            coerce1(sf, "At", json!("2026-12-31 10:00")).unwrap(),
            json!("2026-12-31T10:00:00+09:00")
        );
        assert_eq!(coerce1(sf, "Stage", json!("受注")).unwrap(), json!("Won"));
        assert_eq!(coerce1(sf, "Stage", json!("won")).unwrap(), json!("Won"));
        assert_eq!(coerce1(sf, "Done", json!("yes")).unwrap(), json!(true));
        assert_eq!(coerce1(sf, "Note", json!(12)).unwrap(), json!("12"));
        assert_eq!(
            coerce1(sf, "Account", json!("001x")).unwrap(),
            json!("001x")
        );
        assert_eq!(
            coerce1(Provider::ZohoCrm, "Account", json!("123")).unwrap(),
            json!({"id": "123"})
        );
        assert_eq!(
            coerce1(Provider::ZohoCrm, "Stage", json!(["Won", "失注"])).unwrap(),
            json!(["Won", "Lost"])
        );
        assert_eq!(
            coerce1(sf, "Stage", json!(["Won", "Lost"])).unwrap(),
            json!("Won;Lost")
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let sf = Provider::Salesforce;
        for (name, v, says) in [
            ("Amount", json!("lots"), "not a number"),
            ("Close", json!("someday"), "not a date"),
            ("Stage", json!("Maybe"), "Won, Lost"),
            ("Done", json!("perhaps"), "true or false"),
            ("Formula", json!("x"), "read-only"),
            ("Nope", json!("x"), "no field"),
        ] {
            let a = coerce1(sf, name, v).unwrap_err();
            assert_eq!(a.outcome, Outcome::InvalidInput);
            assert_eq!(a.details["field"], name);
            assert!(a.message.contains(says), "{name}: {}", a.message);
        }
    }

    #[test]
    fn owner_errors_are_invalid_assignee() {
        assert!(is_owner_error(
            "INVALID_CROSS_REFERENCE_KEY",
            Some("OwnerId")
        ));
        assert!(is_owner_error("INACTIVE_OWNER_OR_USER", None));
        assert!(is_owner_error("INVALID_DATA", Some("Owner")));
        assert!(!is_owner_error("INVALID_DATA", Some("Email")));
    }

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let req = |inputs: Value| ActionRequest {
            inputs: inputs.as_object().cloned().unwrap_or_default(),
            ..ActionRequest::default()
        };
        let a = fingerprint(
            "add_lead",
            Provider::Salesforce,
            &req(json!({"a": 1, "b": 2})),
        );
        let b = fingerprint(
            "add_lead",
            Provider::Salesforce,
            &req(json!({"b": 2, "a": 1})),
        );
        let c = fingerprint(
            "add_lead",
            Provider::Salesforce,
            &req(json!({"a": 1, "b": 3})),
        );
        let d = fingerprint(
            "add_contact",
            Provider::Salesforce,
            &req(json!({"a": 1, "b": 2})),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
