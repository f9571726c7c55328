//! SSM parameters: String values written in the stack file, SecureString values supplied through
//! environment variables.
//!
//! Observe in one round, concurrently: metadata of the declared names, their values there is
//! something to compare with (`Values`: ten per call, shared with the runner's AMI parameters; a
//! missing name is no error), and the stack's tag index (`tag_index`). A second round only for
//! what the index cannot settle: an owned parameter no longer declared (confirmed by name), one it
//! does not list or may not be trusted about (tags).
//! Invariants: a secret value is held only as `Secret` and shown as `(sensitive value)`; a
//! SecureString is decrypted only when its variable is set (to compare the two) — otherwise the
//! plan reads its metadata, never its value — or when `up` must rewrite it unchanged (a new
//! description); a SecureString whose variable is unset is left as it is, and is an error to create.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use aws_sdk_ssm::Client;
use tokio::sync::OnceCell;

use super::contract::{ApplyCx, DiffCx, Resource};
use super::kit::CONCURRENCY;
use super::tag_index::TagIndex;
use super::tags;
use super::Group;
use crate::aws::error::failed;
use crate::aws::Clients;
use crate::aws::{concurrent, describe};
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::desired::{Parameter, ParameterValue};
use crate::model::secret::Secret;
use crate::model::tags::{Tags, ADDRESS};
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::plan::build::ObservedResource;

#[derive(Debug, Clone)]
pub struct ObservedParameter {
    pub name: String,
    /// `String`, `SecureString` or `StringList`, as AWS reports it.
    pub type_name: String,
    pub description: Option<String>,
    /// Read for declared parameters only.
    pub value: Option<ObservedValue>,
    /// SSM's version of the value (1 when created; each write adds one).
    pub version: i64,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObservedValue {
    Plain(String),
    Secret(Secret),
}

impl ObservedResource for ObservedParameter {
    fn name(&self) -> &str {
        &self.name
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    /// A secret's value lives only in AWS (and the operator's environment): keep it unless asked.
    fn holds_data(&self) -> Option<String> {
        (self.type_name == "SecureString").then(|| "a SecureString value exists nowhere else".to_string())
    }
}

/// The plan's one read of parameter values: the declared parameters' (`values_to_read`) and the
/// runner's public AMI parameters, in one `GetParameters` per 10 names, made on first use and
/// shared by the SSM and runner observations (like the tag index). A missing name is listed as
/// invalid, no error. Decryption leaves a String as it is, and is asked for only when a
/// SecureString in the chunk has a value to compare with.
pub struct Values<'a> {
    client: &'a Client,
    names: Vec<(String, bool)>,
    read: OnceCell<Result<ReadValues, String>>,
}

/// What the one read found: values by name, and the names SSM does not have.
#[derive(Debug, Default)]
pub struct ReadValues {
    pub values: BTreeMap<String, ObservedValue>,
    pub invalid: BTreeSet<String>,
}

impl<'a> Values<'a> {
    /// `parameters`: the declared ones whose values a plan compares; `plain`: more names read as
    /// they are (the AMI parameters).
    pub fn new(client: &'a Client, parameters: &[Parameter], plain: impl IntoIterator<Item = String>) -> Self {
        let mut names = values_to_read(parameters);
        for name in plain {
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, false));
            }
        }
        Values { client, names, read: OnceCell::new() }
    }

    pub async fn get(&self) -> Result<&ReadValues> {
        let read = self
            .read
            .get_or_init(|| async {
                let chunks = self.names.chunks(10).map(|chunk| get_values(self.client, chunk.to_vec()));
                let mut out = ReadValues::default();
                for (values, invalid) in futures::future::try_join_all(chunks).await.map_err(|e| format!("{e:#}"))? {
                    out.values.extend(values);
                    out.invalid.extend(invalid);
                }
                Ok(out)
            })
            .await;
        read.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }
}

