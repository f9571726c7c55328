//! Task definitions: one address per family (`task_definition.containrlab-task`).
//!
//! A family's revisions are immutable; "updating" it registers a new revision, after which older
//! ACTIVE revisions beyond the service's `keep_revisions` are deregistered (never the one a
//! service runs; not by a deploy — `DesiredRevision::prune`; the calls are `revisions`). The
//! revision a service must run is decided here once (`target`), for `up` and `deploy` alike. Deleting a family deregisters its ACTIVE revisions and deletes every revision
//! this stack tagged. The image tag is `--image-tag` / `CONTAINRLAB_IMAGE_TAG`; without it, the tag
//! the service runs is kept (so a repair run never rolls back a CI deploy), and `latest` is used
//! for a first registration. With `--image-tag`, images are pinned to the digests ECR has for the
//! tag, as `deploy` pins them (so `up --image-tag T` after `deploy --image-tag T` changes nothing).

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::Value;

use crate::aws::Clients;
use crate::diff::{taskdef, Delta, FieldChange, FieldDiff, Path, Shown};
use crate::model::compute::{
    keep_pinned_images, parameter_of, resolve_task_definition, running_image_tag, Placeholders, Service,
};
use crate::model::desired::Desired;
use crate::model::tags::{owner, Owner, Tags};
use crate::model::usage::{gb_of, vcpu_of, Footprint, Usage};
use crate::model::{Address, Kind};
use crate::plan::build::{Mode, PlanContext};
use crate::plan::{Action, Reason};
use crate::reconcile::contract::{ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::kit::Observed;
use crate::reconcile::registry::Registered;
use crate::reconcile::tags;
use crate::reconcile::Group;
use crate::reconcile::{Plan, ResourceChange};

use super::revisions::{delete_family, register_and_prune, TaskDefinitionFields};
use super::ObservedEcs;

/// Where a service's task definition stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The revision it runs is what the files say: `(family:revision, ARN)`.
    Current(String, String),
    /// An existing revision (the family's newest) is what the files say; the service moves to it.
    Existing(String, String),
    /// A new revision must be registered first.
    NewRevision,
}

/// The definition the files ask for, resolved (not normalised), and where the service stands.
pub fn target(ctx: &PlanContext, d: &Service, o: &ObservedEcs) -> (Value, Target) {
    let td = &d.task_definition;
    let service = o.services.iter().find(|s| s.name == d.name);
    let running = service.and_then(|s| o.running_definition(s));
    let newest = o.families.iter().find(|f| f.name == td.family);
    let base = running.or(newest);
    let mut p = Placeholders { account: &ctx.account, region: &ctx.region, image_tag: "latest" };
    let kept_tag = base.and_then(|b| running_image_tag(&td.json, &b.fields.json, &p));
    let tag = ctx.image_tag.clone().or(kept_tag).unwrap_or_else(|| "latest".into());
    p.image_tag = &tag;
    let mut resolved = resolve_task_definition(&td.json, &p);
    match (&ctx.image_tag, base) {
        (Some(tag), _) => {
            // What the tag names now, by digest; its images' problems stop the plan (`check_images`).
            super::images::pin(d, &mut resolved, &o.images, tag, &registry(ctx));
        }
        (None, Some(b)) => keep_pinned_images(&mut resolved, &td.json, &b.fields.json, &p),
        (None, None) => {}
    }
    let wanted = taskdef::normalize(&resolved);
    let label = |t: &Observed<TaskDefinitionFields>| format!("{}:{}", t.name, t.fields.revision);
    let same = |t: &Observed<TaskDefinitionFields>| taskdef::normalize(&t.fields.json) == wanted;
    let target = match (running, newest) {
        (Some(r), _) if same(r) => Target::Current(label(r), r.id.clone()),
        (_, Some(n)) if same(n) => Target::Existing(label(n), n.id.clone()),
        _ => Target::NewRevision,
    };
    (resolved, target)
}

fn registry(ctx: &PlanContext) -> String {
    super::images::registry(&ctx.account, &ctx.region)
}

/// Each service's definition resolved for `tag`, its images pinned to what ECR has for it
/// (`images`): what each container uses, and what is wrong or missing.
pub fn pin_tag<'a>(
    ctx: &PlanContext,
    services: impl IntoIterator<Item = &'a Service>,
    images: &BTreeMap<String, super::images::Lookup>,
    tag: &str,
) -> Vec<(&'a Service, super::images::Pinned)> {
    let p = Placeholders { account: &ctx.account, region: &ctx.region, image_tag: tag };
    let pin = |s: &'a Service| {
        let mut resolved = resolve_task_definition(&s.task_definition.json, &p);
        (s, super::images::pin(s, &mut resolved, images, tag, &registry(ctx)))
    };
    services.into_iter().map(pin).collect()
}

