//! The browser side of the connect flow: the connect page (`GET`/`POST /connect/{token}`) and
//! the OAuth redirect target (`GET /oauth/callback`). These routes are for people, so they
//! answer HTML in Japanese or English and never the API's JSON errors; each ends on a page
//! with a status that says what happened, or on a redirect to the host app's `return_url`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use renkei_connectors::Provider;
use renkei_connectors::registry::{ClientSource, ZOHO_DATA_CENTRES};
use renkei_core::Secret;
use renkei_engine::connect::{BeginForm, CallbackQuery, ConnectError, SessionInfo};

use crate::app::AppState;
use crate::pages::{self, ClientField, ConnectPage, DataCentreOption, Lang, Outcome, ResultPage};

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(pages::CONTENT_SECURITY_POLICY),
    );
    resp
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// The HTTP status of a failed connect.
fn status_of(e: &ConnectError) -> StatusCode {
    match e {
        ConnectError::LinkInvalid => StatusCode::NOT_FOUND,
        ConnectError::LinkExpired | ConnectError::LinkUsed => StatusCode::GONE,
        ConnectError::StateInvalid | ConnectError::StateReused | ConnectError::StateExpired => {
            StatusCode::BAD_REQUEST
        }
        ConnectError::Denied { .. } => StatusCode::FORBIDDEN,
        ConnectError::AccountChanged { .. }
        | ConnectError::AccountMismatch { .. }
        | ConnectError::TenantNotConnected { .. } => StatusCode::CONFLICT,
        ConnectError::ProviderError { .. } | ConnectError::Connector(_) => StatusCode::BAD_GATEWAY,
        ConnectError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConnectError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The text shown for an error: the page's own text for its code, with the specifics of the
/// error where they help (which account, which provider).
fn message_of(lang: Lang, e: &ConnectError) -> String {
    let key = match e.code() {
        "state_reused" | "state_expired" => "error.state_invalid".to_owned(),
        code => format!("error.{code}"),
    };
    let text = pages::try_text(lang, &key).unwrap_or_else(|| pages::text(lang, "error.internal"));
    match e {
        ConnectError::AccountMismatch { .. }
        | ConnectError::AccountChanged { .. }
        | ConnectError::ProviderError { .. }
        | ConnectError::Connector(_) => format!("{text} ({e})"),
        _ => text.to_owned(),
    }
}

fn failure_page(lang: Lang, e: &ConnectError, return_url: Option<String>) -> Response {
    let outcome = match e {
        ConnectError::Denied { provider } => Outcome::Denied {
            provider_name: Provider::parse(provider)
                .map_or(*provider, |p| p.info().display_name)
                .to_owned(),
        },
        _ => Outcome::Failed {
            code: e.code().to_owned(),
            message: message_of(lang, e),
        },
    };
    html(
        status_of(e),
        pages::render_result(&ResultPage {
            lang,
            outcome,
            return_url,
        }),
    )
}

fn format_expiry(info: &SessionInfo) -> String {
    let ts = jiff::Timestamp::from_millisecond(info.session.expires_at.0).unwrap_or_default();
    let tz = jiff::tz::TimeZone::get(&info.tenant.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

fn connect_page(
    lang: Lang,
    token: &str,
    info: &SessionInfo,
    form: &BeginForm,
    error: Option<String>,
) -> ConnectPage {
    let p = info.provider;
    let data_centres = if p == Provider::ZohoCrm {
        ZOHO_DATA_CENTRES
            .iter()
            .map(|dc| DataCentreOption {
                location: dc.location.to_owned(),
                name: if lang == Lang::Ja {
                    dc.name_ja
                } else {
                    dc.name_en
                }
                .to_owned(),
                selected: form.data_centre.as_deref() == Some(dc.location),
            })
            .collect()
    } else {
        Vec::new()
    };
    let client = match (p.info().client_source, info.deployment_client) {
        (ClientSource::DeploymentOrTenant, true) => ClientField::Optional {
            redirect_uri: info.redirect_uri.clone(),
        },
        (ClientSource::DeploymentOrTenant, false) => ClientField::Required {
            redirect_uri: info.redirect_uri.clone(),
        },
        _ => ClientField::None,
    };
    ConnectPage {
        lang,
        tenant_name: info.tenant.display_name.clone(),
        provider: p.as_str().to_owned(),
        provider_name: p.info().display_name.to_owned(),
        member_name: info.member.as_ref().map(|m| m.display_name.clone()),
        current_account: info.current.as_ref().map(|c| {
            c.account_name
                .clone()
                .or(c.account_id.clone())
                .unwrap_or_default()
        }),
        form_action: format!("/connect/{token}"),
        data_centres,
        client,
        allow_switch: info.current.is_some(),
        expires_at: format_expiry(info),
        error,
    }
}

/// `GET /connect/{token}`: the connect page.
pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let query_lang = q.get("lang").map(String::as_str);
    match state.connect.open_session(&token).await {
        Ok(info) => {
            let lang = pages::pick_lang(query_lang, accept_language(&headers), &info.tenant.locale);
            html(
                StatusCode::OK,
                pages::render_connect(&connect_page(
                    lang,
                    &token,
                    &info,
                    &BeginForm::default(),
                    None,
                )),
            )
        }
        Err(e) => {
            let lang = pages::pick_lang(query_lang, accept_language(&headers), "ja");
            failure_page(lang, &e, None)
        }
    }
}

/// `POST /connect/{token}`: checks the form and sends the admin to the provider.
pub async fn start(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let form = BeginForm {
        data_centre: fields.get("data_centre").cloned(),
        client_id: fields.get("client_id").cloned(),
        client_secret: fields.get("client_secret").cloned().map(Secret::new),
        switch_account: fields.get("switch_account").map(String::as_str) == Some("1"),
    };
    let query_lang = fields.get("lang").map(String::as_str);
    match state.connect.begin(&token, form.clone()).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(e) => {
            // A form mistake shows the page again with the error; anything else ends on the
            // result page.
            let form_error = matches!(
                e,
                ConnectError::DataCentreRequired
                    | ConnectError::UnknownDataCentre(_)
                    | ConnectError::ClientIdRequired
                    | ConnectError::ClientSecretRequired
            );
            match state.connect.open_session(&token).await {
                Ok(info) if form_error => {
                    let lang = pages::pick_lang(
                        query_lang,
                        accept_language(&headers),
                        &info.tenant.locale,
                    );
                    let msg = message_of(lang, &e);
                    html(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        pages::render_connect(&connect_page(lang, &token, &info, &form, Some(msg))),
                    )
                }
                Ok(info) => {
                    let lang = pages::pick_lang(
                        query_lang,
                        accept_language(&headers),
                        &info.tenant.locale,
                    );
                    failure_page(lang, &e, info.session.return_url.clone())
                }
                Err(_) => {
                    let lang = pages::pick_lang(query_lang, accept_language(&headers), "ja");
                    failure_page(lang, &e, None)
                }
            }
        }
    }
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// `GET /oauth/callback`: the provider's redirect.
pub async fn callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    match state.connect.finish(q).await {
        Ok(done) => {
            if let Some(ret) = &done.return_url {
                return Redirect::to(&with_query(
                    ret,
                    &[
                        ("status", "connected"),
                        ("provider", done.provider.as_str()),
                    ],
                ))
                .into_response();
            }
            let lang = pages::pick_lang(None, accept_language(&headers), &done.locale);
            html(
                StatusCode::OK,
                pages::render_result(&ResultPage {
                    lang,
                    outcome: Outcome::Connected {
                        provider_name: done.provider.info().display_name.to_owned(),
                        account_name: done.account_name,
                    },
                    return_url: None,
                }),
            )
        }
        Err(f) => {
            tracing::info!(code = f.error.code(), "connect ended without a connection");
            if let Some(ret) = &f.return_url {
                let mut pairs = vec![("status", "error"), ("error", f.error.code())];
                if let Some(p) = f.provider {
                    pairs.push(("provider", p.as_str()));
                }
                return Redirect::to(&with_query(ret, &pairs)).into_response();
            }
            let lang = pages::pick_lang(
                None,
                accept_language(&headers),
                f.locale.as_deref().unwrap_or("ja"),
            );
            failure_page(lang, &f.error, None)
        }
    }
}