pub async fn observe(
    client: &Client,
    index: &TagIndex<'_>,
    values: &Values<'_>,
    desired: &[Parameter],
) -> Result<Vec<ObservedParameter>> {
    let names: Vec<String> = desired.iter().map(|p| p.name.clone()).collect();
    let (declared, owned, values) =
        tokio::try_join!(metadata(client, &names), index.matching(":parameter/"), values.get())?;
    // Owned parameters the file no longer declares (named by their address tag): confirmed by SSM
    // itself, the index may still list one deleted a moment ago. A call only when there are any.
    let undeclared: Vec<String> = owned
        .iter()
        .filter_map(|(_, tags)| tags.get(ADDRESS)?.strip_prefix("ssm_parameter.").map(str::to_string))
        .filter(|name| !names.contains(name))
        .collect();
    let undeclared = metadata(client, &undeclared).await?;
    let mut found: BTreeMap<String, ObservedParameter> = BTreeMap::new();
    for meta in declared.into_iter().chain(undeclared) {
        let name = meta.name().unwrap_or_default().to_string();
        found.entry(name.clone()).or_insert_with(|| ObservedParameter {
            name,
            type_name: meta.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            description: meta.description().map(str::to_string),
            value: None,
            version: meta.version(),
            tags: Tags::new(),
        });
    }
    for (name, value) in &values.values {
        if let Some(p) = found.get_mut(name) {
            p.value = Some(value.clone());
        }
    }
    // Tags: the index's when it lists the parameter and may be trusted, else SSM's own read.
    let listed = |name: &str| {
        let suffix = format!(":parameter/{}", name.trim_start_matches('/'));
        owned.iter().find(|(arn, _)| arn.ends_with(&suffix)).map(|(_, tags)| tags.clone())
    };
    let mut unlisted = Vec::new();
    for p in found.values_mut() {
        match listed(&p.name).filter(|_| index.trusted()) {
            Some(tags) => p.tags = tags,
            None => unlisted.push(p.name.clone()),
        }
    }
    let tags = concurrent(unlisted, CONCURRENCY, |name| async move {
        let out = client
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(&name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("reading tags of SSM parameter ({name}): {}", describe(&e)))?;
        let tags: Tags = out.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok::<_, anyhow::Error>((name, tags))
    })
    .await;
    for r in tags {
        let (name, t) = r?;
        if let Some(p) = found.get_mut(&name) {
            p.tags = t;
        }
    }
    Ok(found.into_values().collect())
}

/// Metadata of the parameters of these names that exist (`DescribeParameters`, 50 names a filter).
pub(crate) async fn metadata(client: &Client, names: &[String]) -> Result<Vec<aws_sdk_ssm::types::ParameterMetadata>> {
    let by_name = names.chunks(50).map(|chunk| {
        let filter =
            ParameterStringFilter::builder().key("Name").option("Equals").set_values(Some(chunk.to_vec())).build();
        async move { describe_parameters(client, filter?).await }
    });
    Ok(futures::future::try_join_all(by_name).await?.into_iter().flatten().collect())
}

async fn describe_parameters(
    client: &Client,
    filter: ParameterStringFilter,
) -> Result<Vec<aws_sdk_ssm::types::ParameterMetadata>> {
    let pages = client
        .describe_parameters()
        .parameter_filters(filter)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("listing SSM parameters: {}", describe(&e)))?;
    Ok(pages.into_iter().flat_map(|p| p.parameters.unwrap_or_default()).collect())
}

/// The declared parameters whose value the plan compares, each with whether it is decrypted. A
/// String is read as it is; a SecureString only when its variable supplies a value to compare with.
fn values_to_read(desired: &[Parameter]) -> Vec<(String, bool)> {
    desired
        .iter()
        .filter_map(|p| match &p.value {
            ParameterValue::Plain(_) => Some((p.name.clone(), false)),
            ParameterValue::Secret { value: Some(_), .. } => Some((p.name.clone(), true)),
            ParameterValue::Secret { value: None, .. } => None,
        })
        .collect()
}

