//! The images a deploy rolls out, as ECR has them: each tag resolved to its digest, and the CPU
//! architectures the image was built for, read from its manifest.
//!
//! A multi-platform image (an OCI index or a Docker manifest list, what `docker buildx` pushes)
//! names its platforms in the manifest itself; attestation entries (`unknown/unknown`) are
//! skipped. A single-platform manifest names only its config blob, whose `architecture` field is
//! read through `GetDownloadUrlForLayer` and one HTTPS GET of the pre-signed URL (`blob`).
//!
//! Invariant: nothing here changes AWS; a missing tag or an unreadable manifest is an error that
//! names the image, before any mutating call of the deploy.

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_ecr::types::{ImageFailureCode, ImageIdentifier};
use aws_sdk_ecr::Client;
use serde_json::Value;

use crate::aws::describe;

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// One tag of one repository, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub repository: String,
    pub tag: String,
    /// `sha256:…`, what the task definition pins.
    pub digest: String,
    /// OCI names (`arm64`, `amd64`) of the Linux platforms the image runs on.
    pub architectures: Vec<String>,
}

impl Image {
    /// `REGISTRY/REPOSITORY@sha256:…` for a registry host like `123.dkr.ecr.us-east-1.amazonaws.com`.
    pub fn pinned(&self, registry: &str) -> String {
        format!("{registry}/{}@{}", self.repository, self.digest)
    }
}

/// The OCI architecture name of an ECS `cpuArchitecture` (`ARM64`, `X86_64`; absent means X86_64).
pub fn oci_architecture(ecs: Option<&str>) -> &'static str {
    match ecs {
        Some(a) if a.eq_ignore_ascii_case("ARM64") => "arm64",
        _ => "amd64",
    }
}

/// Finds `repository:tag` and reads its platforms. Fails when the tag or the repository is not there.
pub async fn lookup(ecr: &Client, repository: &str, tag: &str) -> Result<Image> {
    find(ecr, repository, tag).await?.ok_or_else(|| anyhow!("repository {repository} does not exist in ECR"))
}

/// Like `lookup`, but a repository that does not exist (yet) is `None`, not an error.
pub async fn find(ecr: &Client, repository: &str, tag: &str) -> Result<Option<Image>> {
    let out = ecr
        .batch_get_image()
        .repository_name(repository)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .set_accepted_media_types(Some([INDEX, LIST, OCI_MANIFEST, DOCKER_MANIFEST].map(String::from).to_vec()))
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => return Ok(None),
        Err(e) => bail!("reading image {repository}:{tag} from ECR: {}", describe(&e)),
    };
    if let Some(f) = out.failures().first() {
        let reason = f.failure_reason().unwrap_or_default();
        if f.failure_code() == Some(&ImageFailureCode::ImageNotFound)
            || f.failure_code() == Some(&ImageFailureCode::ImageTagDoesNotMatchDigest)
        {
            bail!("image {repository}:{tag} is not in ECR ({reason}): push it first, or deploy a tag that exists");
        }
        bail!("reading image {repository}:{tag} from ECR: {reason}");
    }
    let Some(found) = out.images().first() else {
        bail!("image {repository}:{tag} is not in ECR: push it first, or deploy a tag that exists")
    };
    let digest = found.image_id().and_then(|i| i.image_digest()).unwrap_or_default().to_string();
    if !digest.starts_with("sha256:") {
        bail!("image {repository}:{tag}: ECR reported no sha256 digest (got {digest:?})");
    }
    let manifest: Value = serde_json::from_str(found.image_manifest().unwrap_or_default())
        .with_context(|| format!("image {repository}:{tag}: its manifest is not JSON"))?;
    let media_type = found
        .image_manifest_media_type()
        .or_else(|| manifest.get("mediaType").and_then(Value::as_str))
        .unwrap_or(DOCKER_MANIFEST)
        .to_string();
    let architectures = match platforms(&manifest, &media_type) {
        Some(list) => list,
        None => {
            let config = manifest.pointer("/config/digest").and_then(Value::as_str).ok_or_else(|| {
                anyhow!("image {repository}:{tag}: its manifest ({media_type}) names neither platforms nor a config")
            })?;
            vec![config_architecture(ecr, repository, config)
                .await
                .with_context(|| format!("image {repository}:{tag}: reading its architecture from its config"))?]
        }
    };
    Ok(Some(Image { repository: repository.to_string(), tag: tag.to_string(), digest, architectures }))
}

