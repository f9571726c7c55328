//! Every observed resource as one flat list — its address, AWS id and tags (mutable) — for what
//! must treat all kinds alike: the plan's ids by address (`Ids::new`), and `adopt`, which judges
//! and claims resources through it.
//!
//! Invariants: every kind that `observe` reads and that carries tags of its own appears here (a
//! unit test holds it to the converged fixture: a kind left out could be neither referenced by id
//! nor adopted). Listeners and rules carry their balancer's tags, task definitions the tags of
//! their revision; records and security-group rules are not resources of their own in the
//! observation (they are owned through their zone's declaration and their group).

use crate::model::tags::Tags;
use crate::model::{Address, Kind};

use super::kit::Observed as Item;
use super::Observed;

/// One observed resource.
pub struct Entry<'a> {
    pub address: Address,
    pub id: &'a str,
    pub tags: &'a mut Tags,
}

fn items<'a, F>(kind: Kind, list: &'a mut [Item<F>]) -> impl Iterator<Item = Entry<'a>> + 'a {
    list.iter_mut().map(move |o| Entry { address: Address::new(kind, &o.name), id: o.id.as_str(), tags: &mut o.tags })
}

/// Every resource of `observed`, kind by kind.
pub fn entries(observed: &mut Observed) -> Vec<Entry<'_>> {
    let Observed {
        network: n,
        edge,
        certificates,
        dns,
        iam,
        ecs,
        runner,
        topics,
        alarms,
        repositories,
        parameters,
        log_groups,
        duplicates: _,
    } = observed;
    let mut out: Vec<Entry<'_>> = Vec::new();
    out.extend(items(Kind::Vpc, &mut n.vpcs));
    out.extend(items(Kind::Subnet, &mut n.subnets));
    out.extend(items(Kind::InternetGateway, &mut n.internet_gateways));
    out.extend(items(Kind::ElasticIp, &mut n.elastic_ips));
    out.extend(items(Kind::NatGateway, &mut n.nat_gateways));
    out.extend(items(Kind::RouteTable, &mut n.route_tables));
    out.extend(items(Kind::SecurityGroup, &mut n.security_groups));
    out.extend(items(Kind::FlowLog, &mut n.flow_logs));
    out.extend(items(Kind::LoadBalancer, &mut edge.load_balancers));
    out.extend(items(Kind::TargetGroup, &mut edge.target_groups));
    out.extend(items(Kind::Listener, &mut edge.listeners));
    out.extend(items(Kind::ListenerRule, &mut edge.rules));
    out.extend(items(Kind::Certificate, certificates));
    if let Some(z) = &mut dns.zone {
        out.push(Entry { address: Address::new(Kind::HostedZone, &z.name), id: z.id.as_str(), tags: &mut z.tags });
    }
    out.extend(items(Kind::IamRole, &mut iam.roles));
    if let Some(p) = &mut iam.oidc {
        let address = Address::new(Kind::IamOidcProvider, crate::model::iam::GITHUB_OIDC_HOST);
        out.push(Entry { address, id: p.arn.as_str(), tags: &mut p.tags });
    }
    out.extend(items(Kind::EcsCluster, &mut ecs.clusters));
    out.extend(items(Kind::EcsService, &mut ecs.services));
    out.extend(items(Kind::TaskDefinition, &mut ecs.families));
    out.extend(ecs.running.values_mut().map(|o| Entry {
        address: Address::new(Kind::TaskDefinition, &o.name),
        id: o.id.as_str(),
        tags: &mut o.tags,
    }));
    out.extend(items(Kind::LaunchTemplate, &mut runner.launch_templates));
    out.extend(items(Kind::AutoScalingGroup, &mut runner.groups));
    out.extend(items(Kind::CapacityProvider, &mut runner.capacity_providers));
    out.extend(topics.iter_mut().map(|t| Entry {
        address: Address::new(Kind::SnsTopic, &t.name),
        id: t.arn.as_str(),
        tags: &mut t.tags,
    }));
    out.extend(items(Kind::Alarm, alarms));
    out.extend(repositories.iter_mut().map(|r| Entry {
        address: Address::new(Kind::EcrRepository, &r.name),
        id: r.arn.as_str(),
        tags: &mut r.tags,
    }));
    out.extend(parameters.iter_mut().map(|p| Entry {
        address: Address::new(Kind::SsmParameter, &p.name),
        id: p.name.as_str(),
        tags: &mut p.tags,
    }));
    out.extend(log_groups.iter_mut().map(|g| Entry {
        address: Address::new(Kind::LogGroup, &g.name),
        id: g.arn.as_str(),
        tags: &mut g.tags,
    }));
    out
}
