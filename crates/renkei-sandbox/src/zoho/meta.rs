//! Metadata and account endpoints: `/settings/modules`, `/settings/fields?module=…`, `/users`
//! (and `PUT /users/{id}`, which activates or deactivates a user), `/org`, shaped as the v8
//! OpenAPI files (modules.json, fields.json, users.json, org.json) describe them and as the official SDK reads them at start-up (it fetches the fields of a
//! module, and of every module a lookup points to, before its first record call, and
//! `users?type=CurrentUser` after a token exchange to name the token's user).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::api::{Ctx, no_content};
use super::errors::{ApiError, record_error};
use super::model::{Dt, MODULES, SYSTEM_FIELDS, module_index};
use super::store::{Org, make_id};

fn module_json(org: &Org, i: usize) -> Value {
    let d = &MODULES[i];
    json!({
        "id": make_id(org.prefix, d.id_suffix).to_string(),
        "api_name": d.api,
        "module_name": d.api,
        "singular_label": d.singular,
        "plural_label": d.plural,
        "generated_type": if d.custom { "custom" } else { "default" },
        "api_supported": true,
        "creatable": true,
        "editable": true,
        "deletable": true,
        "viewable": true,
        "convertable": d.api == "Leads",
        "global_search_supported": !matches!(d.api, "Notes"),
        "show_as_tab": d.api != "Notes",
        "visible": true,
        "visibility": 1,
        "status": "visible",
        "sequence_number": i as i64 + 1,
        "quick_create": true,
        "feeds_required": false,
        "presence_sub_menu": false,
        "modified_time": org.time(org.created_ms),
        "modified_by": org.user_json(0, false),
        "profiles": [{"name": "Administrator", "id": make_id(org.prefix, 26_011).to_string()}],
    })
}

/// `GET /settings/modules` and `/settings/modules/{api_name}`.
pub fn modules(org: &Org, name: Option<&str>) -> Result<Response, ApiError> {
    match name {
        None => {
            let list: Vec<Value> = (0..MODULES.len()).map(|i| module_json(org, i)).collect();
            Ok(axum::Json(json!({"modules": list})).into_response())
        }
        Some(n) => match module_index(n) {
            Some(i) => Ok(axum::Json(json!({"modules": [module_json(org, i)]})).into_response()),
            None => Err(ApiError::new(
                400,
                "INVALID_MODULE",
                "The module name given seems to be invalid",
                json!({"resource_path_index": 2}),
            )),
        },
    }
}

/// `GET /settings/fields?module=…`.
pub fn fields(org: &Org, ctx: &Ctx) -> Result<Response, ApiError> {
    let Some(name) = ctx.params.get("module").filter(|m| !m.is_empty()) else {
        return Err(ApiError::param_missing("module"));
    };
    let Some(m) = module_index(name) else {
        return Err(ApiError::new(
            400,
            "INVALID_MODULE",
            "The module name given seems to be invalid",
            json!({"param_name": "module"}),
        ));
    };
    let def = &MODULES[m];
    let mut out = Vec::new();
    let mut n: u64 = 0;
    let next_id = |n: &mut u64| {
        *n += 1;
        make_id(org.prefix, def.id_suffix * 100 + *n).to_string()
    };
    for fd in def.fields {
        let mut f = base_field(
            next_id(&mut n),
            fd.api,
            fd.label,
            fd.dt.name(),
            fd.dt.json_type(),
        );
        f["system_mandatory"] = json!(fd.mandatory);
        f["custom_field"] = json!(def.custom && fd.api != "Name");
        f["length"] = json!(fd.length);
        f["read_only"] = json!(fd.api == "Full_Name");
        f["field_read_only"] = json!(fd.api == "Full_Name");
        f["unique"] = if fd.unique {
            json!({"casesensitive": "false"})
        } else {
            json!({})
        };
        match fd.dt {
            Dt::Lookup => {
                let target = fd.lookup.and_then(module_index).unwrap_or(0);
                f["lookup"] = json!({
                    "display_label": fd.label,
                    "api_name": fd.api,
                    "module": {"api_name": MODULES[target].api, "id": make_id(org.prefix, MODULES[target].id_suffix).to_string()},
                    "id": make_id(org.prefix, def.id_suffix * 1000 + n).to_string(),
                });
            }
            Dt::SeLookup => {
                // Zoho's multi-module lookups name the pseudo-module `se_module`; the SDK
                // skips such a lookup when it walks lookups to fetch their modules' fields.
                f["lookup"] = json!({
                    "display_label": fd.label,
                    "api_name": fd.api,
                    "module": {"api_name": "se_module", "id": make_id(org.prefix, 9).to_string()},
                    "id": make_id(org.prefix, def.id_suffix * 1000 + n).to_string(),
                });
            }
            _ => {}
        }
        if matches!(fd.dt, Dt::Picklist | Dt::MultiPicklist) {
            let values: Vec<Value> = fd
                .picklist
                .iter()
                .enumerate()
                .map(|(k, v)| {
                    json!({
                        "display_value": v,
                        "actual_value": v,
                        "reference_value": v,
                        "sequence_number": k as i64 + 1,
                        "id": make_id(org.prefix, def.id_suffix * 10_000 + n * 100 + k as u64).to_string(),
                        "type": "used",
                    })
                })
                .collect();
            f["pick_list_values"] = json!(values);
        }
        out.push(f);
    }
    for (api, label, dt) in SYSTEM_FIELDS {
        let json_type = if *dt == "datetime" {
            "string"
        } else {
            "jsonobject"
        };
        let mut f = base_field(next_id(&mut n), api, label, dt, json_type);
        f["system_mandatory"] = json!(false);
        f["custom_field"] = json!(false);
        f["read_only"] = json!(*api != "Owner");
        f["field_read_only"] = json!(*api != "Owner");
        f["length"] = json!(120);
        f["unique"] = json!({});
        out.push(f);
    }
    Ok(axum::Json(json!({"fields": out})).into_response())
}

