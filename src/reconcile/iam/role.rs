//! `iam_role.NAME`: a role under `/containrlab/` with its trust policy (services, or GitHub Actions
//! through the OIDC provider), managed and inline policies, description, tags and (for the runner)
//! an instance profile of the same name. Policy documents are compared in canonical form
//! (`diff::normalize::canonical_policy`): AWS returns them URL-encoded and reordered. New trust or
//! permissions count as widening access.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_iam::Client;
use serde_json::Value;

use super::{RoleFields, ROLE_PATH};
use crate::aws::consistency;
use crate::aws::error::{failed as fail, required};
use crate::aws::Clients;
use crate::diff::normalize::canonical_policy;
use crate::diff::{Delta, FieldChange, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::iam::{resolve_document, Role, Trust, GITHUB_OIDC_HOST};
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{gone_is_done, ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::Observed;
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct IamRole;

const TRUST_POLICY: Path = Path::field("trust_policy");
const DESCRIPTION: Path = Path::field("description");
const MANAGED_POLICIES: Path = Path::field("managed_policies");
const INLINE_POLICIES: Path = Path::group("inline_policies");
const INSTANCE_PROFILE: Path = Path::field("instance_profile");

impl Resource for IamRole {
    const KIND: Kind = Kind::IamRole;
    const GROUP: Group = Group::Iam;
    const FIELDS: &'static [Path] =
        &[TRUST_POLICY, DESCRIPTION, MANAGED_POLICIES, INLINE_POLICIES, INSTANCE_PROFILE, TAGS];
    type Desired = Role;
    type Observed = Observed<RoleFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Role> {
        cx.desired.iam.iter().flat_map(|i| i.roles.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<RoleFields>> {
        cx.observed.iam.roles.clone()
    }

    fn name(d: &Role) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &Role, o: Option<&Observed<RoleFields>>, tags: &Tags) -> FieldDiff {
        let (account, region) = (cx.ctx.account.as_str(), cx.ctx.region.as_str());
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(TRUST_POLICY, of.map(|o| o.trust.clone()), Some(canonical_policy(&d.trust.document(account))));
        f.field(DESCRIPTION, of.map(|o| o.description.clone()), d.description.clone());
        f.members(MANAGED_POLICIES, of.map(|o| &o.managed), &d.managed_policies);
        let names: BTreeSet<&String> =
            d.inline_policies.keys().chain(of.iter().flat_map(|o| o.inline.keys())).collect();
        for name in names {
            let want = d.inline_policies.get(name).map(|doc| canonical_policy(&resolve_document(doc, account, region)));
            f.field(INLINE_POLICIES.at(name), of.map(|o| o.inline.get(name).cloned()), want);
        }
        f.field(INSTANCE_PROFILE, of.map(|o| Some(o.instance_profile)), Some(d.instance_profile));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &Role) -> Vec<Address> {
        match d.trust {
            Trust::Github { .. } => vec![Address::new(Kind::IamOidcProvider, GITHUB_OIDC_HOST)],
            Trust::Services(_) => vec![],
        }
    }

    /// New trust or permissions change who can do what.
    fn widens_access(fields: &[FieldChange]) -> bool {
        fields.iter().any(|f| f.is(TRUST_POLICY) || f.is(INLINE_POLICIES) || f.is(MANAGED_POLICIES))
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.name
    }

    async fn tag(clients: &Clients, address: &Address, _: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_iam_role(&clients.iam, address, &address.name, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Role, _: Option<&Self::Observed>) -> Result<String> {
        let iam = &cx.clients.iam;
        // A trust naming a principal made moments ago (the OIDC provider) is refused until IAM
        // sees it (`trust-principal`).
        let create = || async {
            iam.create_role()
                .role_name(&d.name)
                .path(ROLE_PATH)
                .assume_role_policy_document(d.trust.document(&cx.ctx.account).to_string())
                .set_description(d.description.clone())
                .set_tags(Some(tags::iam(&cx.tags(address))))
                .send()
                .await
                .map_err(|e| fail("creating", address, &e))
        };
        let out = consistency::retry(Call::IamCreateRole, address, create).await?;
        let arn = required(out.role().map(|r| r.arn()), "creating", address, "role.arn")?.to_string();
        cx.ids.set(address, &arn);
        let none = RoleFields::default();
        sync_policies(iam, &none, &d.managed_policies, &inline(cx, d), address).await?;
        if d.instance_profile {
            add_instance_profile(cx, address, d).await?;
        }
        Ok(arn)
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Role,
        o: &Observed<RoleFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let iam = &cx.clients.iam;
        if delta.has(TRUST_POLICY) {
            let update = || async {
                iam.update_assume_role_policy()
                    .role_name(&d.name)
                    .policy_document(d.trust.document(&cx.ctx.account).to_string())
                    .send()
                    .await
                    .map_err(|e| fail("updating the trust policy of", address, &e))
            };
            consistency::retry(Call::IamUpdateAssumeRolePolicy, address, update).await?;
        }
        if delta.has(DESCRIPTION) {
            iam.update_role()
                .role_name(&d.name)
                .description(d.description.clone().unwrap_or_default())
                .send()
                .await
                .map_err(|e| fail("updating", address, &e))?;
        }
        if delta.has(MANAGED_POLICIES) | delta.has(INLINE_POLICIES) {
            sync_policies(iam, &o.fields, &d.managed_policies, &inline(cx, d), address).await?;
        }
        if delta.has(INSTANCE_PROFILE) {
            match d.instance_profile {
                true => add_instance_profile(cx, address, d).await?,
                false => remove_instance_profile(iam, &d.name, address).await?,
            }
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<RoleFields>) -> Result<()> {
        delete_role(&cx.clients.iam, &o.fields, address).await
    }
}

/// The role's inline policies, placeholders resolved (not yet canonical).
fn inline(cx: &ApplyCx<'_>, d: &Role) -> BTreeMap<String, Value> {
    let (account, region) = (cx.ctx.account.as_str(), cx.ctx.region.as_str());
    d.inline_policies.iter().map(|(policy, doc)| (policy.clone(), resolve_document(doc, account, region))).collect()
}

/// Creates the instance profile of the role's name (already there is fine) and adds the role.
async fn add_instance_profile(cx: &ApplyCx<'_>, address: &Address, d: &Role) -> Result<()> {
    let iam = &cx.clients.iam;
    let created = iam
        .create_instance_profile()
        .instance_profile_name(&d.name)
        .path(ROLE_PATH)
        .set_tags(Some(tags::iam(&cx.tags(address))))
        .send()
        .await;
    match created {
        Err(e) if crate::aws::error::kind(&e) != crate::aws::error::ErrorKind::AlreadyExists => {
            return Err(fail("creating the instance profile of", address, &e))
        }
        _ => {}
    }
    // The role and profile made moments ago may not be visible to IAM yet (`instance-profile-role`).
    let request = iam.add_role_to_instance_profile().instance_profile_name(&d.name).role_name(&d.name);
    let add = || async {
        crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::iam()).send())
            .await
            .map_err(|e| fail("adding the role to the instance profile of", address, &e))
    };
    consistency::retry(Call::IamAddRoleToInstanceProfile, address, add).await?;
    Ok(())
}

async fn remove_instance_profile(iam: &Client, name: &str, address: &Address) -> Result<()> {
    let removed = iam.remove_role_from_instance_profile().instance_profile_name(name).role_name(name).send().await;
    gone_is_done(removed.map(drop).map_err(|e| fail("removing the role from the instance profile of", address, &e)))?;
    let deleted = iam.delete_instance_profile().instance_profile_name(name).send().await;
    gone_is_done(deleted.map(drop).map_err(|e| fail("deleting the instance profile of", address, &e)))
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
            .map_err(|e| fail(&format!("attaching {arn} to"), address, &e))?;
    }
    for arn in current.managed.difference(managed) {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| fail(&format!("detaching {arn} from"), address, &e))?;
    }
    for (policy, doc) in inline {
        if current.inline.get(policy) != Some(&canonical_policy(doc)) {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(doc.to_string())
                .send()
                .await
                .map_err(|e| fail(&format!("writing inline policy {policy} of"), address, &e))?;
        }
    }
    for policy in current.inline.keys().filter(|p| !inline.contains_key(*p)) {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| fail(&format!("deleting inline policy {policy} of"), address, &e))?;
    }
    Ok(())
}

/// Policies and the instance profile go first: IAM refuses to delete a role that still has them.
async fn delete_role(iam: &Client, current: &RoleFields, address: &Address) -> Result<()> {
    let name = address.name.as_str();
    sync_policies(iam, current, &BTreeSet::new(), &BTreeMap::new(), address).await?;
    if current.instance_profile {
        remove_instance_profile(iam, name, address).await?;
    }
    iam.delete_role().role_name(name).send().await.map_err(|e| fail("deleting", address, &e))?;
    Ok(())
}
