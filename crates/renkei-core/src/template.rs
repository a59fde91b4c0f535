//! Settings templates: minijinja over an event's data, plain text out.
//!
//! Provisional: parsing and rendering only; the filters (`email_domain`, `e164`) arrive with
//! the settings work.

use minijinja::{Environment, UndefinedBehavior};

/// A template that parsed.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        env().template_from_str(src).map_err(|e| TemplateError {
            message: e.to_string(),
        })?;
        Ok(Template {
            src: src.to_owned(),
        })
    }

    pub fn render(&self, ctx: &serde_json::Value, _region: &str) -> Result<String, TemplateError> {
        let env = env();
        let t = env
            .template_from_str(&self.src)
            .map_err(|e| TemplateError {
                message: e.to_string(),
            })?;
        t.render(minijinja::value::Serde(ctx))
            .map_err(|e| TemplateError {
                message: e.to_string(),
            })
    }
}

pub fn render(src: &str, ctx: &serde_json::Value, region: &str) -> Result<String, TemplateError> {
    Template::parse(src)?.render(ctx, region)
}
