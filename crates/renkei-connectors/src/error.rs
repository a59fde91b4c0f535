//! [`ConnectorError`]: every way a call to a provider can fail, classified.
//!
//! Callers never parse messages: they ask the error what to do. [`is_retryable`] says whether
//! trying again later can succeed, [`needs_reauth`] whether only a new consent can fix it,
//! [`may_have_been_sent`] whether a write might have happened even though we got no answer
//! (the caller must check before writing again), and [`retry_after`] how long the provider
//! asked us to wait.
//!
//! [`is_retryable`]: ConnectorError::is_retryable
//! [`needs_reauth`]: ConnectorError::needs_reauth
//! [`may_have_been_sent`]: ConnectorError::may_have_been_sent
//! [`retry_after`]: ConnectorError::retry_after

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// The network failed. `sent` is false only when we know the request never left (the
    /// connection could not be opened), which makes even a write safe to repeat.
    #[error("could not reach {host}: {message}")]
    Transport {
        host: String,
        message: String,
        sent: bool,
    },
    /// No answer within the time limit. The request may have been processed.
    #[error("{host} did not answer within {seconds} s")]
    Timeout { host: String, seconds: u64 },
    /// The provider refused the call for rate reasons; `retry_after` is its own estimate.
    #[error("{provider} rate limit reached{}", retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        provider: &'static str,
        retry_after: Option<Duration>,
    },
    /// The access token was refused (expired, or unknown to the provider). A refresh may fix
    /// it; if the refresh fails too, the error becomes [`ConnectorError::Reauth`].
    #[error("{provider} refused the access token: {message}")]
    Unauthorized {
        provider: &'static str,
        message: String,
    },
    /// The grant is gone (revoked, uninstalled, refresh token expired): only a new consent can
    /// fix it.
    #[error("{provider} needs a new authorisation: {reason}")]
    Reauth {
        provider: &'static str,
        reason: String,
    },
    /// The authenticated user lacks a permission or a scope the call needs.
    #[error("{provider} denied the call: {message}")]
    Forbidden {
        provider: &'static str,
        code: String,
        message: String,
    },
    /// The provider failed on its side (5xx). Retrying later may succeed.
    #[error("{provider} failed with HTTP {status}: {message}")]
    Unavailable {
        provider: &'static str,
        status: u16,
        message: String,
    },
    /// The request was refused as invalid; `field` names the culprit when the provider says.
    #[error("{provider} refused the input{}: {message}", field.as_ref().map(|f| format!(" (field {f})")).unwrap_or_default())]
    Invalid {
        provider: &'static str,
        code: String,
        field: Option<String>,
        message: String,
    },
    /// A write would create a duplicate of an existing record.
    #[error("{provider} already has this record ({existing_id})")]
    Duplicate {
        provider: &'static str,
        existing_id: String,
    },
    #[error("{provider}: {what} was not found")]
    NotFound {
        provider: &'static str,
        what: String,
    },
    /// Any other refusal that retrying cannot fix.
    #[error("{provider} refused the call with HTTP {status} {code}: {message}")]
    Permanent {
        provider: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// The provider answered something we could not read.
    #[error("{provider} answered an unexpected body: {message}")]
    Protocol {
        provider: &'static str,
        message: String,
    },
    /// The URL is not one of the hosts this provider is allowed to reach. This is what stops a
    /// token response from pointing renkei at an arbitrary `instance_url`.
    #[error("refusing to call {url}: not a host allowed for {provider}")]
    HostNotAllowed { provider: &'static str, url: String },
    /// renkei itself is not set up for this call (no client id configured, …).
    #[error("{0}")]
    Config(String),
}

impl ConnectorError {
    /// The error for a status no provider-specific rule claimed: 5xx is the provider's
    /// trouble (retryable), anything else a refusal retrying cannot fix.
    pub fn from_status(provider: &'static str, status: u16, code: String, message: String) -> Self {
        if (500..=599).contains(&status) {
            Self::Unavailable {
                provider,
                status,
                message,
            }
        } else {
            Self::Permanent {
                provider,
                status,
                code,
                message,
            }
        }
    }

    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. }
                | Self::Timeout { .. }
                | Self::RateLimited { .. }
                | Self::Unavailable { .. }
        )
    }

    /// Whether only a new consent by the account owner can fix this.
    pub fn needs_reauth(&self) -> bool {
        matches!(self, Self::Reauth { .. })
    }

    /// Whether a refresh of the access token is worth trying before giving up.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    /// Whether the provider might have processed the request although we did not get its
    /// answer. A writer that sees `true` must look for its record before writing again.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Self::Transport { sent, .. } => *sent,
            Self::Timeout { .. } => true,
            // A 502/504 comes from a proxy in front of the provider, which may have forwarded
            // the request before its upstream timed out.
            Self::Unavailable { status, .. } => *status == 502 || *status == 504,
            _ => false,
        }
    }

    /// How long the provider asked us to wait, if it said.
    /// The provider's HTTP status behind this error, when it answered at all.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::RateLimited { .. } => Some(429),
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::Unavailable { status, .. } => Some(*status),
            Self::Invalid { .. } => Some(400),
            Self::Duplicate { .. } => Some(409),
            Self::NotFound { .. } => Some(404),
            Self::Permanent { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stable snake_case code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Transport { .. } => "provider_unreachable",
            Self::Timeout { .. } => "provider_timeout",
            Self::RateLimited { .. } => "provider_rate_limited",
            Self::Unauthorized { .. } => "provider_unauthorized",
            Self::Reauth { .. } => "needs_reauth",
            Self::Forbidden { .. } => "provider_forbidden",
            Self::Unavailable { .. } => "provider_unavailable",
            Self::Invalid { .. } => "provider_invalid_input",
            Self::Duplicate { .. } => "provider_duplicate",
            Self::NotFound { .. } => "provider_not_found",
            Self::Permanent { .. } => "provider_error",
            Self::Protocol { .. } => "provider_protocol_error",
            Self::HostNotAllowed { .. } => "provider_host_not_allowed",
            Self::Config(_) => "provider_not_configured",
        }
    }
}
