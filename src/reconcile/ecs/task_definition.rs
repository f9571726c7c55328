//! Task definitions: one address per family (`task_definition.containrlab-task`).
//!
//! A family's revisions are immutable; "updating" it registers a new revision, after which older
//! ACTIVE revisions beyond the service's `keep_revisions` are deregistered (never the one a
//! service runs). Deleting a family deregisters its ACTIVE revisions and deletes every revision
//! this stack tagged. The image tag is `--image-tag` / `CONTAINRLAB_IMAGE_TAG`; without it, the tag
//! the service runs is kept (so a repair run never rolls back a CI deploy), and `latest` is used
//! for a first registration. With `--image-tag`, images are pinned to the digests ECR has for the
//! tag, as `deploy` pins them (so `up --image-tag T` after `deploy --image-tag T` changes nothing).

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_ecs::types::{TaskDefinitionField, TaskDefinitionStatus};
use aws_sdk_ecs::Client;
use serde_json::Value;

use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::aws::{concurrent, describe};
use crate::diff::{taskdef, Delta, FieldChange, FieldDiff, Path, Shown};
use crate::model::compute::{keep_pinned_images, resolve_task_definition, running_image_tag, Placeholders, Service};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::tags::{owner, Owner, Tags};
use crate::model::usage::{gb_of, vcpu_of, Footprint, Usage};
use crate::model::{Address, Kind};
use crate::plan::build::{Mode, PlanContext};
use crate::plan::{Action, Reason};
use crate::reconcile::contract::{ApplyCx, DiffCx, Pair, Resource};
use crate::reconcile::kit::{Observed, CONCURRENCY};
use crate::reconcile::registry::Registered;
use crate::reconcile::tags;
use crate::reconcile::Group;
use crate::reconcile::{Plan, ResourceChange};

use super::ObservedEcs;

#[derive(Debug, Clone)]
pub struct TaskDefinitionFields {
    pub revision: i32,
    /// As registered, in the file's JSON shape (not yet normalised).
    pub json: Value,
}

