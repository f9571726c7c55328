//! `listener.http` and `listener.https`: the HTTP listener redirects to HTTPS; the HTTPS one holds
//! the certificate and the TLS policy and answers a fixed status for hosts no rule matches.
//! Listeners share their load balancer's ownership (its tags), so their own tags, written at
//! create, are not compared.

use anyhow::Result;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as ElbAction, ActionTypeEnum, Certificate as ElbCertificate, FixedResponseActionConfig, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use super::{describe_action, ListenerFields};
use crate::aws::consistency;
use crate::aws::error::{failed, required};
use crate::aws::Clients;
use crate::diff::{foreign, Delta, FieldChange, FieldDiff, Path};
use crate::model::consistency::Call;
use crate::model::desired::Desired;
use crate::model::ingress::{Listener as Spec, ListenerAction};
use crate::model::tags::Tags;
use crate::model::usage::Usage;
use crate::model::{Address, Kind};
use crate::reconcile::contract::{untagged, ApplyCx, DiffCx, Resource};
use crate::reconcile::kit::Observed;
use crate::reconcile::tags;
use crate::reconcile::Group;

#[derive(Debug, Clone)]
pub struct Listener;

/// A listener and the load balancer it belongs to.
#[derive(Debug, Clone)]
pub struct DesiredListener {
    pub listener: Spec,
    pub load_balancer: String,
}

const PORT: Path = Path::field("port");
const DEFAULT_ACTION: Path = Path::field("default_action");
const SSL_POLICY: Path = Path::field("ssl_policy");
const CERTIFICATE: Path = Path::field("certificate");

impl Resource for Listener {
    const KIND: Kind = Kind::Listener;
    const GROUP: Group = Group::Edge;
    const OWNED_THROUGH: Option<Kind> = Some(Kind::LoadBalancer);
    const FIELDS: &'static [Path] = &[PORT, DEFAULT_ACTION, SSL_POLICY, CERTIFICATE];
    type Desired = DesiredListener;
    type Observed = Observed<ListenerFields>;

    fn usage(_: &Desired, _: &str) -> Option<Usage> {
        Some(Usage::free())
    }

    fn desired(cx: &DiffCx<'_>) -> Vec<DesiredListener> {
        let edge = cx.desired.ingress.iter();
        edge.flat_map(|e| {
            e.listeners
                .iter()
                .map(|l| DesiredListener { listener: l.clone(), load_balancer: e.load_balancer.name.clone() })
        })
        .collect()
    }

    fn observed(cx: &DiffCx<'_>) -> Vec<Observed<ListenerFields>> {
        cx.observed.edge.listeners.clone()
    }

    fn name(d: &DesiredListener) -> &str {
        &d.listener.name
    }

    fn fields(cx: &DiffCx<'_>, d: &DesiredListener, o: Option<&Observed<ListenerFields>>, _: &Tags) -> FieldDiff {
        let d = &d.listener;
        let mut f = FieldDiff::default();
        let of = o.map(|o| &o.fields);
        f.field(PORT, of.map(|o| Some(o.port)), Some(i32::from(d.port)));
        f.field(DEFAULT_ACTION, of.map(|o| Some(o.default_action.clone())), Some(describe_action(&d.action)));
        if let ListenerAction::Https { ssl_policy, certificate, .. } = &d.action {
            f.field(SSL_POLICY, of.map(|o| o.ssl_policy.clone()), Some(ssl_policy.clone()));
            let certificates = cx.ids.names(Kind::Certificate);
            let cert = |o: &ListenerFields| {
                let names: Vec<String> = o
                    .certificate_arns
                    .iter()
                    .map(|a| certificates.get(a).cloned().unwrap_or_else(|| foreign(a)))
                    .collect();
                (!names.is_empty()).then(|| names.join(", "))
            };
            f.field(CERTIFICATE, of.map(cert), Some(certificate.clone()));
        }
        f
    }

