//! AWS's eventual consistency as data: each rule names a call, the answer AWS gives while it has
//! not caught up with something that just happened (an error code, with message words only where
//! the code is generic; or a read's "not yet"), the event it follows, how long AWS may take (the
//! budget) and the evidence. `aws::consistency` applies them — one mechanism, around the calls the
//! rules name — and nothing else in the program retries an AWS error of its own accord.
//!
//! Invariants (tested below): every rule has a budget and evidence; the event a rule follows is
//! ordered before the call by the kind graph or the delete rules (`Kind::needs`,
//! `Kind::deleted_before`), so a rule never stands in for an ordering; no rule retries a delete's
//! NotFound (that is "done") or the codes the SDK and the lost-answer path own (throttling, 5xx).

use std::time::Duration;

use super::Kind;

macro_rules! calls {
    ($($variant:ident => $service:literal $operation:literal $kind:ident,)*) => {
        /// An AWS call a rule applies to, and the kind whose steps make it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Call { $($variant,)* }

        impl Call {
            #[cfg(test)]
            pub const ALL: &'static [Call] = &[$(Call::$variant,)*];

            /// The service as the API-call statistics name it (`EC2`, `ECS`, …).
            pub fn service(self) -> &'static str {
                match self { $(Call::$variant => $service,)* }
            }

            /// The API operation, as AWS names it.
            pub fn operation(self) -> &'static str {
                match self { $(Call::$variant => $operation,)* }
            }

            /// The kind whose steps make this call.
            #[cfg(test)]
            pub fn kind(self) -> Kind {
                match self { $(Call::$variant => Kind::$kind,)* }
            }
        }
    };
}

calls! {
    Ec2ModifyVpcAttribute => "EC2" "ModifyVpcAttribute" Vpc,
    Ec2DescribeSecurityGroups => "EC2" "DescribeSecurityGroups" Vpc,
    Ec2CreateSubnet => "EC2" "CreateSubnet" Subnet,
    Ec2AttachInternetGateway => "EC2" "AttachInternetGateway" InternetGateway,
    Ec2DetachInternetGateway => "EC2" "DetachInternetGateway" InternetGateway,
    Ec2DeleteInternetGateway => "EC2" "DeleteInternetGateway" InternetGateway,
    Ec2CreateNatGateway => "EC2" "CreateNatGateway" NatGateway,
    Ec2DescribeNatGateways => "EC2" "DescribeNatGateways" NatGateway,
    Ec2CreateRouteTable => "EC2" "CreateRouteTable" RouteTable,
    Ec2CreateRoute => "EC2" "CreateRoute" RouteTable,
    Ec2AssociateRouteTable => "EC2" "AssociateRouteTable" RouteTable,
    Ec2CreateSecurityGroup => "EC2" "CreateSecurityGroup" SecurityGroup,
    Ec2ReadGroupRules => "EC2" "DescribeSecurityGroups" SecurityGroupRules,
    Ec2AuthorizeSecurityGroupIngress => "EC2" "AuthorizeSecurityGroupIngress" SecurityGroupRules,
    Ec2AuthorizeSecurityGroupEgress => "EC2" "AuthorizeSecurityGroupEgress" SecurityGroupRules,
    Ec2RevokeSecurityGroupEgress => "EC2" "RevokeSecurityGroupEgress" SecurityGroupRules,
    Ec2CreateFlowLogs => "EC2" "CreateFlowLogs" FlowLog,
    Ec2DeleteSubnet => "EC2" "DeleteSubnet" Subnet,
    Ec2DeleteSecurityGroup => "EC2" "DeleteSecurityGroup" SecurityGroup,
    Ec2DeleteVpc => "EC2" "DeleteVpc" Vpc,
    IamCreateRole => "IAM" "CreateRole" IamRole,
    IamUpdateAssumeRolePolicy => "IAM" "UpdateAssumeRolePolicy" IamRole,
    IamAddRoleToInstanceProfile => "IAM" "AddRoleToInstanceProfile" IamRole,
    AcmDeleteCertificate => "ACM" "DeleteCertificate" Certificate,
    ElbCreateListener => "Elastic Load Balancing v2" "CreateListener" Listener,
    ElbModifyListener => "Elastic Load Balancing v2" "ModifyListener" Listener,
    ElbDeleteTargetGroup => "Elastic Load Balancing v2" "DeleteTargetGroup" TargetGroup,
    EcsCreateCluster => "ECS" "CreateCluster" EcsCluster,
    EcsDeleteCluster => "ECS" "DeleteCluster" EcsCluster,
    EcsRegisterTaskDefinition => "ECS" "RegisterTaskDefinition" TaskDefinition,
    EcsCreateService => "ECS" "CreateService" EcsService,
    EcsUpdateService => "ECS" "UpdateService" EcsService,
    EcsDescribeServices => "ECS" "DescribeServices" EcsService,
    EcsDeleteService => "ECS" "DeleteService" EcsService,
    EcsPutClusterCapacityProviders => "ECS" "PutClusterCapacityProviders" CapacityProvider,
    EcsDescribeCapacityProviders => "ECS" "DescribeCapacityProviders" CapacityProvider,
    AutoScalingCreateAutoScalingGroup => "Auto Scaling" "CreateAutoScalingGroup" AutoScalingGroup,
    AutoScalingDeleteAutoScalingGroup => "Auto Scaling" "DeleteAutoScalingGroup" AutoScalingGroup,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.service(), self.operation())
    }
}