fn base_field(id: String, api: &str, label: &str, dt: &str, json_type: &str) -> Value {
    json!({
        "id": id,
        "api_name": api,
        "field_label": label,
        "display_label": label,
        "data_type": dt,
        "json_type": json_type,
        "visible": true,
        "created_source": "default",
        "lookup": {},
        "pick_list_values": [],
        "decimal_place": null,
        "sortable": true,
        "webhook": true,
        "filterable": true,
        "searchable": true,
        "mass_update": false,
    })
}

fn user_json(org: &Org, i: usize) -> Value {
    let u = &org.users[i];
    let jp = org.dc == "jp";
    let a = &org.users[0];
    let owner = json!({"name": a.full_name(), "id": a.id.to_string(), "first_name": a.first_name, "last_name": a.last_name, "email": a.email});
    json!({
        "id": u.id.to_string(),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "full_name": u.full_name(),
        "email": u.email,
        "role": {"name": u.role, "id": make_id(org.prefix, 26_005 + i as u64).to_string()},
        "profile": {"name": u.profile, "id": make_id(org.prefix, 26_011 + i as u64).to_string()},
        "status": if u.active { "active" } else { "inactive" },
        "confirm": true,
        "zuid": (u.id % 1_000_000_000).to_string(),
        "time_zone": org.time_zone,
        "locale": org.locale,
        "country_locale": org.locale,
        "language": if jp { "ja_JP" } else { "en_US" },
        "country": org.country_code,
        "date_format": "MMM d, yyyy",
        "time_format": "HH:mm",
        "name_format__s": "Salutation,First Name,Last Name",
        "sort_order_preference__s": "First Name,Last Name",
        "Isonline": false,
        "created_time": org.time(org.created_ms),
        "Modified_Time": org.time(u.modified_ms),
        "Created_Time": org.time(org.created_ms),
        "Created_By": owner.clone(),
        "Modified_By": owner,
        "Reporting_To": null,
        "Currency": org.currency,
    })
}

/// `GET /users?type=AllUsers|ActiveUsers|AdminUsers|CurrentUser…` and `/users/{id}`. The token
/// acts as the org's first user (its administrator).
pub fn users(org: &Org, id: Option<&str>, ctx: &Ctx) -> Result<Response, ApiError> {
    if let Some(id) = id {
        return match org.users.iter().position(|u| u.id.to_string() == id) {
            Some(i) => Ok(axum::Json(json!({"users": [user_json(org, i)]})).into_response()),
            None => Ok(no_content()),
        };
    }
    let kind = ctx
        .params
        .get("type")
        .map(String::as_str)
        .unwrap_or("AllUsers");
    // Every user is confirmed and none is deleted; the first is the org's administrator.
    let all = 0..org.users.len();
    let active = |i: &usize| org.users[*i].active;
    let picked: Vec<usize> = match kind {
        "AllUsers" | "ConfirmedUsers" => all.collect(),
        "ActiveUsers" | "ActiveConfirmedUsers" => all.filter(active).collect(),
        "DeactiveUsers" => all.filter(|i| !active(i)).collect(),
        "AdminUsers" => vec![0],
        "ActiveConfirmedAdmins" => [0].into_iter().filter(active).collect(),
        "CurrentUser" => vec![ctx.user as usize],
        "NotConfirmedUsers" | "DeletedUsers" => vec![],
        _ => return Err(ApiError::invalid_param("type", "invalid data")),
    };
    if picked.is_empty() {
        return Ok(no_content());
    }
    let users: Vec<Value> = picked.iter().map(|i| user_json(org, *i)).collect();
    Ok(axum::Json(json!({
        "users": users,
        "info": {"per_page": 200, "count": users.len(), "page": 1, "more_records": false},
    }))
    .into_response())
}

