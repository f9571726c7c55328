//! IAM: roles (trust policy, managed and inline policies, instance profile, tags) under the path
//! `/containrlab/`, and GitHub Actions' OIDC provider when a role trusts it.
//!
//! Observe: each declared role by name and every role under the path (to find the stack's roles
//! the file no longer names), then each found role's policies and instance profile, concurrently.
//! Policy documents are compared in canonical form (`diff::normalize::policy_document`): AWS
//! returns them URL-encoded and reordered. An OIDC provider that exists without this stack's tags
//! is used, never changed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_iam::Client;
use serde_json::Value;

use crate::aws::{concurrent, describe, Clients};
use crate::diff::normalize::{canonical_policy, policy_document};
use crate::diff::FieldDiff;
use crate::model::iam::{resolve_document, Iam, Role, Trust, GITHUB_OIDC_HOST};
use crate::model::tags::{owner, Owner, Tags};
use crate::model::{Address, Kind};
use crate::plan::build::{diff_kind, ObservedResource, PlanContext, ServiceDiff};
use crate::plan::{Action, Plan};

use super::kit::{Ids, Observed, CONCURRENCY};
use super::tags;

pub use crate::model::iam::ROLE_PATH;

/// GitHub's OIDC certificate thumbprints (AWS no longer checks them for GitHub, the API still asks).
const GITHUB_THUMBPRINTS: [&str; 2] =
    ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"];

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

pub fn diff(
    ctx: &PlanContext,
    desired: Option<&Iam>,
    observed: &ObservedIam,
    account: &str,
    region: &str,
    plan: &mut Plan,
) {
    let Some(d) = desired else {
        let none: &[Role] = &[];
        diff_roles(ctx, none, observed, account, region, plan);
        diff_kind(ctx, oidc_spec(), &[] as &[String], &observed.oidc.iter().cloned().collect::<Vec<_>>(), plan);
        return;
    };
    // The provider: a resource only when this stack creates it (or created it before).
    let owned =
        observed.oidc.iter().filter(|p| owner(&ctx.stack, &p.tags) == Owner::ThisStack).cloned().collect::<Vec<_>>();
    let wanted: Vec<String> = if d.github_oidc && (observed.oidc.is_none() || !owned.is_empty()) {
        vec![GITHUB_OIDC_HOST.to_string()]
    } else {
        vec![]
    };
    diff_kind(ctx, oidc_spec(), &wanted, &owned, plan);
    diff_roles(ctx, &d.roles, observed, account, region, plan);
}

fn oidc_spec() -> ServiceDiff<'static, String, OidcProvider> {
    fn fields(_: &String, o: Option<&OidcProvider>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.field(
            "url",
            o.map(|_| Some(format!("https://{GITHUB_OIDC_HOST}"))),
            Some(format!("https://{GITHUB_OIDC_HOST}")),
        );
        f.tags(o.map(|o| &o.tags), tags);
        f
    }
    ServiceDiff {
        kind: Kind::IamOidcProvider,
        desired_name: |s: &String| s.as_str(),
        fields: &fields,
        replace_on: &[],
        depends_on: &|_| vec![],
    }
}

fn diff_roles(ctx: &PlanContext, roles: &[Role], observed: &ObservedIam, account: &str, region: &str, plan: &mut Plan) {
    let fields = |d: &Role, o: Option<&Observed<RoleFields>>, tags: &Tags| {
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        let trust = canonical_policy(&d.trust.document(account));
        f.field("trust_policy", of.map(|o| o.trust.clone()), Some(trust));
        f.field("description", of.map(|o| o.description.clone()), d.description.clone());
        f.members("managed_policies", of.map(|o| &o.managed), &d.managed_policies);
        let names: BTreeSet<&String> =
            d.inline_policies.keys().chain(of.iter().flat_map(|o| o.inline.keys())).collect();
        for name in names {
            let want = d.inline_policies.get(name).map(|doc| canonical_policy(&resolve_document(doc, account, region)));
            f.field(&format!("inline_policies.{name}"), of.map(|o| o.inline.get(name).cloned()), want);
        }
        f.field("instance_profile", of.map(|o| Some(o.instance_profile)), Some(d.instance_profile));
        f.tags(o.map(|o| &o.tags), tags);
        f
    };
    let deps = |d: &Role| match d.trust {
        Trust::Github { .. } => vec![Address::new(Kind::IamOidcProvider, GITHUB_OIDC_HOST)],
        Trust::Services(_) => vec![],
    };
    let spec = ServiceDiff {
        kind: Kind::IamRole,
        desired_name: |r: &Role| &r.name,
        fields: &fields,
        replace_on: &[],
        depends_on: &deps,
    };
    diff_kind(ctx, spec, roles, &observed.roles, plan);
    for c in plan.changes.iter_mut().filter(|c| c.address.kind == Kind::IamRole) {
        // New trust or permissions change who can do what.
        c.widens_access |= c.fields.iter().any(|f| {
            f.path == "trust_policy" || f.path.starts_with("inline_policies.") || f.path == "managed_policies"
        });
    }
}

fn err(what: &str, address: &Address, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow::anyhow!("{what} {address}: {}", describe(e))
}

