//! Tags in each SDK's own shape, and the one way they are brought to the desired set: remove the
//! keys that should not be there, then (re)write every wanted tag if any differs. AWS's own
//! `aws:` tags are never touched (`model::tags::delta`).
//!
//! One function per tagging API; each sends at most two calls and none when nothing differs.

use std::future::Future;

use anyhow::Result;

use crate::aws::describe;
use crate::model::tags::{delta, Tags};
use crate::model::Address;

/// The generic sync: `remove` gets the keys to delete, `write` the full wanted set.
async fn sync<ER, EW, R, W, FR, FW>(address: &Address, have: &Tags, want: &Tags, remove: R, write: W) -> Result<()>
where
    ER: std::error::Error + 'static,
    EW: std::error::Error + 'static,
    R: FnOnce(Vec<String>) -> FR,
    W: FnOnce(Tags) -> FW,
    FR: Future<Output = Result<(), ER>>,
    FW: Future<Output = Result<(), EW>>,
{
    let (keys, wanted) = delta(have, want);
    if !keys.is_empty() {
        remove(keys).await.map_err(|e| anyhow::anyhow!("untagging {address}: {}", describe(&e)))?;
    }
    if let Some(wanted) = wanted {
        write(wanted).await.map_err(|e| anyhow::anyhow!("tagging {address}: {}", describe(&e)))?;
    }
    Ok(())
}

pub fn ec2(tags: &Tags) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter().map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build()).collect()
}

/// Tags for an EC2 create call (`TagSpecifications`).
pub fn ec2_spec(kind: aws_sdk_ec2::types::ResourceType, tags: &Tags) -> aws_sdk_ec2::types::TagSpecification {
    aws_sdk_ec2::types::TagSpecification::builder().resource_type(kind).set_tags(Some(ec2(tags))).build()
}

/// Any EC2 resource by id (VPC, subnet, gateway, launch template, …).
pub async fn sync_ec2(
    client: &aws_sdk_ec2::Client,
    address: &Address,
    id: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move {
            let keys = keys.iter().map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build()).collect();
            client.delete_tags().resources(id).set_tags(Some(keys)).send().await.map(drop)
        },
        |tags| async move { client.create_tags().resources(id).set_tags(Some(ec2(&tags))).send().await.map(drop) },
    )
    .await
}

pub fn elb(tags: &Tags) -> Vec<aws_sdk_elasticloadbalancingv2::types::Tag> {
    tags.iter().map(|(k, v)| aws_sdk_elasticloadbalancingv2::types::Tag::builder().key(k).value(v).build()).collect()
}

/// A load balancer, target group, listener or rule by ARN.
pub async fn sync_elb(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.remove_tags().resource_arns(arn).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move { client.add_tags().resource_arns(arn).set_tags(Some(elb(&tags))).send().await.map(drop) },
    )
    .await
}

pub fn ecs(tags: &Tags) -> Vec<aws_sdk_ecs::types::Tag> {
    tags.iter().map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build()).collect()
}

/// Tags from ECS's `{key, value}` list.
pub fn from_ecs(tags: &[aws_sdk_ecs::types::Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

/// An ECS cluster, service or capacity provider by ARN.
pub async fn sync_ecs(
    client: &aws_sdk_ecs::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move { client.tag_resource().resource_arn(arn).set_tags(Some(ecs(&tags))).send().await.map(drop) },
    )
    .await
}

pub fn ecr(tags: &Tags) -> Vec<aws_sdk_ecr::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_ecr::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

/// An ECR repository by ARN.
pub async fn sync_ecr(
    client: &aws_sdk_ecr::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move { client.tag_resource().resource_arn(arn).set_tags(Some(ecr(&tags))).send().await.map(drop) },
    )
    .await
}

pub fn ssm(tags: &Tags) -> Vec<aws_sdk_ssm::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

/// An SSM parameter by name.
pub async fn sync_ssm(
    client: &aws_sdk_ssm::Client,
    address: &Address,
    name: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    use aws_sdk_ssm::types::ResourceTypeForTagging::Parameter;
    sync(
        address,
        have,
        want,
        |keys| async move {
            client
                .remove_tags_from_resource()
                .resource_type(Parameter)
                .resource_id(name)
                .set_tag_keys(Some(keys))
                .send()
                .await
                .map(drop)
        },
        |tags| async move {
            let req = client.add_tags_to_resource().resource_type(Parameter).resource_id(name);
            req.set_tags(Some(ssm(&tags))).send().await.map(drop)
        },
    )
    .await
}

/// A CloudWatch Logs log group by ARN (without the `:*` suffix).
pub async fn sync_logs(
    client: &aws_sdk_cloudwatchlogs::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move {
            client.tag_resource().resource_arn(arn).set_tags(Some(tags.into_iter().collect())).send().await.map(drop)
        },
    )
    .await
}