/// The Linux platforms a multi-platform manifest lists; `None` for a single-platform manifest.
pub fn platforms(manifest: &Value, media_type: &str) -> Option<Vec<String>> {
    if media_type != INDEX && media_type != LIST {
        return None;
    }
    let mut out: Vec<String> = manifest
        .get("manifests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("platform"))
        .filter(|p| p.get("os").and_then(Value::as_str) == Some("linux"))
        .filter_map(|p| p.get("architecture").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// The `architecture` of a single-platform image, from its config blob.
async fn config_architecture(ecr: &Client, repository: &str, digest: &str) -> Result<String> {
    let out = ecr
        .get_download_url_for_layer()
        .repository_name(repository)
        .layer_digest(digest)
        .send()
        .await
        .map_err(|e| anyhow!("GetDownloadUrlForLayer: {}", describe(&e)))?;
    let url = out.download_url().ok_or_else(|| anyhow!("GetDownloadUrlForLayer returned no URL"))?;
    let config: Value = serde_json::from_slice(&super::blob::get(url).await?).context("the config blob is not JSON")?;
    config
        .get("architecture")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the config blob has no `architecture`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_index_lists_its_linux_platforms_and_skips_attestations() {
        let index = json!({"mediaType": INDEX, "manifests": [
            {"digest": "sha256:a", "platform": {"architecture": "arm64", "os": "linux"}},
            {"digest": "sha256:b", "platform": {"architecture": "amd64", "os": "linux"}},
            {"digest": "sha256:c", "platform": {"architecture": "unknown", "os": "unknown"}}
        ]});
        assert_eq!(platforms(&index, INDEX), Some(vec!["amd64".to_string(), "arm64".to_string()]));
        assert_eq!(platforms(&index, LIST), Some(vec!["amd64".to_string(), "arm64".to_string()]));
    }

    #[test]
    fn a_single_manifest_has_no_platform_list() {
        let single = json!({"mediaType": DOCKER_MANIFEST, "config": {"digest": "sha256:c"}});
        assert_eq!(platforms(&single, DOCKER_MANIFEST), None);
        assert_eq!(platforms(&single, OCI_MANIFEST), None);
    }

    fn ecr_with(rules: &[&aws_smithy_mocks::Rule]) -> Client {
        crate::aws::canned::canned_client!(aws_sdk_ecr, rules)
    }

    /// A single-platform manifest names only its config blob; moto has no GetDownloadUrlForLayer,
    /// so ECR's answers are canned and the pre-signed download is a loopback server.
    #[tokio::test]
    async fn a_single_platform_image_is_read_from_its_config_blob() {
        use aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput;
        use aws_sdk_ecr::operation::get_download_url_for_layer::GetDownloadUrlForLayerOutput;
        use aws_smithy_mocks::mock;
        let url = crate::reconcile::ecs::images::blob::tests::serve_once(
            "200 OK",
            r#"{"architecture":"amd64","os":"linux"}"#,
        )
        .await;
        let manifest = json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:cfg", "size": 40}});
        let get = mock!(Client::batch_get_image).then_output(move || {
            let image = aws_sdk_ecr::types::Image::builder()
                .image_id(ImageIdentifier::builder().image_tag("v1").image_digest("sha256:abc").build())
                .image_manifest(manifest.to_string())
                .image_manifest_media_type(DOCKER_MANIFEST)
                .build();
            BatchGetImageOutput::builder().images(image).build()
        });
        let download = mock!(Client::get_download_url_for_layer)
            .match_requests(|r| r.layer_digest() == Some("sha256:cfg"))
            .then_output(move || GetDownloadUrlForLayerOutput::builder().download_url(url.clone()).build());
        let ecr = ecr_with(&[&get, &download]);
        let image = lookup(&ecr, "containrlab-api", "v1").await.expect("looked up");
        assert_eq!(image.digest, "sha256:abc");
        assert_eq!(image.architectures, vec!["amd64".to_string()]);
        assert_eq!(download.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_tag_names_the_image() {
        use aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput;
        use aws_sdk_ecr::types::ImageFailure;
        use aws_smithy_mocks::mock;
        let get = mock!(Client::batch_get_image).then_output(|| {
            let failure = ImageFailure::builder()
                .failure_code(ImageFailureCode::ImageNotFound)
                .failure_reason("Requested image not found")
                .build();
            BatchGetImageOutput::builder().failures(failure).build()
        });
        let ecr = ecr_with(&[&get]);
        let err = lookup(&ecr, "containrlab-web", "v9").await.expect_err("missing").to_string();
        assert!(err.contains("image containrlab-web:v9 is not in ECR"), "{err}");
    }

    #[test]
    fn ecs_architectures_map_to_oci_names() {
        assert_eq!(oci_architecture(Some("ARM64")), "arm64");
        assert_eq!(oci_architecture(Some("X86_64")), "amd64");
        assert_eq!(oci_architecture(None), "amd64");
    }
}
