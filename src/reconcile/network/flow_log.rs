//! `flow_log.NAME`: the VPC's flow log, delivered to a CloudWatch log group with an IAM role
//! (Security Hub EC2.6). Named after the VPC; observed with the network (`DescribeFlowLogs` by
//! this stack's tag, in the same round as the other listings).
//!
//! Invariants: a flow log cannot be modified, only its tags: any other difference replaces it
//! (delete, then create; a VPC may hold both for the moment between). `CreateFlowLogs` carries a
//! client token, so the SDK's retry of a lost answer makes no second flow log; AWS answers some
//! refusals inside a successful response (`Unsuccessful`), which are errors here. A flow log
//! already gone (deleted with its VPC, by hand) is a delete done.

use anyhow::{bail, Result};
use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType, UnsuccessfulItem};

use super::{FlowLogFields, Observed};
use crate::aws::consistency;
use crate::aws::error::failed;
use crate::aws::Clients;
use crate::diff::{foreign, Delta, FieldDiff, Path, TAGS};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::network::FlowLog as DesiredFlowLog;
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct FlowLog;

const VPC: Path = Path::field("vpc");
const TRAFFIC: Path = Path::field("traffic");
const LOG_GROUP: Path = Path::field("log_group");
const ROLE: Path = Path::field("role");
const AGGREGATION: Path = Path::field("max_aggregation_seconds");

impl Resource for FlowLog {
    const KIND: Kind = Kind::FlowLog;
    const GROUP: Group = Group::Network;
    const FIELDS: &'static [Path] = &[VPC, TRAFFIC, LOG_GROUP, ROLE, AGGREGATION, TAGS];
    const REPLACE_ON: &'static [Path] = &[VPC, TRAFFIC, LOG_GROUP, ROLE, AGGREGATION];
    type Desired = DesiredFlowLog;
    type Observed = Observed<FlowLogFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredFlowLog> {
        cx.desired.network.iter().filter_map(|n| n.flow_log.clone()).collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<FlowLogFields>> {
        cx.observed.network.flow_logs.clone()
    }

    fn name(d: &DesiredFlowLog) -> &str {
        &d.name
    }

    fn fields(cx: &DiffCx<'_>, d: &DesiredFlowLog, o: Option<&Observed<FlowLogFields>>, tags: &Tags) -> FieldDiff {
        let vpcs = cx.ids.names(Kind::Vpc);
        let roles = cx.ids.names(Kind::IamRole);
        let mut f = FieldDiff::default();
        let vpc = |o: &Observed<FlowLogFields>| {
            vpcs.get(&o.fields.vpc_id).map(|n| format!("vpc.{n}")).unwrap_or_else(|| foreign(&o.fields.vpc_id))
        };
        f.field(VPC, o.map(|o| Some(vpc(o))), Some(format!("vpc.{}", d.name)));
        f.field(TRAFFIC, o.map(|o| Some(o.fields.traffic.clone())), Some(d.traffic.clone()));
        f.field(LOG_GROUP, o.map(|o| Some(o.fields.log_group.clone())), Some(d.log_group.clone()));
        let role = |o: &Observed<FlowLogFields>| {
            let arn = &o.fields.role_arn;
            roles.get(arn).map(|n| format!("iam_role.{n}")).unwrap_or_else(|| foreign(arn))
        };
        f.field(ROLE, o.map(|o| Some(role(o))), Some(format!("iam_role.{}", d.role)));
        let seconds = d.max_aggregation_seconds;
        f.field(AGGREGATION, o.map(|o| Some(o.fields.max_aggregation_seconds)), Some(seconds));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredFlowLog) -> Vec<Address> {
        vec![
            Address::new(Kind::Vpc, &d.name),
            Address::new(Kind::IamRole, &d.role),
            Address::new(Kind::LogGroup, &d.log_group),
        ]
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.id
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ec2(&clients.ec2, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredFlowLog,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let vpc = cx.ids.get(&Address::new(Kind::Vpc, &d.name))?;
        let role = cx.ids.get(&Address::new(Kind::IamRole, &d.role))?;
        let spec = format!("{vpc} {} {} {role} {}", d.traffic, d.log_group, d.max_aggregation_seconds);
        // A delivery role created moments ago is refused until VPC Flow Logs can assume it, in an
        // error or in an `Unsuccessful` item: both are the rule's lag. Each attempt has a token of
        // its own: AWS answers a repeated token with the first answer, refusal included (the
        // SDK's own retries of one attempt keep its token).
        let attempt = std::cell::Cell::new(0u32);
        let create = || async {
            attempt.set(attempt.get() + 1);
            let token =
                crate::aws::client_token(&[&cx.ctx.stack, &address.to_string(), &spec, &attempt.get().to_string()]);
            let out = cx
                .clients
                .ec2
                .create_flow_logs()
                .resource_type(FlowLogsResourceType::Vpc)
                .resource_ids(&vpc)
                .traffic_type(TrafficType::from(d.traffic.as_str()))
                .log_destination_type(LogDestinationType::CloudWatchLogs)
                .log_group_name(&d.log_group)
                .deliver_logs_permission_arn(&role)
                .max_aggregation_interval(d.max_aggregation_seconds)
                .tag_specifications(tags::ec2_spec(ResourceType::VpcFlowLog, &cx.tags(address)))
                .client_token(&token)
                .send()
                .await
                .map_err(|e| failed("creating", address, &e))?;
            refused("creating", address, out.unsuccessful())?;
            Ok(out)
        };
        let out = consistency::retry(Call::Ec2CreateFlowLogs, address, create).await?;
        match out.flow_log_ids().first() {
            Some(id) => Ok(id.clone()),
            None => bail!("creating {address}: AWS returned no flow log id"),
        }
    }

    /// Every field but the tags forces a replacement (`REPLACE_ON`) and the tags are the
    /// runner's: nothing is changed in place.
    async fn update(
        _: &ApplyCx<'_>,
        _: &Address,
        _: &DesiredFlowLog,
        _: &Observed<FlowLogFields>,
        _: &Delta<'_>,
    ) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<FlowLogFields>) -> Result<()> {
        let out = cx
            .clients
            .ec2
            .delete_flow_logs()
            .flow_log_ids(&o.id)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        let gone = |i: &&UnsuccessfulItem| i.error().and_then(|e| e.code()) == Some("InvalidFlowLogId.NotFound");
        let other: Vec<UnsuccessfulItem> = out.unsuccessful().iter().filter(|i| !gone(i)).cloned().collect();
        refused("deleting", address, &other)
    }
}

/// The first item AWS refused inside a successful answer, as the error it would have answered.
fn refused(verb: &str, address: &Address, items: &[UnsuccessfulItem]) -> Result<()> {
    match items.iter().filter_map(|i| i.error()).next() {
        Some(e) => Err(crate::aws::error::refused(verb, address, e.code(), e.message())),
        None => Ok(()),
    }
}