/// `GetParameters` of `(name, decrypt)` pairs, decrypted when any pair asks for it: the values, and
/// the names SSM does not have. A SecureString not asked to be decrypted is dropped (ciphertext, or
/// a value nobody asked for: no value to compare).
async fn get_values(
    client: &Client,
    names: Vec<(String, bool)>,
) -> Result<(Vec<(String, ObservedValue)>, Vec<String>)> {
    let decrypted: Vec<&str> = names.iter().filter(|(_, d)| *d).map(|(n, _)| n.as_str()).collect();
    let out = client
        .get_parameters()
        .set_names(Some(names.iter().map(|(n, _)| n.clone()).collect()))
        .with_decryption(!decrypted.is_empty())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading SSM parameter values: {}", describe(&e)))?;
    let values = out
        .parameters()
        .iter()
        .filter_map(|p| {
            let value = p.value().unwrap_or_default().to_string();
            let name = p.name().unwrap_or_default();
            let value = match p.r#type() {
                Some(ParameterType::SecureString) if !decrypted.contains(&name) => return None,
                Some(ParameterType::SecureString) => ObservedValue::Secret(Secret::new(value)),
                _ => ObservedValue::Plain(value),
            };
            Some((name.to_string(), value))
        })
        .collect();
    Ok((values, out.invalid_parameters().to_vec()))
}

/// The contract for `ssm_parameter./PATH`. A SecureString to create whose environment variable is
/// unset is planned all the same (shown as not set): `up` refuses it, `diff` shows it.
#[derive(Debug, Clone)]
pub struct SsmParameter;

const TYPE: Path = Path::field("type");
/// The value: a change of it reaches running tasks only with a new deployment (`ecs::restart`).
pub const VALUE: Path = Path::field("value");
const DESCRIPTION: Path = Path::field("description");