/// With `--image-tag`: every image of the tag must be in ECR and built for its definition's CPU
/// architecture, or the plan stops before any change, listing every problem (as `deploy` does).
/// A repository that does not exist yet (this run creates it) keeps the tag, with a warning.
pub fn check_images(ctx: &PlanContext, services: &[Service], o: &ObservedEcs, plan: &mut Plan) -> Result<()> {
    let Some(tag) = ctx.image_tag.as_deref().filter(|_| ctx.mode == Mode::Converge) else { return Ok(()) };
    let mut problems = Vec::new();
    for (s, pinned) in pin_tag(ctx, services, &o.images, tag) {
        problems.extend(pinned.problems);
        for (container, repo) in pinned.no_repository {
            plan.warnings.push(format!(
                "{}: container {container} names {repo}:{tag} by its tag: the repository does not exist yet; the next `deploy` or `up --image-tag` pins its digest",
                s.name
            ));
        }
    }
    super::images::refuse_images(&problems)
}

/// The contract for `task_definition.FAMILY`. A family's revisions are immutable: creating or
/// updating it registers a new revision (its planning is its own: the revision a service runs is
/// the one compared, see `target`).
#[derive(Debug, Clone)]
pub struct TaskDefinition;

/// A family to register: the resolved definition, and what the registration must keep.
#[derive(Debug, Clone)]
pub struct DesiredRevision {
    pub family: String,
    /// Resolved (account, region, image tag), not normalised: what is registered.
    pub resolved: Value,
    /// Older ACTIVE revisions kept registered besides the newest.
    pub keep_revisions: u32,
    /// Revisions services run now: never deregistered.
    pub running: Vec<String>,
    /// Whether older revisions beyond `keep_revisions` are deregistered after registering (`up`);
    /// a deploy leaves that to `up`.
    pub prune: bool,
}

/// A family as found: its newest ACTIVE revision's tags, and every revision this stack tagged.
#[derive(Debug, Clone)]
pub struct ObservedFamily {
    pub name: String,
    pub tags: crate::model::tags::Tags,
    pub owned_revisions: Vec<String>,
}

impl crate::plan::build::ObservedResource for ObservedFamily {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &crate::model::tags::Tags {
        &self.tags
    }
}

/// Any key of the registered JSON (`containerDefinitions.api.image`): each is a new revision.
const DEFINITION: Path = Path::keyed("task definition key");
/// The keys `cost` prices a revision by.
pub const CPU: Path = Path::field("cpu");
pub const MEMORY: Path = Path::field("memory");
pub const ARCHITECTURE: Path = Path::field("runtimePlatform.cpuArchitecture");

