//! From a checked stack file to desired resources.
//!
//! The only input beyond the file is `env`, which supplies SecureString values; nothing read
//! from it is ever formatted into a message.

use crate::model::desired::{Desired, LogGroup, Parameter, ParameterValue, Repository};
use crate::model::secret::Secret;

use super::schema::{ParameterType, TagMutability};
use super::Stack;

pub fn resolve(stack: &Stack, env: &dyn Fn(&str) -> Option<String>) -> Desired {
    let f = &stack.file;
    let repositories = f
        .ecr
        .repositories
        .iter()
        .map(|(name, r)| Repository {
            name: name.clone(),
            scan_on_push: r.scan_on_push,
            tag_mutability: match r.tag_mutability {
                TagMutability::Mutable => "MUTABLE".into(),
                TagMutability::Immutable => "IMMUTABLE".into(),
            },
            keep_last_images: r.keep_last_images.as_ref().map(|k| k.value),
        })
        .collect();
    let parameters = f
        .ssm
        .parameters
        .iter()
        .map(|(name, p)| Parameter {
            name: name.clone(),
            description: p.description.clone(),
            value: match p.kind {
                ParameterType::String => {
                    ParameterValue::Plain(p.value.as_ref().map(|v| v.value.clone()).unwrap_or_default())
                }
                ParameterType::SecureString => {
                    let env_var = p.value_from_env.as_ref().map(|v| v.value.clone()).unwrap_or_default();
                    let value = env(&env_var).filter(|v| !v.is_empty()).map(Secret::new);
                    ParameterValue::Secret { env_var, value }
                }
            },
        })
        .collect();
    let log_groups = f
        .logs
        .groups
        .iter()
        .map(|(name, g)| LogGroup { name: name.clone(), retention_days: g.retention_days.as_ref().map(|d| d.value) })
        .collect();
    Desired { stack: f.stack.value.clone(), tags: f.tags.clone(), repositories, parameters, log_groups }
}