impl Resource for SsmParameter {
    const KIND: Kind = Kind::SsmParameter;
    const GROUP: Group = Group::Parameters;
    const FIELDS: &'static [Path] = &[TYPE, VALUE, DESCRIPTION, TAGS];
    const REPLACE_ON: &'static [Path] = &[TYPE];
    type Desired = Parameter;
    type Observed = ObservedParameter;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<Parameter> {
        cx.desired.parameters.clone()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<ObservedParameter> {
        cx.observed.parameters.clone()
    }

    fn name(d: &Parameter) -> &str {
        &d.name
    }

    fn fields(_: &DiffCx<'_>, d: &Parameter, o: Option<&ObservedParameter>, tags: &Tags) -> FieldDiff {
        let mut f = FieldDiff::default();
        f.field(TYPE, o.map(|o| Some(o.type_name.clone())), Some(d.value.type_name().to_string()));
        match (&d.value, o.and_then(|o| o.value.as_ref())) {
            (ParameterValue::Plain(want), Some(ObservedValue::Plain(have))) => {
                f.field(VALUE, Some(Some(have.clone())), Some(want.clone()))
            }
            (ParameterValue::Plain(want), _) => f.field(VALUE, o.map(|_| None), Some(want.clone())),
            (ParameterValue::Secret { value: Some(want), .. }, Some(ObservedValue::Secret(have))) if want != have => {
                f.sensitive(VALUE, true)
            }
            (ParameterValue::Secret { value: Some(_), .. }, Some(ObservedValue::Secret(_))) => {}
            (ParameterValue::Secret { value: Some(_), .. }, _) => f.sensitive(VALUE, o.is_some()),
            // Variable unset: an existing value is left as it is; a new one is planned, and `up`
            // refuses to apply until the variable is set.
            (ParameterValue::Secret { value: None, env_var }, _) if o.is_none() => f.unset(VALUE, env_var),
            (ParameterValue::Secret { value: None, .. }, _) => {}
        }
        f.field(DESCRIPTION, o.map(|o| o.description.clone()), d.description.clone());
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.name
    }

    async fn tag(clients: &Clients, address: &Address, _: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_ssm(&clients.ssm, address, &address.name, have, want).await
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Parameter,
        _: Option<&ObservedParameter>,
    ) -> Result<String> {
        let Some(value) = value_to_write(d, None) else { bail!("creating {address}: no value to write") };
        put(&cx.clients.ssm, d, value, Some(tags::ssm(&cx.tags(address))))
            .await
            .map_err(|e| failed("creating", address, &e))?;
        Ok(d.name.clone())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &Parameter,
        o: &ObservedParameter,
        delta: &Delta<'_>,
    ) -> Result<()> {
        let client = &cx.clients.ssm;
        if delta.has(VALUE) | delta.has(DESCRIPTION) {
            // A new description of a secret whose variable is unset: PutParameter needs the value,
            // so the current one is read (decrypted) here, and only here.
            let current = match (&d.value, &o.value) {
                (ParameterValue::Secret { value: None, .. }, None) => {
                    get_values(client, vec![(d.name.clone(), true)]).await?.0.into_iter().next().map(|(_, v)| v)
                }
                _ => None,
            };
            let o = ObservedParameter { value: current.or_else(|| o.value.clone()), ..o.clone() };
            let Some(value) = value_to_write(d, Some(&o)) else { bail!("updating {address}: no value to write") };
            put(client, d, value, None).await.map_err(|e| failed("writing the value of", address, &e))?;
        }
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &ObservedParameter) -> Result<()> {
        cx.clients.ssm.delete_parameter().name(&o.name).send().await.map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

/// The value to write: the desired one, or for a secret whose variable is unset, the current one.
fn value_to_write<'a>(d: &'a Parameter, o: Option<&'a ObservedParameter>) -> Option<&'a str> {
    match (&d.value, o.and_then(|o| o.value.as_ref())) {
        (ParameterValue::Plain(v), _) => Some(v),
        (ParameterValue::Secret { value: Some(v), .. }, _) => Some(v.expose()),
        (ParameterValue::Secret { value: None, .. }, Some(ObservedValue::Secret(v))) => Some(v.expose()),
        _ => None,
    }
}

/// `PutParameter`: creates with `tags`, or overwrites the value and description when `tags` is
/// `None` (AWS refuses tags together with overwrite).
async fn put(
    client: &Client,
    d: &Parameter,
    value: &str,
    tags: Option<Vec<Tag>>,
) -> Result<(), aws_sdk_ssm::error::SdkError<aws_sdk_ssm::operation::put_parameter::PutParameterError>> {
    client
        .put_parameter()
        .name(&d.name)
        .value(value)
        .r#type(ParameterType::from(d.value.type_name()))
        .set_description(d.description.clone())
        .overwrite(tags.is_none())
        .set_tags(tags)
        .send()
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str, value: ParameterValue) -> Parameter {
        Parameter { name: name.to_string(), description: None, value }
    }

    #[test]
    fn only_secrets_with_a_value_to_compare_are_decrypted() {
        let secret = |v: Option<&str>| ParameterValue::Secret {
            env_var: "V".into(),
            value: v.map(|v| Secret::new(v.to_string())),
        };
        let desired = [
            parameter("/p/plain", ParameterValue::Plain("x".into())),
            parameter("/p/set", secret(Some("s"))),
            parameter("/p/unset", secret(None)),
        ];
        let read = values_to_read(&desired);
        assert_eq!(
            read,
            [("/p/plain".to_string(), false), ("/p/set".to_string(), true)],
            "an unset variable is never read"
        );
    }

    /// The parameters' values and the AMI parameter come from one `GetParameters`, however many
    /// readers ask (canned answers: moto cannot count the requests of one plan).
    #[tokio::test]
    async fn values_and_the_ami_parameter_are_one_read_shared_by_every_reader() {
        use aws_sdk_ssm::operation::get_parameters::GetParametersOutput;
        use aws_sdk_ssm::types::Parameter as Found;
        use aws_smithy_mocks::mock;
        const AMI: &str = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
        let get = mock!(Client::get_parameters)
            .match_requests(|r| r.names().len() == 2 && r.with_decryption() == Some(false))
            .then_output(|| {
                let plain = Found::builder().name("/p/plain").r#type(ParameterType::String).value("x").build();
                GetParametersOutput::builder().parameters(plain).invalid_parameters(AMI).build()
            });
        let client = crate::aws::canned::canned_client!(aws_sdk_ssm, &[&get]);
        let desired = [parameter("/p/plain", ParameterValue::Plain("x".into()))];
        let values = Values::new(&client, &desired, [AMI.to_string(), "/p/plain".to_string()]);
        let (a, b) = tokio::join!(values.get(), values.get());
        let (a, b) = (a.expect("read"), b.expect("read"));
        assert_eq!(a.values.get("/p/plain"), Some(&ObservedValue::Plain("x".into())));
        assert!(b.invalid.contains(AMI), "{:?}", b.invalid);
        assert_eq!(get.num_calls(), 1);
    }
}