impl Resource for TaskDefinition {
    const KIND: Kind = Kind::TaskDefinition;
    const GROUP: Group = Group::Ecs;
    const FIELDS: &'static [Path] = &[DEFINITION];
    type Desired = DesiredRevision;
    type Observed = ObservedFamily;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    /// Its size sizes the Fargate tasks of the services that run the family.
    fn usage_before(change: &ResourceChange, before: &mut Footprint) {
        for usage in before.items.values_mut() {
            let Usage::Fargate { family, arch, vcpu, gib, .. } = usage else { continue };
            if *family != change.address.name {
                continue;
            }
            if let Some(v) = change.was(CPU) {
                *vcpu = vcpu_of(v);
            }
            if let Some(v) = change.was(MEMORY) {
                *gib = gb_of(v);
            }
            if let Some(v) = change.was(ARCHITECTURE).and_then(Value::as_str) {
                *arch = v.to_string();
            }
        }
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredRevision> {
        let o = &cx.observed.ecs;
        let running: Vec<String> = o.services.iter().map(|s| s.fields.task_definition_arn.clone()).collect();
        let mut out: Vec<DesiredRevision> = Vec::new();
        for d in &cx.desired.services {
            if out.iter().any(|r| r.family == d.task_definition.family) {
                continue;
            }
            out.push(DesiredRevision {
                family: d.task_definition.family.clone(),
                resolved: target(cx.ctx, d, o).0,
                keep_revisions: d.task_definition.keep_revisions,
                running: running.clone(),
                prune: true,
            });
        }
        out
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<ObservedFamily> {
        let o = &cx.observed.ecs;
        o.families
            .iter()
            .map(|f| ObservedFamily {
                name: f.name.clone(),
                tags: f.tags.clone(),
                owned_revisions: o.owned_revisions.get(&f.name).cloned().unwrap_or_default(),
            })
            .collect()
    }

    fn name(d: &DesiredRevision) -> &str {
        &d.family
    }

    /// Not used: `plan` compares revisions itself.
    fn fields(
        _: &DiffCx<'_>,
        _: &DesiredRevision,
        _: Option<&ObservedFamily>,
        _: &crate::model::tags::Tags,
    ) -> FieldDiff {
        FieldDiff::default()
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredRevision) -> Vec<Address> {
        depends_on(&d.resolved)
    }

    /// One change per declared family whose definition differs from what its service runs (or
    /// that does not exist); families this stack owns but no longer declares are deleted.
    fn plan(cx: &DiffCx<'_>, plan: &mut Plan) {
        let (ctx, o) = (cx.ctx, &cx.observed.ecs);
        let desired = Self::desired(cx);
        let observed = Self::observed(cx);
        let mut declared = Vec::new();
        for d in cx.desired.services.iter().filter(|_| ctx.mode == Mode::Converge) {
            let family = &d.task_definition.family;
            if declared.contains(&family) {
                continue;
            }
            declared.push(family);
            let address = Address::new(Kind::TaskDefinition, family);
            let newest = o.families.iter().find(|f| f.name == *family);
            if let Some(n) = newest {
                if owner(&ctx.stack, &n.tags) != Owner::ThisStack {
                    plan.conflicts.push(crate::plan::build::conflict(&ctx.stack, address, owner(&ctx.stack, &n.tags)));
                    continue;
                }
            }
            let (resolved, target) = target(ctx, d, o);
            if target != Target::NewRevision {
                continue;
            }
            let service = o.services.iter().find(|s| s.name == d.name);
            let base = service.and_then(|s| o.running_definition(s)).or(newest);
            let wanted = taskdef::normalize(&resolved);
            let (action, reason, fields) = match base {
                Some(b) => {
                    (Action::Update, Reason::Drifted, taskdef::changes(&taskdef::normalize(&b.fields.json), &wanted))
                }
                None => (Action::Create, Reason::Missing, summary(&wanted)),
            };
            let pair = Pair {
                desired: desired.iter().find(|r| r.family == *family).cloned(),
                observed: observed.iter().find(|f| f.name == *family).cloned(),
            };
            let mut c = ResourceChange::new(address, action, reason, fields, Self::payload(pair));
            c.depends_on = depends_on(&resolved);
            // A container made privileged is root on its host.
            c.widens_access = c
                .fields
                .iter()
                .any(|f| f.path.ends_with(".privileged") && f.after.as_ref().is_some_and(|v| v.is_true()));
            plan.changes.push(c);
        }
        for n in &observed {
            let gone = ctx.mode == Mode::Down || !declared.contains(&&n.name);
            if gone && owner(&ctx.stack, &n.tags) == Owner::ThisStack {
                let reason = if ctx.mode == Mode::Down { Reason::StackDown } else { Reason::RemovedFromStack };
                let address = Address::new(Kind::TaskDefinition, &n.name);
                let pair = Pair { desired: None, observed: Some(n.clone()) };
                plan.changes.push(ResourceChange::new(
                    address,
                    Action::Delete,
                    reason,
                    Vec::new(),
                    Self::payload(pair),
                ));
            }
        }
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.name
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ecs(&clients.ecs, address, id, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredRevision,
        _: Option<&ObservedFamily>,
    ) -> Result<String> {
        register_and_prune(cx, address, d).await
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredRevision,
        _: &ObservedFamily,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // Whatever differs, a new revision is registered with the whole definition.
        delta.all();
        let arn = register_and_prune(cx, address, d).await?;
        cx.ids.set(address, &arn);
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, _: &Address, o: &ObservedFamily) -> Result<()> {
        delete_family(&cx.clients.ecs, &o.name, &o.owned_revisions).await
    }
}

/// What a new family shows in the plan: its size and each container's image.
fn summary(td: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut add = |path: String, v: Option<&Value>| {
        if let Some(v) = v {
            out.push(FieldChange::new(path, None, Some(Shown::Value(v.clone()))));
        }
    };
    add("cpu".into(), td.get("cpu"));
    add("memory".into(), td.get("memory"));
    for c in td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        add(format!("containerDefinitions[{name}].image"), c.get("image"));
    }
    out
}

/// The roles, log groups and parameters a definition names: they must exist first.
fn depends_on(td: &Value) -> Vec<Address> {
    let mut out = Vec::new();
    for key in ["taskRoleArn", "executionRoleArn"] {
        if let Some(role) = td.get(key).and_then(Value::as_str).and_then(|a| a.rsplit('/').next()) {
            out.push(Address::new(Kind::IamRole, role));
        }
    }
    for c in td.get("containerDefinitions").and_then(Value::as_array).into_iter().flatten() {
        if let Some(g) = c.pointer("/logConfiguration/options/awslogs-group").and_then(Value::as_str) {
            out.push(Address::new(Kind::LogGroup, g));
        }
        for s in c.get("secrets").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = s.get("valueFrom").and_then(Value::as_str).and_then(parameter_of) {
                out.push(Address::new(Kind::SsmParameter, name));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_definition_depends_on_its_roles_log_groups_and_parameters() {
        let td = json!({
            "executionRoleArn": "arn:aws:iam::1:role/containrlab/exec",
            "containerDefinitions": [{
                "logConfiguration": {"options": {"awslogs-group": "/ecs/api"}},
                "secrets": [{"valueFrom": "arn:aws:ssm:r:1:parameter/containrlab/KEY"}]
            }]
        });
        let names: Vec<String> = depends_on(&td).iter().map(ToString::to_string).collect();
        assert_eq!(names, vec!["iam_role.exec", "ssm_parameter./containrlab/KEY", "log_group./ecs/api"]);
    }
}