pub fn sns(tags: &Tags) -> Vec<aws_sdk_sns::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

/// An SNS topic by ARN.
pub async fn sync_sns(
    client: &aws_sdk_sns::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move { client.tag_resource().resource_arn(arn).set_tags(Some(sns(&tags))).send().await.map(drop) },
    )
    .await
}

pub fn cloudwatch(tags: &Tags) -> Vec<aws_sdk_cloudwatch::types::Tag> {
    tags.iter().map(|(k, v)| aws_sdk_cloudwatch::types::Tag::builder().key(k).value(v).build()).collect()
}

/// A CloudWatch alarm by ARN.
pub async fn sync_cloudwatch(
    client: &aws_sdk_cloudwatch::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move {
            client.tag_resource().resource_arn(arn).set_tags(Some(cloudwatch(&tags))).send().await.map(drop)
        },
    )
    .await
}

/// An ACM certificate by ARN.
pub async fn sync_acm(
    client: &aws_sdk_acm::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    let acm = |tags: &Tags| -> Vec<aws_sdk_acm::types::Tag> {
        tags.iter().filter_map(|(k, v)| aws_sdk_acm::types::Tag::builder().key(k).value(v).build().ok()).collect()
    };
    sync(
        address,
        have,
        want,
        |keys| async move {
            let tags = keys.iter().filter_map(|k| aws_sdk_acm::types::Tag::builder().key(k).build().ok()).collect();
            client.remove_tags_from_certificate().certificate_arn(arn).set_tags(Some(tags)).send().await.map(drop)
        },
        |tags| async move {
            client.add_tags_to_certificate().certificate_arn(arn).set_tags(Some(acm(&tags))).send().await.map(drop)
        },
    )
    .await
}

pub fn iam(tags: &Tags) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

pub fn from_iam(tags: &[aws_sdk_iam::types::Tag]) -> Tags {
    tags.iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// An IAM role by name.
pub async fn sync_iam_role(
    client: &aws_sdk_iam::Client,
    address: &Address,
    name: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move { client.untag_role().role_name(name).set_tag_keys(Some(keys)).send().await.map(drop) },
        |tags| async move { client.tag_role().role_name(name).set_tags(Some(iam(&tags))).send().await.map(drop) },
    )
    .await
}

/// An IAM OIDC provider by ARN.
pub async fn sync_iam_oidc(
    client: &aws_sdk_iam::Client,
    address: &Address,
    arn: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move {
            let req = client.untag_open_id_connect_provider().open_id_connect_provider_arn(arn);
            req.set_tag_keys(Some(keys)).send().await.map(drop)
        },
        |tags| async move {
            let req = client.tag_open_id_connect_provider().open_id_connect_provider_arn(arn);
            req.set_tags(Some(iam(&tags))).send().await.map(drop)
        },
    )
    .await
}

/// A Route 53 hosted zone by id (both halves in one `ChangeTagsForResource`, so one call).
pub async fn sync_route53_zone(
    client: &aws_sdk_route53::Client,
    address: &Address,
    id: &str,
    have: &Tags,
    want: &Tags,
) -> Result<()> {
    use aws_sdk_route53::types::{Tag, TagResourceType};
    let (keys, wanted) = delta(have, want);
    if keys.is_empty() && wanted.is_none() {
        return Ok(());
    }
    let add: Option<Vec<Tag>> = wanted.map(|t| t.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect());
    client
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(id)
        .set_add_tags(add)
        .set_remove_tag_keys(Some(keys).filter(|k| !k.is_empty()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("tagging {address}: {}", describe(&e)))?;
    Ok(())
}

/// Auto Scaling group tags: written with the group's name and whether instances get them.
pub fn autoscaling(group: &str, tags: &Tags, propagate: impl Fn(&str) -> bool) -> Vec<aws_sdk_autoscaling::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(propagate(k))
                .build()
        })
        .collect()
}

/// An Auto Scaling group by name; `propagate` says which tags its instances get.
pub async fn sync_autoscaling(
    client: &aws_sdk_autoscaling::Client,
    address: &Address,
    group: &str,
    have: &Tags,
    want: &Tags,
    propagate: impl Fn(&str) -> bool,
) -> Result<()> {
    sync(
        address,
        have,
        want,
        |keys| async move {
            let list = keys.iter().map(|k| {
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(group)
                    .resource_type("auto-scaling-group")
                    .key(k)
                    .build()
            });
            client.delete_tags().set_tags(Some(list.collect())).send().await.map(drop)
        },
        |tags| async move {
            client.create_or_update_tags().set_tags(Some(autoscaling(group, &tags, propagate))).send().await.map(drop)
        },
    )
    .await
}
