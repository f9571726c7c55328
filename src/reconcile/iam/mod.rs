//! IAM: roles (`role`: trust policy, managed and inline policies, instance profile, tags) under the
//! path `/containrlab/`, and GitHub Actions' OIDC provider (`oidc_provider`) when a role trusts it.
//!
//! Observe: each declared role by name and every role under the path (to find the stack's roles
//! the file no longer names), then each found role's policies and instance profile, concurrently.
//! Policy documents are compared in canonical form (`diff::normalize::policy_document`): AWS
//! returns them URL-encoded and reordered. An OIDC provider that exists without this stack's tags
//! is used, never changed.

mod oidc_provider;
mod role;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_iam::Client;
use serde_json::Value;

use crate::aws::{concurrent, describe, Clients};
use crate::diff::normalize::policy_document;
use crate::model::iam::{Iam, GITHUB_OIDC_HOST};
use crate::model::tags::{owner, Owner, Tags};
use crate::plan::build::ObservedResource;

use super::kit::{Observed, CONCURRENCY};
use super::tags;

pub use crate::model::iam::ROLE_PATH;

pub use oidc_provider::IamOidcProvider;
pub use role::IamRole;

#[derive(Debug, Clone, Default)]
pub struct RoleFields {
    pub trust: Option<Value>,
    pub description: Option<String>,
    pub managed: BTreeSet<String>,
    pub inline: BTreeMap<String, Value>,
    pub instance_profile: bool,
}

/// GitHub's OIDC provider, when the account has one.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    pub arn: String,
    pub tags: Tags,
}

impl ObservedResource for OidcProvider {
    fn name(&self) -> &str {
        GITHUB_OIDC_HOST
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
}

#[derive(Debug, Clone, Default)]
pub struct ObservedIam {
    pub roles: Vec<Observed<RoleFields>>,
    pub oidc: Option<OidcProvider>,
}

pub async fn observe(clients: &Clients, stack: &str, desired: Option<&Iam>) -> Result<ObservedIam> {
    let iam = &clients.iam;
    let declared: Vec<String> = desired.map(|d| d.roles.iter().map(|r| r.name.clone()).collect()).unwrap_or_default();
    let listed = async {
        iam.list_roles()
            .path_prefix(ROLE_PATH)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| anyhow::anyhow!("listing IAM roles under {ROLE_PATH}: {}", describe(&e)))
    };
    let (listed, oidc) = tokio::try_join!(listed, oidc_provider(iam))?;
    let mut names: BTreeSet<String> = declared.into_iter().collect();
    names.extend(listed.iter().map(|r| r.role_name().to_string()));
    let roles = concurrent(names, CONCURRENCY, |name| async move { role(iam, stack, &name).await }).await;
    let roles = roles.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
    Ok(ObservedIam { roles, oidc })
}

/// One role with its policies (read only when it is this stack's) — `None` when it does not exist.
async fn role(iam: &Client, stack: &str, name: &str) -> Result<Option<Observed<RoleFields>>> {
    let got = match iam.get_role().role_name(name).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => return Ok(None),
        Err(e) => bail!("reading IAM role {name}: {}", describe(&e)),
    };
    let Some(r) = got.role() else { return Ok(None) };
    let tags = tags::from_iam(r.tags());
    let mut fields = RoleFields {
        trust: r.assume_role_policy_document().and_then(policy_document),
        description: r.description().map(str::to_string).filter(|d| !d.is_empty()),
        ..RoleFields::default()
    };
    if owner(stack, &tags) == Owner::ThisStack {
        let err = |what: &str, e: &(dyn std::error::Error + 'static)| {
            anyhow::anyhow!("reading the {what} of IAM role {name}: {}", describe(e))
        };
        let attached = async {
            iam.list_attached_role_policies().role_name(name).send().await.map_err(|e| err("managed policies", &e))
        };
        let inline = async {
            let names =
                iam.list_role_policies().role_name(name).send().await.map_err(|e| err("inline policies", &e))?;
            let docs = concurrent(names.policy_names().to_vec(), CONCURRENCY, |policy| async move {
                let out = iam
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(&policy)
                    .send()
                    .await
                    .map_err(|e| err("inline policies", &e))?;
                Ok::<_, anyhow::Error>((policy, policy_document(out.policy_document()).unwrap_or(Value::Null)))
            })
            .await;
            docs.into_iter().collect::<Result<BTreeMap<_, _>>>()
        };
        let profile = async {
            match iam.get_instance_profile().instance_profile_name(name).send().await {
                Ok(out) => Ok(out.instance_profile().is_some_and(|p| p.roles().iter().any(|r| r.role_name() == name))),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(false),
                Err(e) => Err(err("instance profile", &e)),
            }
        };
        let (attached, inline, profile) = tokio::try_join!(attached, inline, profile)?;
        fields.managed =
            attached.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect();
        fields.inline = inline;
        fields.instance_profile = profile;
    }
    Ok(Some(Observed { name: name.to_string(), id: r.arn().to_string(), tags, fields }))
}

async fn oidc_provider(iam: &Client) -> Result<Option<OidcProvider>> {
    let list = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("listing OIDC providers: {}", describe(&e)))?;
    let Some(arn) =
        list.open_id_connect_provider_list().iter().filter_map(|p| p.arn()).find(|a| a.ends_with(GITHUB_OIDC_HOST))
    else {
        return Ok(None);
    };
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading OIDC provider {arn}: {}", describe(&e)))?;
    Ok(Some(OidcProvider { arn: arn.to_string(), tags: tags::from_iam(got.tags()) }))
}