#[allow(clippy::too_many_arguments)]
pub async fn apply(
    clients: &Clients,
    ctx: &PlanContext,
    desired: Option<&Iam>,
    observed: &ObservedIam,
    account: &str,
    region: &str,
    ids: &Ids,
    action: Action,
    address: &Address,
) -> Result<()> {
    let iam = &clients.iam;
    let tags = ctx.tags(address);
    if address.kind == Kind::IamOidcProvider {
        return match action {
            Action::Delete => {
                match iam.delete_open_id_connect_provider().open_id_connect_provider_arn(ids.get(address)?).send().await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(()),
                    Err(e) => Err(err("deleting", address, &e)),
                }
            }
            Action::Update => {
                let have = observed.oidc.as_ref().map(|p| p.tags.clone()).unwrap_or_default();
                tags::sync_iam_oidc(iam, address, &ids.get(address)?, &have, &tags).await
            }
            Action::Create | Action::Replace => {
                let out = iam
                    .create_open_id_connect_provider()
                    .url(format!("https://{GITHUB_OIDC_HOST}"))
                    .client_id_list("sts.amazonaws.com")
                    .set_thumbprint_list(Some(GITHUB_THUMBPRINTS.iter().map(|t| t.to_string()).collect()))
                    .set_tags(Some(tags::iam(&tags)))
                    .send()
                    .await
                    .map_err(|e| err("creating", address, &e))?;
                ids.set(address, out.open_id_connect_provider_arn().unwrap_or_default());
                Ok(())
            }
        };
    }
    let name = address.name.as_str();
    let o = observed.roles.iter().find(|r| r.name == name).map(|r| &r.fields);
    let d = desired.and_then(|d| d.roles.iter().find(|r| r.name == name)).filter(|_| action != Action::Delete);
    let Some(d) = d else { return delete_role(iam, o, address).await };
    let empty = RoleFields::default();
    let current = match (action, o) {
        (Action::Update, Some(o)) => o,
        _ => {
            let trust = d.trust.document(account).to_string();
            let out = iam
                .create_role()
                .role_name(name)
                .path(ROLE_PATH)
                .assume_role_policy_document(trust)
                .set_description(d.description.clone())
                .set_tags(Some(tags::iam(&tags)))
                .send()
                .await
                .map_err(|e| err("creating", address, &e))?;
            ids.set(address, out.role().map(|r| r.arn()).unwrap_or_default());
            &empty
        }
    };
    if action == Action::Update {
        let trust = canonical_policy(&d.trust.document(account));
        if current.trust.as_ref() != Some(&trust) {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(d.trust.document(account).to_string())
                .send()
                .await
                .map_err(|e| err("updating the trust policy of", address, &e))?;
        }
        if current.description != d.description {
            iam.update_role()
                .role_name(name)
                .description(d.description.clone().unwrap_or_default())
                .send()
                .await
                .map_err(|e| err("updating", address, &e))?;
        }
        let have = observed.roles.iter().find(|r| r.name == name).map(|r| r.tags.clone()).unwrap_or_default();
        tags::sync_iam_role(iam, address, name, &have, &tags).await?;
    }
    let inline: BTreeMap<String, Value> = d
        .inline_policies
        .iter()
        .map(|(policy, doc)| (policy.clone(), resolve_document(doc, account, region)))
        .collect();
    sync_policies(iam, current, &d.managed_policies, &inline, address).await?;
    match (d.instance_profile, current.instance_profile) {
        (true, false) => {
            match iam
                .create_instance_profile()
                .instance_profile_name(name)
                .path(ROLE_PATH)
                .set_tags(Some(tags::iam(&tags)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|s| s.is_entity_already_exists_exception()) => {}
                Err(e) => return Err(err("creating the instance profile of", address, &e)),
            }
            iam.add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(name)
                .send()
                .await
                .map_err(|e| err("adding the role to the instance profile of", address, &e))?;
        }
        (false, true) => remove_instance_profile(iam, name, address).await?,
        _ => {}
    }
    Ok(())
}

async fn remove_instance_profile(iam: &Client, name: &str, address: &Address) -> Result<()> {
    fn gone<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &E) -> bool {
        e.code() == Some("NoSuchEntity")
    }
    match iam.remove_role_from_instance_profile().instance_profile_name(name).role_name(name).send().await {
        Ok(_) => {}
        Err(e) if gone(&e) => {}
        Err(e) => return Err(err("removing the role from the instance profile of", address, &e)),
    }
    match iam.delete_instance_profile().instance_profile_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(err("deleting the instance profile of", address, &e)),
    }
}

/// Brings a role's managed and inline policies from `current` to `managed` and `inline` (documents
/// resolved, not yet canonical): attaches, detaches, writes what differs, deletes what is not wanted.
async fn sync_policies(
    iam: &Client,
    current: &RoleFields,
    managed: &BTreeSet<String>,
    inline: &BTreeMap<String, Value>,
    address: &Address,
) -> Result<()> {
    let name = address.name.as_str();
    for arn in managed.difference(&current.managed) {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| err(&format!("attaching {arn} to"), address, &e))?;
    }
    for arn in current.managed.difference(managed) {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| err(&format!("detaching {arn} from"), address, &e))?;
    }
    for (policy, doc) in inline {
        if current.inline.get(policy) != Some(&canonical_policy(doc)) {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(doc.to_string())
                .send()
                .await
                .map_err(|e| err(&format!("writing inline policy {policy} of"), address, &e))?;
        }
    }
    for policy in current.inline.keys().filter(|p| !inline.contains_key(*p)) {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| err(&format!("deleting inline policy {policy} of"), address, &e))?;
    }
    Ok(())
}

/// Policies and the instance profile go first: IAM refuses to delete a role that still has them.
async fn delete_role(iam: &Client, current: Option<&RoleFields>, address: &Address) -> Result<()> {
    let name = address.name.as_str();
    if let Some(c) = current {
        sync_policies(iam, c, &BTreeSet::new(), &BTreeMap::new(), address).await?;
        if c.instance_profile {
            remove_instance_profile(iam, name, address).await?;
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Ok(()),
        Err(e) => Err(err("deleting", address, &e)),
    }
}
