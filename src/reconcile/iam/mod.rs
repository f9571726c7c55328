//! IAM: roles (`role`: trust policy, managed and inline policies, instance profile, tags) under the
//! path `/containrlab/`, and GitHub Actions' OIDC provider (`oidc_provider`) when a role trusts it.
//!
//! Observe, in one round: every role of the account with its trust, managed and inline policies,
//! instance profiles and tags (`GetAccountAuthorizationDetails`, paginated), the roles under the
//! path (`ListRoles`: the descriptions, and the stack's roles the file no longer names), and the
//! OIDC provider. The declared roles and those under the path are kept.
//! Policy documents are compared in canonical form (`diff::normalize::policy_document`): AWS
//! returns them URL-encoded and reordered. An OIDC provider that exists without this stack's tags
//! is used, never changed.

mod oidc_provider;
mod role;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_iam::types::{EntityType, RoleDetail};
use aws_sdk_iam::Client;
use serde_json::Value;

use crate::aws::{describe, Clients};
use crate::diff::normalize::policy_document;
use crate::model::iam::{Iam, GITHUB_OIDC_HOST};
use crate::model::tags::Tags;
use crate::plan::build::ObservedResource;

use super::kit::Observed;
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

pub async fn observe(clients: &Clients, desired: Option<&Iam>) -> Result<ObservedIam> {
    let iam = &clients.iam;
    let declared: BTreeSet<String> =
        desired.map(|d| d.roles.iter().map(|r| r.name.clone()).collect()).unwrap_or_default();
    // Roles under the path (ListRoles: their descriptions, which the authorization details lack)
    // and every role with its trust, policies, instance profiles and tags, in one paginated call.
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
    let details = async {
        let pages = iam
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| anyhow::anyhow!("reading the account's IAM roles: {}", describe(&e)))?;
        Ok::<_, anyhow::Error>(
            pages.into_iter().flat_map(|p| p.role_detail_list.unwrap_or_default()).collect::<Vec<_>>(),
        )
    };
    let (listed, details, oidc) = tokio::try_join!(listed, details, oidc_provider(clients))?;
    let descriptions: BTreeMap<&str, Option<&str>> =
        listed.iter().map(|r| (r.role_name(), r.description().filter(|d| !d.is_empty()))).collect();
    let mut roles = Vec::new();
    for detail in &details {
        let Some(name) = detail.role_name() else { continue };
        if !declared.contains(name) && !descriptions.contains_key(name) {
            continue;
        }
        let description = match descriptions.get(name) {
            Some(d) => d.map(str::to_string),
            // A role of this stack outside the path (tagged by hand): read on its own.
            None => description(iam, name).await?,
        };
        roles.push(role(detail, description));
    }
    Ok(ObservedIam { roles, oidc })
}

/// One role from the account's authorization details, with its policies and instance profile
/// whoever owns it (they come in the same answer): another's role is a conflict, shown by owner
/// alone, and an unowned one's fields are what `adopt` shows as drift.
fn role(r: &RoleDetail, description: Option<String>) -> Observed<RoleFields> {
    let name = r.role_name().unwrap_or_default();
    let tags = tags::from_iam(r.tags());
    let fields = RoleFields {
        trust: r.assume_role_policy_document().and_then(policy_document),
        description,
        managed: r.attached_managed_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect(),
        inline: r
            .role_policy_list()
            .iter()
            .filter_map(|p| {
                let doc = p.policy_document().and_then(policy_document).unwrap_or(Value::Null);
                Some((p.policy_name()?.to_string(), doc))
            })
            .collect(),
        instance_profile: r.instance_profile_list().iter().any(|p| p.instance_profile_name() == name),
    };
    Observed { name: name.to_string(), id: r.arn().unwrap_or_default().to_string(), tags, fields }
}

/// The description of one role (`GetRole`), for a role outside the path.
async fn description(iam: &Client, name: &str) -> Result<Option<String>> {
    let got = iam.get_role().role_name(name).send().await;
    let got = got.map_err(|e| anyhow::anyhow!("reading IAM role {name}: {}", describe(&e)))?;
    Ok(got.role().and_then(|r| r.description()).filter(|d| !d.is_empty()).map(str::to_string))
}

async fn oidc_provider(clients: &Clients) -> Result<Option<OidcProvider>> {
    // Its ARN is fixed by the account and the host (one provider per URL per account): read it
    // directly, no listing of the account's providers first.
    let identity = clients.identity().await?;
    let arn = format!("arn:{}:iam::{}:oidc-provider/{GITHUB_OIDC_HOST}", identity.partition(), identity.account);
    let got = clients.iam.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await;
    match got {
        Ok(got) => Ok(Some(OidcProvider { arn, tags: tags::from_iam(got.tags()) })),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("reading OIDC provider {arn}: {}", describe(&e))),
    }
}
