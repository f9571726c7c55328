//! The registry: each resource kind mapped to the type that reconciles it, once. From this one
//! list come the payload a plan's change carries (`Payload`, one variant per kind), the dispatches
//! from the generic machinery to a kind — a step to its kind's code (`Payload::apply`), a kind to
//! its planning (`plan`), to its tagging (`tag`) — the per-kind facts other code asks by `Kind`
//! (`group`, `owned_through`, `usage`, `usage_before`, `Payload::usage_removed`), and each type's `Registered` impl.
//!
//! Invariants: the dispatch on `Kind` is exhaustive, so a kind of `model::kind` missing here is a
//! compile error; a type's `Resource::KIND` is checked against its line at compile time; a type
//! not registered cannot implement `Resource` (`Registered` is its supertrait).

use anyhow::Result;

use super::contract::{run, ApplyCx, DiffCx, Pair, Resource};
use super::{acm, alarms, dns, ecr, ecs, elb, iam, logs, network, runner, sns, ssm};
use super::{Plan, Step};
use crate::diff::FieldChange;
use crate::model::desired::Desired;
use crate::model::usage::{Footprint, Usage};
use crate::model::Kind;

/// Implemented by the registry for each registered type: how its pair becomes a payload.
pub trait Registered: Sized {
    fn payload(pair: Pair<Self>) -> Payload
    where
        Self: Resource;
}

macro_rules! registry {
    ($($kind:ident => $type:ty,)*) => {
        /// What a change carries: the desired/observed pair the plan found, of its kind's type.
        #[derive(Debug, Clone)]
        pub enum Payload { $($kind(Pair<$type>),)* }

        impl Payload {
            /// Carries out `step` with the kind's own code.
            pub async fn apply(&self, cx: &ApplyCx<'_>, step: &Step, delta: &[FieldChange]) -> Result<()> {
                match self { $(Payload::$kind(p) => run(cx, step, p, delta).await,)* }
            }

            /// What the resource a delete removes used (`Resource::usage_removed`).
            pub fn usage_removed(&self, desired: &Desired, name: &str, plan: &Plan) -> Option<Usage> {
                match self { $(Payload::$kind(p) => <$type>::usage_removed(desired, name, p, plan),)* }
            }
        }

        #[cfg(test)]
        impl Payload {
            /// A payload of no values, for tests of what reads only the plan's other parts.
            pub fn none() -> Payload {
                Payload::LogGroup(Pair { desired: None, observed: None })
            }
        }

        /// The paths a kind's `fields` may report, and those of them that force a replacement.
        #[cfg(test)]
        pub fn declared(kind: Kind) -> (&'static [crate::diff::Path], &'static [crate::diff::Path]) {
            match kind { $(Kind::$kind => (<$type>::FIELDS, <$type>::REPLACE_ON),)* }
        }

        /// The observation group that reads a kind.
        pub fn group(kind: Kind) -> super::Group {
            match kind { $(Kind::$kind => <$type>::GROUP,)* }
        }

        /// What a declared resource of `kind` uses (`Resource::usage`).
        pub fn usage(kind: Kind, desired: &Desired, name: &str) -> Option<Usage> {
            match kind { $(Kind::$kind => <$type>::usage(desired, name),)* }
        }

        /// Sets `before` back to what was used before the update `change` (`Resource::usage_before`).
        pub fn usage_before(change: &super::ResourceChange, before: &mut Footprint) {
            match change.address.kind { $(Kind::$kind => <$type>::usage_before(change, before),)* }
        }

        /// The kind a kind without tags of its own is owned through, if it is one.
        pub fn owned_through(kind: Kind) -> Option<Kind> {
            match kind { $(Kind::$kind => <$type>::OWNED_THROUGH,)* }
        }

        /// Sets the tags of a resource of `kind` (`Resource::tag`).
        pub async fn tag(
            kind: Kind,
            clients: &crate::aws::Clients,
            address: &crate::model::Address,
            id: &str,
            have: &crate::model::tags::Tags,
            want: &crate::model::tags::Tags,
        ) -> Result<()> {
            match kind { $(Kind::$kind => <$type>::tag(clients, address, id, have, want).await,)* }
        }

        /// Plans the changes of one kind into `out`.
        pub fn plan(kind: Kind, cx: &DiffCx<'_>, out: &mut Plan) {
            match kind { $(Kind::$kind => <$type>::plan(cx, out),)* }
        }

        $(
            impl Registered for $type {
                fn payload(pair: Pair<Self>) -> Payload {
                    Payload::$kind(pair)
                }
            }
            const _: () = assert!(matches!(<$type as Resource>::KIND, Kind::$kind), "a type registered under another kind");
        )*
    };
}

registry! {
    Vpc => network::Vpc,
    Subnet => network::Subnet,
    InternetGateway => network::InternetGateway,
    ElasticIp => network::ElasticIp,
    NatGateway => network::NatGateway,
    RouteTable => network::RouteTable,
    SecurityGroup => network::SecurityGroup,
    SecurityGroupRules => network::SecurityGroupRules,
    FlowLog => network::FlowLog,
    IamOidcProvider => iam::IamOidcProvider,
    IamRole => iam::IamRole,
    HostedZone => dns::HostedZone,
    Certificate => acm::Certificate,
    TargetGroup => elb::TargetGroup,
    LoadBalancer => elb::LoadBalancer,
    Listener => elb::Listener,
    ListenerRule => elb::ListenerRule,
    DnsRecords => dns::DnsRecords,
    EcsCluster => ecs::EcsCluster,
    TaskDefinition => ecs::TaskDefinition,
    EcsService => ecs::EcsService,
    LaunchTemplate => runner::LaunchTemplate,
    AutoScalingGroup => runner::AutoScalingGroup,
    CapacityProvider => runner::CapacityProvider,
    SnsTopic => sns::SnsTopic,
    Alarm => alarms::Alarm,
    EcrRepository => ecr::EcrRepository,
    SsmParameter => ssm::SsmParameter,
    LogGroup => logs::LogGroup,
}