/// What just happened that AWS has not caught up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// A resource of this kind was created (or its id first used) moments ago.
    Created(Kind),
    /// A resource of this kind was deleted moments ago.
    Deleted(Kind),
    /// A resource of this kind was changed moments ago (a detach, a deployment, a new association).
    Changed(Kind),
    /// The account's first use of the service: AWS creates its service-linked role on the way.
    FirstUse,
}

/// How the lag shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The call fails with one of `codes` (and, where given, a message containing one of
    /// `words`, compared case-insensitively); it is sent again until the budget is spent.
    Refused { codes: &'static [&'static str], words: &'static [&'static str] },
    /// A read succeeds but does not show the resource yet (or shows it still going, `state`):
    /// the read is made again until the budget is spent, never taken as the final answer.
    NotYet { state: &'static str },
}

#[derive(Debug)]
pub struct Rule {
    /// Named in progress lines, errors, `CONTAINRLAB_API_STATS` and the consistency proxy's tests.
    pub name: &'static str,
    pub calls: &'static [Call],
    pub answer: Answer,
    pub after: After,
    /// What is being waited for, for the progress line: `IAM to make the role usable by ECS`.
    pub waiting_for: &'static str,
    pub budget: Duration,
    /// What it means if AWS still answers so after the budget: the hint of the error.
    pub persists: &'static str,
    pub evidence: &'static str,
}

mod rules;

pub use rules::*;

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = |k: &Kind| {
            let noun = k.noun();
            let article = if noun.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            format!("{article} {noun}")
        };
        match self {
            After::Created(k) => write!(f, "after {} was created", a(k)),
            After::Deleted(k) => write!(f, "after {} was deleted", a(k)),
            After::Changed(k) => write!(f, "after {} was changed", a(k)),
            After::FirstUse => write!(f, "on the account's first use of the service"),
        }
    }
}

impl Rule {
    /// True when an error of `call` with this code and message is this rule's lag.
    pub fn matches(&self, call: Call, code: Option<&str>, message: Option<&str>) -> bool {
        let Answer::Refused { codes, words } = self.answer else { return false };
        let message = message.unwrap_or_default().to_ascii_lowercase();
        self.calls.contains(&call)
            && code.is_some_and(|c| codes.contains(&c))
            && (words.is_empty() || words.iter().any(|w| message.contains(w)))
    }
}

/// The rule whose lag an error of `call` is, if any.
pub fn lag_of(call: Call, code: Option<&str>, message: Option<&str>) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.matches(call, code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_name_calls_a_budget_and_evidence() {
        for r in RULES {
            assert!(!r.name.is_empty() && !r.calls.is_empty(), "{r:?}");
            assert!(r.budget >= Duration::from_secs(60), "{}: AWS's lags run to minutes", r.name);
            assert!(r.evidence.len() > 20 && !r.persists.is_empty() && !r.waiting_for.is_empty(), "{}", r.name);
            assert_eq!(RULES.iter().filter(|o| o.name == r.name).count(), 1, "{} is named twice", r.name);
            if let Answer::Refused { codes, words } = r.answer {
                assert!(!codes.is_empty(), "{}", r.name);
                assert!(words.iter().all(|w| *w == w.to_ascii_lowercase()), "{}: words are lowercase", r.name);
            }
        }
    }

    #[test]
    fn a_rule_never_stands_in_for_an_ordering() {
        for r in RULES {
            for call in r.calls {
                let kind = call.kind();
                let ordered = match r.after {
                    // What the call needs was created first: the kind graph says so.
                    After::Created(k) => kind == k || kind.needs(k) || needs_through_steps(kind, k),
                    // What had to go first went first: the delete rules say so.
                    After::Deleted(k) => kind == k || deleted_before(k, kind),
                    After::Changed(k) => kind == k || kind.needs(k) || k.needs(kind),
                    After::FirstUse => true,
                };
                assert!(ordered, "{}: {call} ({kind:?}) is not ordered after {:?}", r.name, r.after);
            }
        }
    }

    /// Creates of one kind that another kind's step makes: a role's instance profile is made by
    /// the role's own step; the delivery role of a flow log is a role.
    fn needs_through_steps(kind: Kind, created: Kind) -> bool {
        Kind::ALL.iter().any(|&k| kind.needs(k) && k.needs(created))
    }

    /// `first` goes before `then` on delete, directly or through other delete rules.
    fn deleted_before(first: Kind, then: Kind) -> bool {
        first.deleted_before(then).is_some()
            || Kind::ALL.iter().any(|&k| k != first && first.deleted_before(k).is_some() && deleted_before(k, then))
    }

    #[test]
    fn a_lag_is_told_by_call_code_and_words() {
        let msg = "The target group with targetGroupArn arn:… does not have an associated load balancer.";
        let rule = lag_of(Call::EcsCreateService, Some("InvalidParameterException"), Some(msg));
        assert_eq!(rule.map(|r| r.name), Some("service-target-group-attached"));
        // The same code with other words is a real error.
        assert!(lag_of(Call::EcsCreateService, Some("InvalidParameterException"), Some("bad subnet")).is_none());
        // The same code on a call the rule does not name is not its lag.
        assert!(lag_of(Call::Ec2DeleteVpc, Some("InvalidVpcID.NotFound"), None).is_none());
        assert_eq!(
            lag_of(Call::Ec2CreateSubnet, Some("InvalidVpcID.NotFound"), None).map(|r| r.name),
            Some("vpc-visible")
        );
        // Reads' "not yet" are never matched as errors.
        assert!(lag_of(Call::EcsDescribeServices, Some("MISSING"), None).is_none());
    }

    #[test]
    fn every_call_is_named_by_a_rule() {
        for call in Call::ALL {
            assert!(RULES.iter().any(|r| r.calls.contains(call)), "{call} is declared but no rule names it");
        }
    }
}