    fn depends_on(_: &DiffCx<'_>, d: &DesiredListener) -> Vec<Address> {
        let cert = match &d.listener.action {
            ListenerAction::Https { certificate, .. } => Some(Address::new(Kind::Certificate, certificate)),
            ListenerAction::RedirectToHttps => None,
        };
        std::iter::once(Address::new(Kind::LoadBalancer, &d.load_balancer)).chain(cert).collect()
    }

    /// A new TLS policy changes which clients and ciphers are let in (a downgrade is the risk).
    fn widens_access(fields: &[FieldChange]) -> bool {
        fields.iter().any(|f| f.is(SSL_POLICY) && f.before.is_some())
    }

    fn tag_id(_: &Self::Observed) -> &str {
        ""
    }

    async fn tag(_: &Clients, address: &Address, _: &str, _: &Tags, _: &Tags) -> Result<()> {
        untagged(address)
    }

    async fn create(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredListener,
        _: Option<&Self::Observed>,
    ) -> Result<String> {
        let (protocol, action, ssl_policy, certificate) = settings(cx, &d.listener)?;
        // A certificate issued moments ago may not be visible to ELB yet (`listener-certificate`).
        let request = cx
            .clients
            .elb
            .create_listener()
            .load_balancer_arn(cx.ids.get(&Address::new(Kind::LoadBalancer, &d.load_balancer))?)
            .port(i32::from(d.listener.port))
            .protocol(protocol)
            .default_actions(action)
            .set_ssl_policy(ssl_policy)
            .set_certificates(certificate)
            .set_tags(Some(tags::elb(&cx.tags(address))));
        let create = || async { request.clone().send().await.map_err(|e| failed("creating", address, &e)) };
        let out = consistency::retry(Call::ElbCreateListener, address, create).await?;
        Ok(required(out.listeners().first().and_then(|l| l.listener_arn()), "creating", address, "listenerArn")?
            .to_string())
    }

    async fn update(
        cx: &ApplyCx<'_>,
        address: &Address,
        d: &DesiredListener,
        o: &Observed<ListenerFields>,
        delta: &Delta<'_>,
    ) -> Result<()> {
        // ModifyListener takes the whole definition: one call whatever changed.
        delta.all();
        let (protocol, action, ssl_policy, certificate) = settings(cx, &d.listener)?;
        let request = cx
            .clients
            .elb
            .modify_listener()
            .listener_arn(&o.id)
            .port(i32::from(d.listener.port))
            .protocol(protocol)
            .default_actions(action)
            .set_ssl_policy(ssl_policy)
            .set_certificates(certificate);
        let modify = || async { request.clone().send().await.map_err(|e| failed("updating", address, &e)) };
        consistency::retry(Call::ElbModifyListener, address, modify).await?;
        Ok(())
    }

    async fn delete(cx: &ApplyCx<'_>, address: &Address, o: &Observed<ListenerFields>) -> Result<()> {
        cx.clients
            .elb
            .delete_listener()
            .listener_arn(&o.id)
            .send()
            .await
            .map_err(|e| failed("deleting", address, &e))?;
        Ok(())
    }
}

type Settings = (ProtocolEnum, ElbAction, Option<String>, Option<Vec<ElbCertificate>>);

/// Protocol, default action, TLS policy and certificate of a listener, as the API takes them.
fn settings(cx: &ApplyCx<'_>, d: &Spec) -> Result<Settings> {
    Ok(match &d.action {
        ListenerAction::RedirectToHttps => {
            let redirect = RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build();
            let action = ElbAction::builder().r#type(ActionTypeEnum::Redirect).redirect_config(redirect).build();
            (ProtocolEnum::Http, action, None, None)
        }
        ListenerAction::Https { ssl_policy, certificate, default_status } => {
            let fixed = FixedResponseActionConfig::builder()
                .status_code(default_status.to_string())
                .content_type("text/plain")
                .build();
            let action =
                ElbAction::builder().r#type(ActionTypeEnum::FixedResponse).fixed_response_config(fixed).build();
            let arn = cx.ids.get(&Address::new(Kind::Certificate, certificate))?;
            let certificates = vec![ElbCertificate::builder().certificate_arn(arn).build()];
            (ProtocolEnum::Https, action, Some(ssl_policy.clone()), Some(certificates))
        }
    })
}