pub(crate) async fn describe_families(ecs: &Client, families: &[&str]) -> Result<Vec<Observed<TaskDefinitionFields>>> {
    let found = concurrent(families.iter().copied(), CONCURRENCY, |f| describe_one(ecs, f)).await;
    Ok(found.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
}

pub(crate) async fn describe_arns(
    ecs: &Client,
    arns: &[String],
) -> Result<BTreeMap<String, Observed<TaskDefinitionFields>>> {
    let found = concurrent(arns.iter(), CONCURRENCY, |a| describe_one(ecs, a)).await;
    Ok(found.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().map(|t| (t.id.clone(), t)).collect())
}

/// A family's newest ACTIVE revision, or one revision by ARN; `None` when there is none.
async fn describe_one(ecs: &Client, which: &str) -> Result<Option<Observed<TaskDefinitionFields>>> {
    let out =
        match ecs.describe_task_definition().task_definition(which).include(TaskDefinitionField::Tags).send().await {
            Ok(out) => out,
            // ECS answers ClientException "Unable to describe task definition" for an unknown family.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_client_exception()) => return Ok(None),
            Err(e) => anyhow::bail!("describing ECS task definition {which}: {}", describe(&e)),
        };
    let Some(td) = out.task_definition() else { return Ok(None) };
    // Asked by family, AWS returns the newest ACTIVE revision; a revision asked by ARN may be
    // INACTIVE and still be what a service runs.
    let by_family = !which.contains(':');
    if by_family && td.status() != Some(&TaskDefinitionStatus::Active) {
        return Ok(None);
    }
    Ok(Some(Observed {
        name: td.family().unwrap_or_default().to_string(),
        id: td.task_definition_arn().unwrap_or_default().to_string(),
        tags: tags::from_ecs(out.tags()),
        fields: TaskDefinitionFields { revision: td.revision(), json: super::taskdef_json::to_json(td) },
    }))
}

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

/// With `--image-tag`: every image of the tag must be in ECR and built for its definition's CPU
/// architecture, or the plan stops before any change, listing every problem (as `deploy` does).
/// A repository that does not exist yet (this run creates it) keeps the tag, with a warning.
pub fn check_images(ctx: &PlanContext, services: &[Service], o: &ObservedEcs, plan: &mut Plan) -> Result<()> {
    let Some(tag) = ctx.image_tag.as_deref().filter(|_| ctx.mode == Mode::Converge) else { return Ok(()) };
    let mut problems = Vec::new();
    for s in services {
        let p = Placeholders { account: &ctx.account, region: &ctx.region, image_tag: tag };
        let mut resolved = resolve_task_definition(&s.task_definition.json, &p);
        let pinned = super::images::pin(s, &mut resolved, &o.images, tag, &registry(ctx));
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

/// Registers the revision, then deregisters ACTIVE revisions beyond `keep_revisions` (+ the
/// newest), never one a service runs. Returns the new revision's ARN. The family's revisions are
/// listed while the new one registers (a service waiting on this step waits for one call less);
/// nothing is deregistered unless the registration succeeded.
async fn register_and_prune(cx: &ApplyCx<'_>, address: &Address, d: &DesiredRevision) -> Result<String> {
    let ecs = &cx.clients.ecs;
    let listed = async {
        ecs.list_task_definitions()
            .family_prefix(&d.family)
            .status(TaskDefinitionStatus::Active)
            .sort(aws_sdk_ecs::types::SortOrder::Desc)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| failed("listing revisions of", address, &e))
    };
    let tags = cx.tags(address);
    let (registered, listed) = tokio::join!(register(ecs, &d.resolved, &tags, address), listed);
    let (arn, revision) = registered?;
    crate::progress::note(format!("{address}: registered revision {revision}"));
    // The listing may or may not show the new revision (it ran alongside): count it once.
    let mut active = listed?;
    active.retain(|a| *a != arn);
    // Newest first by revision number (the listing's order is not relied on).
    active.sort_by_key(|a| std::cmp::Reverse(a.rsplit(':').next().and_then(|r| r.parse::<i64>().ok())));
    let keep = d.keep_revisions as usize;
    for old in active.iter().skip(keep).filter(|a| !d.running.contains(a)) {
        ecs.deregister_task_definition()
            .task_definition(old)
            .send()
            .await
            .map_err(|e| failed("deregistering", address, &e))?;
        crate::progress::note(format!("{address}: deregistered {}", old.rsplit('/').next().unwrap_or(old)));
    }
    Ok(arn)
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
            if let Some(name) = s.get("valueFrom").and_then(Value::as_str).and_then(|a| a.split_once(":parameter")) {
                out.push(Address::new(Kind::SsmParameter, name.1));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Registers a revision: `(ARN, revision)`. Roles created moments ago may not be usable by ECS
/// yet (the consistency rules `task-definition-role` and `task-definition-pass-role`).
pub(crate) async fn register(
    ecs: &Client,
    td: &Value,
    tags: &crate::model::tags::Tags,
    address: &Address,
) -> Result<(String, i32)> {
    let request =
        super::taskdef_json::register_request(ecs.register_task_definition(), td)?.set_tags(Some(tags::ecs(tags)));
    let register = || async {
        crate::aws::once::send(|| request.clone().customize().config_override(crate::aws::once::ecs()).send())
            .await
            .map_err(|e| failed("registering", address, &e))
    };
    let out = crate::aws::consistency::retry(Call::EcsRegisterTaskDefinition, address, register).await?;
    let td = required(out.task_definition(), "registering", address, "taskDefinition")?;
    Ok((required(td.task_definition_arn(), "registering", address, "taskDefinitionArn")?.to_string(), td.revision()))
}

/// Deregisters a family's ACTIVE revisions, then deletes every revision this stack tagged.
async fn delete_family(ecs: &Client, family: &str, owned: &[String]) -> Result<()> {
    let err = |what: &str, e: &(dyn std::error::Error + 'static)| {
        anyhow::anyhow!("{what} task definition {family}: {}", describe(e))
    };
    let active: Vec<String> = ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(TaskDefinitionStatus::Active)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| err("listing", &e))?;
    for arn in &active {
        ecs.deregister_task_definition().task_definition(arn).send().await.map_err(|e| err("deregistering", &e))?;
    }
    let mut all: Vec<String> = owned.iter().chain(&active).cloned().collect();
    all.sort();
    all.dedup();
    for chunk in all.chunks(10) {
        // Failures (a revision already deleted) are per item and not errors of the call.
        ecs.delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| err("deleting", &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::register_task_definition::{RegisterTaskDefinitionError, RegisterTaskDefinitionOutput};
    use aws_sdk_ecs::types::error::ClientException;
    use aws_sdk_ecs::types::TaskDefinition;
    use aws_smithy_mocks::mock;
    use serde_json::json;

    fn ecs_with(rule: &aws_smithy_mocks::Rule) -> Client {
        crate::aws::canned::canned_client!(aws_sdk_ecs, &[rule])
    }

    /// moto accepts any role ARN at once, so IAM propagation is played with canned responses:
    /// "Role is not valid" twice, then the registration goes through.
    #[tokio::test(start_paused = true)]
    async fn a_role_not_yet_propagated_is_waited_for() {
        // As the SDK's deserializer makes it: the code and message in the error's metadata.
        let not_yet = || {
            let meta = aws_smithy_types::error::ErrorMetadata::builder()
                .code("ClientException")
                .message("Role is not valid")
                .build();
            RegisterTaskDefinitionError::ClientException(
                ClientException::builder().message("Role is not valid").meta(meta).build(),
            )
        };
        let registered = || {
            let td = TaskDefinition::builder().task_definition_arn("arn:aws:ecs:r:1:task-definition/app:4").revision(4);
            RegisterTaskDefinitionOutput::builder().task_definition(td.build()).build()
        };
        let rule =
            mock!(Client::register_task_definition).sequence().error(not_yet).times(2).output(registered).build();
        let ecs = ecs_with(&rule);
        let td = json!({"family": "app", "containerDefinitions": [{"name": "a", "image": "i", "memory": 64}]});
        let address = Address::new(Kind::TaskDefinition, "app");
        let got = register(&ecs, &td, &Default::default(), &address).await.expect("registered after the retries");
        assert_eq!(got, ("arn:aws:ecs:r:1:task-definition/app:4".to_string(), 4));
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn any_other_client_error_fails_at_once() {
        let invalid = || {
            RegisterTaskDefinitionError::ClientException(
                ClientException::builder()
                    .message("Invalid setting for container 'a'")
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("ClientException")
                            .message("Invalid setting for container 'a'")
                            .build(),
                    )
                    .build(),
            )
        };
        let rule = mock!(Client::register_task_definition).then_error(invalid);
        let ecs = ecs_with(&rule);
        let td = json!({"family": "app", "containerDefinitions": [{"name": "a", "image": "i"}]});
        let address = Address::new(Kind::TaskDefinition, "app");
        let err = register(&ecs, &td, &Default::default(), &address).await.expect_err("not retried");
        assert!(err.to_string().contains("Invalid setting for container"), "{err}");
        assert_eq!(rule.num_calls(), 1);
    }

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
