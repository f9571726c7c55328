//! `iam_oidc_provider.token.actions.githubusercontent.com`: GitHub Actions' OIDC provider, which
//! the CI deploy role trusts. A resource of this stack only when this stack creates it (or created
//! it before); one that exists without this stack's tags is used, never changed.

use anyhow::Result;

use super::OidcProvider;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{Delta, FieldDiff, Path, TAGS};
use crate::model::desired::Desired;
use crate::model::iam::GITHUB_OIDC_HOST;
use crate::model::tags::{owner, Owner, Tags};
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{ApplyCx, DiffCx, Resource};
use crate::reconcile::tags;
use crate::reconcile::Group;

/// GitHub's OIDC certificate thumbprints (AWS no longer checks them for GitHub, the API still asks).
const GITHUB_THUMBPRINTS: [&str; 2] =
    ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"];

#[derive(Debug, Clone)]
pub struct IamOidcProvider;

fn owned<'a>(cx: &'a DiffCx<'_>) -> Option<&'a OidcProvider> {
    cx.observed.iam.oidc.as_ref().filter(|p| owner(&cx.ctx.stack, &p.tags) == Owner::ThisStack)
}

const URL: Path = Path::field("url");

impl Resource for IamOidcProvider {
    const KIND: Kind = Kind::IamOidcProvider;
    const GROUP: Group = Group::Iam;
    const FIELDS: &'static [Path] = &[URL, TAGS];
    /// The provider's host.
    type Desired = String;
    type Observed = OidcProvider;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<String> {
        let wanted = cx.desired.iam.as_ref().is_some_and(|i| i.github_oidc);
        let ours_to_make = cx.observed.iam.oidc.is_none() || owned(cx).is_some();
        (wanted && ours_to_make).then(|| GITHUB_OIDC_HOST.to_string()).into_iter().collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<OidcProvider> {
        owned(cx).cloned().into_iter().collect()
    }

    fn name(d: &String) -> &str {
        d
    }

    fn fields(_: &DiffCx<'_>, _: &String, o: Option<&OidcProvider>, tags: &Tags) -> FieldDiff {
        let url = format!("https://{GITHUB_OIDC_HOST}");
        let mut f = FieldDiff::default();
        f.field(URL, o.map(|_| Some(url.clone())), Some(url.clone()));
        f.tags(o.map(|o| &o.tags), tags);
        f
    }

    fn tag_id(o: &Self::Observed) -> &str {
        &o.arn
    }

    async fn tag(clients: &Clients, address: &Address, id: &str, have: &Tags, want: &Tags) -> Result<()> {
        tags::sync_iam_oidc(&clients.iam, address, id, have, want).await
    }

    async fn create(cx: &ApplyCx<'_>, address: &Address, _: &String, _: Option<&OidcProvider>) -> Result<String> {
        let out = cx
            .clients
            .iam
            .create_open_id_connect_provider()
            .url(format!("https://{GITHUB_OIDC_HOST}"))
            .client_id_list("sts.amazonaws.com")
            .set_thumbprint_list(Some(GITHUB_THUMBPRINTS.iter().map(|t| t.to_string()).collect()))
            .set_tags(Some(tags::iam(&cx.tags(address))))
            .send()
            .await
            .map_err(|e| failed("creating", address, &e))?;
        Ok(required(out.open_id_connect_provider_arn(), "creating", address, "openIDConnectProviderArn")?.to_string())
    }

    /// Every field but the tags forces a replacement (`REPLACE_ON`) and the tags are the
    /// runner's: nothing is changed in place.
    async fn update(_: &ApplyCx<'_>, _: &Address, _: &String, _: &OidcProvider, _: &Delta<'_>) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &OidcProvider) -> Result<()> {
        let iam = &cx.clients.iam;
        iam.delete_open_id_connect_provider()
            .open_id_connect_provider_arn(&o.arn)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}
