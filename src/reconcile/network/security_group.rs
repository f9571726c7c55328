//! `security_group.NAME`: a security group in the stack's VPC. Its rules are a resource of their
//! own (`security_group_rules`), so groups that refer to each other are all created first and
//! wired up after. A new description replaces it (AWS cannot change one).

use anyhow::Result;
use aws_sdk_ec2::types::ResourceType;

use super::{drain, vpc_id, Observed, SecurityGroupFields};
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::network::SecurityGroup as Desired;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct SecurityGroup;

const DESCRIPTION: Path = Path::field("description");

impl Resource for SecurityGroup {
    const KIND: Kind = Kind::SecurityGroup;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[DESCRIPTION, TAGS];
    const REPLACE_ON: &'static [Path] = &[DESCRIPTION];
    type Desired = Desired;
    type Observed = Observed<SecurityGroupFields>;

    fn usage(_: &crate::model::desired::Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Desired> {
        cx.desired.network.iter().flat_map(|n| n.security_groups.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<SecurityGroupFields>> {
        cx.observed.network.security_groups.clone()
    }

    fn name(d: &Desired) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &Desired, o: Option<&Observed<SecurityGroupFields>>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.field(DESCRIPTION, o.map(|o| Some(o.fields.description.clone())), Some(d.description.clone()));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(cx: &DiffCx<'_>, _: &Desired) -> Vec<Address> {
        vec![Address::new(Kind::Vpc, &cx.ctx.stack)]
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, d: &Desired, _: Option<&Self::Observed>) -> Result<String> {
        let request = cx
            .clients
            .ec2
            .create_security_group()
            .group_name(&d.name)
            .description(&d.description)
            .vpc_id(vpc_id(cx)?)
            .tag_specifications(tags::ec2_spec(ResourceType::SecurityGroup, &cx.tags(address)));
        // A VPC made moments ago may not be visible yet (`vpc-visible`).
        let create = || async {
            crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ec2()).send())
                .await
                .map_err(|e| failed("creating", address, &e))
        };
        let out = crate::aws::consistency::retry(Call::Ec2CreateSecurityGroup, address, create).await?;
        Ok(required(out.group_id(), "creating", address, "groupId")?.to_string())
    }

    /// Every field but the tags forces a replacement (`REPLACE_ON`) and the tags are the
    /// runner's: nothing is changed in place.
    async fn update(
        _: &ApplyCx<'_>,
        _: &Address,
        _: &Desired,
        _: &Observed<SecurityGroupFields>,
        _: &Delta<'_>,
    ) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<SecurityGroupFields>) -> Result<()> {
        let ec2 = &cx.clients.ec2;
        let delete = || async {
            ec2.delete_security_group().group_id(&o.id).send().await.map_err(|e| failed("deleting", address, &e))
        };
        drain(Call::Ec2DeleteSecurityGroup, address, "group-id", &o.id, ec2, delete).await
    }
}