/// `PUT /users/{id}` and `PUT /users` (the id in the body): Zoho's "Update User"
/// (https://www.zoho.com/crm/developer/docs/api/v6/update-user.html, unchanged since v3;
/// users.json's `Update User`, whose body is `{"users": [{…}]}` and whose answer is
/// `SuccessWrapper`; the spec leaves `status` a free string). The emulator changes a user's
/// `status` only, the way an admin deactivates one: "To activate or deactivate a user, use
/// the key status in the input with the value as either active or inactive, respectively"
/// (the same page). Also from that page: one user per request ("You can update only one
/// user's details per PUT request"), and "You cannot deactivate the primary contact of your
/// organization" (the org's first user here, whom the tokens act as). Errors are the records
/// API's shapes: a request-level body for a malformed request, a per-user `INVALID_DATA` (HTTP
/// 400) for a bad id or value; the wording of the refusal of other keys and of deactivating
/// the primary contact is the sandbox's own.
pub fn update_user(org: &mut Org, id: Option<&str>, ctx: &Ctx) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_slice(&ctx.body).map_err(|_| {
        ApiError::new(
            400,
            "INVALID_DATA",
            "body",
            json!({"expected_data_type": "jsonobject"}),
        )
    })?;
    let Some(users) = body.get("users") else {
        return Err(ApiError::new(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "users"}),
        ));
    };
    let items = match users.as_array() {
        Some(a) if !a.is_empty() => a,
        _ => {
            return Err(ApiError::new(
                400,
                "INVALID_DATA",
                "invalid data",
                json!({"expected_data_type": "jsonarray", "api_name": "users", "json_path": "$.users"}),
            ));
        }
    };
    if items.len() > 1 {
        return Err(ApiError::new(
            400,
            "LIMIT_EXCEEDED",
            "Record count exceeded",
            json!({"limit": 1}),
        ));
    }
    let item = &items[0];
    let error = |code: &str, message: &str, api_name: &str| {
        let path = format!("$.users[0].{api_name}");
        let e = record_error(
            code,
            message,
            json!({"api_name": api_name, "json_path": path}),
        );
        (StatusCode::BAD_REQUEST, axum::Json(json!({"users": [e]}))).into_response()
    };
    let Some(obj) = item.as_object() else {
        return Ok(error("INVALID_DATA", "invalid data", "users"));
    };
    let raw = id.map(str::to_owned).or_else(|| {
        obj.get("id").and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
    });
    let Some(raw) = raw else {
        let e = mandatory_not_found_user("id");
        return Ok((StatusCode::BAD_REQUEST, axum::Json(json!({"users": [e]}))).into_response());
    };
    let Some(idx) = raw.parse::<u64>().ok().and_then(|n| org.user_index(n)) else {
        return Ok(error(
            "INVALID_DATA",
            "the id given seems to be invalid",
            "id",
        ));
    };
    if let Some(key) = obj.keys().find(|k| *k != "id" && *k != "status") {
        return Ok(error(
            "INVALID_DATA",
            "the sandbox's Update User changes only status",
            key,
        ));
    }
    let active = match obj.get("status") {
        None => org.users[idx].active,
        Some(v) => match v.as_str() {
            Some("active") => true,
            Some("inactive") => false,
            _ => return Ok(error("INVALID_DATA", "invalid data", "status")),
        },
    };
    if idx == 0 && !active {
        return Ok(error(
            "INVALID_DATA",
            "the primary contact of the organization cannot be deactivated",
            "status",
        ));
    }
    let u = &mut org.users[idx];
    if u.active != active {
        u.active = active;
        u.modified_ms = ctx.now_ms;
    }
    Ok(axum::Json(json!({"users": [{
        "code": "SUCCESS",
        "details": {"id": u.id.to_string()},
        "message": "User updated",
        "status": "success",
    }]}))
    .into_response())
}

fn mandatory_not_found_user(api_name: &str) -> Value {
    record_error(
        "MANDATORY_NOT_FOUND",
        "required field not found",
        json!({"api_name": api_name, "json_path": format!("$.users[0].{api_name}")}),
    )
}

/// `GET /org`.
pub fn org(org: &Org) -> Result<Response, ApiError> {
    Ok(axum::Json(json!({"org": [{
        "id": org.id.to_string(),
        "company_name": org.name,
        "alias": null,
        "primary_email": org.users[0].email,
        "primary_zuid": (org.users[0].id % 1_000_000_000).to_string(),
        "zgid": org.zgid,
        "domain_name": format!("org{}", org.zgid),
        "time_zone": org.time_zone,
        "currency": org.currency,
        "iso_code": org.currency,
        "currency_symbol": org.currency_symbol,
        "currency_locale": org.locale,
        "country_code": org.country_code,
        "country": org.country_code,
        "type": "production",
        "mc_status": false,
        "gapps_enabled": false,
        "translation_enabled": org.dc == "jp",
        "privacy_settings": false,
        "hipaa_compliance_enabled": false,
        "lite_users_enabled": false,
        "zia_portal_id": null,
        "employee_count": null,
        "phone": null,
        "mobile": null,
        "fax": null,
        "website": null,
        "description": null,
        "street": null,
        "city": null,
        "state": null,
        "zip": null,
        "photo_id": null,
        "license_details": {
            "paid_expiry": null,
            "users_license_purchased": org.users.len(),
            "trial_type": null,
            "trial_expiry": null,
            "paid": true,
            "paid_type": "enterprise",
        },
    }]}))
    .into_response())
}
