//! The consistency rules themselves: one `Rule` per lag of AWS the stack meets, with its budget
//! and evidence, and `RULES`, the list `lag_of` searches. The types are in the parent module.

use std::time::Duration;

use super::{After, Answer, Call, Rule};
use crate::model::Kind;

const IAM: Duration = Duration::from_secs(120);
const EC2: Duration = Duration::from_secs(300);
const TEN_MINUTES: Duration = Duration::from_secs(600);

const IAM_EVIDENCE: &str = "IAM User Guide, troubleshooting eventual consistency (changes take time to be visible to other services); terraform-provider-aws iamPropagationTimeout = 2 min";
const EC2_EVIDENCE: &str = "EC2 API reference, eventual consistency (a new id may not be visible to the next call); terraform-provider-aws ec2PropagationTimeout = 5 min";
const IAM_PERSISTS: &str = "IAM normally catches up within seconds: check that the role exists, its trust names the service, and the caller may pass it";
const EC2_PERSISTS: &str =
    "EC2 normally sees a new id within seconds: check that the resource still exists (deleted by hand?)";

const fn refused(codes: &'static [&'static str], words: &'static [&'static str]) -> Answer {
    Answer::Refused { codes, words }
}

pub const FLOW_LOG_ROLE: Rule = Rule {
    name: "flow-log-role",
    calls: &[Call::Ec2CreateFlowLogs],
    answer: refused(&["InvalidParameter"], &["unable to assume given iam role"]),
    after: After::Created(Kind::IamRole),
    waiting_for: "VPC Flow Logs to be able to assume the delivery role",
    budget: IAM,
    persists: IAM_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ec2/vpc_flow_log.go: CreateFlowLogs retried on InvalidParameter \"Unable to assume given IAM role\" for iamPropagationTimeout",
};

pub const TASK_DEFINITION_ROLE: Rule = Rule {
    name: "task-definition-role",
    calls: &[Call::EcsRegisterTaskDefinition],
    answer: refused(&["ClientException"], &["role is not valid"]),
    after: After::Created(Kind::IamRole),
    waiting_for: "ECS to see the task and execution roles",
    budget: IAM,
    persists: IAM_PERSISTS,
    evidence: IAM_EVIDENCE,
};

pub const TASK_DEFINITION_PASS_ROLE: Rule = Rule {
    name: "task-definition-pass-role",
    calls: &[Call::EcsRegisterTaskDefinition],
    answer: refused(&["AccessDeniedException"], &["iam:passrole"]),
    after: After::Created(Kind::IamRole),
    waiting_for: "IAM to let ECS pass the new roles",
    budget: IAM,
    persists: "the caller may lack iam:PassRole on the task's roles: grant it (the deploy role's policy names them)",
    evidence: IAM_EVIDENCE,
};

pub const SERVICE_ROLE: Rule = Rule {
    name: "service-role",
    calls: &[Call::EcsCreateService],
    answer: refused(&["InvalidParameterException"], &["unable to assume role", "service role being passed"]),
    after: After::Created(Kind::IamRole),
    waiting_for: "ECS to be able to assume its role for the service",
    budget: IAM,
    persists: IAM_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ecs/service.go: CreateService retried on InvalidParameterException \"verify that the ECS service role being passed has the proper permissions\" for propagationTimeout (2 min)",
};

pub const SERVICE_TARGET_GROUP: Rule = Rule {
    name: "service-target-group-attached",
    calls: &[Call::EcsCreateService, Call::EcsUpdateService],
    answer: refused(&["InvalidParameterException"], &["does not have an associated load balancer"]),
    after: After::Created(Kind::ListenerRule),
    waiting_for: "ECS to see the listener rule that attaches the target group to the load balancer",
    budget: IAM,
    persists: "check that a listener or rule forwards to the service's target group",
    evidence: "terraform-provider-aws internal/service/ecs/service.go: CreateService and UpdateService retried on InvalidParameterException \"does not have an associated load balancer\" for propagationTimeout (2 min)",
};

pub const SERVICE_CLUSTER: Rule = Rule {
    name: "service-cluster-visible",
    calls: &[Call::EcsCreateService],
    answer: refused(&["ClusterNotFoundException"], &[]),
    after: After::Created(Kind::EcsCluster),
    waiting_for: "ECS to see the new cluster",
    budget: IAM,
    persists: "check that the cluster exists (deleted by hand?)",
    evidence: "terraform-provider-aws internal/service/ecs/service.go: CreateService retried on ClusterNotFoundException for propagationTimeout (2 min)",
};

pub const GROUP_INSTANCE_PROFILE: Rule = Rule {
    name: "group-instance-profile",
    calls: &[Call::AutoScalingCreateAutoScalingGroup],
    answer: refused(&["ValidationError"], &["iam instance profile", "iaminstanceprofile"]),
    after: After::Created(Kind::IamRole),
    waiting_for: "EC2 Auto Scaling to see the new instance profile",
    budget: IAM,
    persists: IAM_PERSISTS,
    evidence: IAM_EVIDENCE,
};

pub const INSTANCE_PROFILE_ROLE: Rule = Rule {
    name: "instance-profile-role",
    calls: &[Call::IamAddRoleToInstanceProfile],
    answer: refused(&["NoSuchEntity"], &[]),
    after: After::Created(Kind::IamRole),
    waiting_for: "IAM to see the new role and instance profile",
    budget: IAM,
    persists: IAM_PERSISTS,
    evidence: "terraform-provider-aws internal/service/iam/instance_profile.go: AddRoleToInstanceProfile retried on NoSuchEntity for propagationTimeout (2 min)",
};

pub const TRUST_PRINCIPAL: Rule = Rule {
    name: "trust-principal",
    calls: &[Call::IamCreateRole, Call::IamUpdateAssumeRolePolicy],
    answer: refused(&["MalformedPolicyDocument"], &["invalid principal"]),
    after: After::Created(Kind::IamOidcProvider),
    waiting_for: "IAM to accept the new principal the trust policy names",
    budget: IAM,
    persists: "check the principal the trust policy names (the OIDC provider, a role) exists",
    evidence: "terraform-provider-aws internal/service/iam/role.go: CreateRole retried on MalformedPolicyDocument \"Invalid principal in policy\" for propagationTimeout (2 min)",
};

pub const ECS_SERVICE_LINKED_ROLE: Rule = Rule {
    name: "ecs-service-linked-role",
    calls: &[Call::EcsCreateCluster],
    answer: refused(&["InvalidParameterException"], &["service linked role"]),
    after: After::FirstUse,
    waiting_for: "ECS's service-linked role (AWSServiceRoleForECS) in a new account",
    budget: IAM,
    persists: "create it once: `aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com` (needs iam:CreateServiceLinkedRole)",
    evidence: "ECS Developer Guide, service-linked role (created on first use); terraform-provider-aws internal/service/ecs/cluster.go retryClusterCreate: InvalidParameterException \"Unable to assume the service linked role\" for propagationTimeout",
};

pub const LISTENER_CERTIFICATE: Rule = Rule {
    name: "listener-certificate",
    calls: &[Call::ElbCreateListener, Call::ElbModifyListener],
    answer: refused(&["CertificateNotFound"], &[]),
    after: After::Created(Kind::Certificate),
    waiting_for: "Elastic Load Balancing to see the issued certificate",
    budget: EC2,
    persists: "check the certificate is ISSUED in this region",
    evidence: "terraform-provider-aws internal/service/elbv2/listener.go: CreateListener and ModifyListener retried on CertificateNotFoundException for the create/update timeout (5 min)",
};

pub const VPC_VISIBLE: Rule = Rule {
    name: "vpc-visible",
    calls: &[
        Call::Ec2ModifyVpcAttribute,
        Call::Ec2CreateSubnet,
        Call::Ec2CreateSecurityGroup,
        Call::Ec2CreateRouteTable,
        Call::Ec2AttachInternetGateway,
        Call::Ec2CreateFlowLogs,
    ],
    answer: refused(&["InvalidVpcID.NotFound"], &[]),
    after: After::Created(Kind::Vpc),
    waiting_for: "EC2 to see the new VPC",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: EC2_EVIDENCE,
};

pub const INTERNET_GATEWAY_VISIBLE: Rule = Rule {
    name: "internet-gateway-visible",
    calls: &[Call::Ec2AttachInternetGateway, Call::Ec2CreateRoute],
    answer: refused(&["InvalidInternetGatewayID.NotFound", "InvalidGatewayID.NotFound"], &[]),
    after: After::Created(Kind::InternetGateway),
    waiting_for: "EC2 to see the new internet gateway",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ec2/vpc_internet_gateway.go: AttachInternetGateway retried on InvalidInternetGatewayID.NotFound for ec2PropagationTimeout (5 min)",
};

pub const ROUTE_TABLE_VISIBLE: Rule = Rule {
    name: "route-table-visible",
    calls: &[Call::Ec2CreateRoute, Call::Ec2AssociateRouteTable],
    answer: refused(&["InvalidRouteTableID.NotFound"], &[]),
    after: After::Created(Kind::RouteTable),
    waiting_for: "EC2 to see the new route table",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ec2/vpc_route.go and vpc_route_table_association.go: retried on InvalidRouteTableID.NotFound for ec2PropagationTimeout (5 min)",
};

pub const SUBNET_VISIBLE: Rule = Rule {
    name: "subnet-visible",
    calls: &[Call::Ec2AssociateRouteTable, Call::Ec2CreateNatGateway],
    answer: refused(&["InvalidSubnetID.NotFound"], &[]),
    after: After::Created(Kind::Subnet),
    waiting_for: "EC2 to see the new subnet",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: EC2_EVIDENCE,
};

pub const SECURITY_GROUP_VISIBLE: Rule = Rule {
    name: "security-group-visible",
    calls: &[
        Call::Ec2ReadGroupRules,
        Call::Ec2AuthorizeSecurityGroupIngress,
        Call::Ec2AuthorizeSecurityGroupEgress,
        Call::Ec2RevokeSecurityGroupEgress,
    ],
    answer: refused(&["InvalidGroup.NotFound"], &[]),
    after: After::Created(Kind::SecurityGroup),
    waiting_for: "EC2 to see the new security group",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ec2/vpc_security_group.go: reads after create retried on InvalidGroup.NotFound for ec2PropagationTimeout (5 min)",
};

pub const ELASTIC_IP_VISIBLE: Rule = Rule {
    name: "elastic-ip-visible",
    calls: &[Call::Ec2CreateNatGateway],
    answer: refused(&["InvalidAllocationID.NotFound"], &[]),
    after: After::Created(Kind::ElasticIp),
    waiting_for: "EC2 to see the new Elastic IP",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: EC2_EVIDENCE,
};

pub const NAT_GATEWAY_VISIBLE: Rule = Rule {
    name: "nat-gateway-visible",
    calls: &[Call::Ec2DescribeNatGateways],
    answer: Answer::NotYet { state: "not listed yet" },
    after: After::Created(Kind::NatGateway),
    waiting_for: "EC2 to list the new NAT gateway",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ec2/wait.go waitNATGatewayCreated: a gateway not found yet is pending while it is new (ec2PropagationTimeout)",
};

pub const DEFAULT_GROUP_LISTED: Rule = Rule {
    name: "default-group-listed",
    calls: &[Call::Ec2DescribeSecurityGroups],
    answer: Answer::NotYet { state: "the new VPC's default security group is not listed yet" },
    after: After::Created(Kind::Vpc),
    waiting_for: "EC2 to list the new VPC's default security group",
    budget: EC2,
    persists: EC2_PERSISTS,
    evidence: "terraform-provider-aws internal/service/ec2/vpc_.go: the default security group is read with retries after CreateVpc (ec2PropagationTimeout)",
};

pub const TARGET_GROUP_RELEASED: Rule = Rule {
    name: "target-group-released",
    calls: &[Call::ElbDeleteTargetGroup],
    answer: refused(&["ResourceInUse"], &[]),
    after: After::Deleted(Kind::Listener),
    waiting_for: "Elastic Load Balancing to release the target group from the deleted listener or rule",
    budget: IAM,
    persists: "a listener or rule still forwards to it: check the load balancer's listeners",
    evidence: "terraform-provider-aws internal/service/elbv2/target_group.go: DeleteTargetGroup retried on ResourceInUse \"is currently in use by a listener or a rule\" for 2 min",
};

pub const CERTIFICATE_RELEASED: Rule = Rule {
    name: "certificate-released",
    calls: &[Call::AcmDeleteCertificate],
    answer: refused(&["ResourceInUseException"], &[]),
    after: After::Deleted(Kind::Listener),
    waiting_for: "ACM to see that no listener uses the certificate",
    budget: EC2,
    persists: "something still uses the certificate: see its InUseBy list",
    evidence: "ACM API reference DeleteCertificate (ResourceInUseException while in use by another service); terraform-provider-aws internal/service/acm/certificate.go retries it after the load balancer releases the certificate",
};

pub const NETWORK_INTERFACES_RELEASED: Rule = Rule {
    name: "network-interfaces-released",
    calls: &[Call::Ec2DeleteSubnet, Call::Ec2DeleteSecurityGroup, Call::Ec2DetachInternetGateway, Call::Ec2DeleteVpc],
    answer: refused(&["DependencyViolation"], &[]),
    after: After::Deleted(Kind::LoadBalancer),
    waiting_for: "EC2 to release the network interfaces and public addresses of what was deleted",
    budget: TEN_MINUTES,
    persists: "network interfaces are still in it: see which, and what owns them",
    evidence: "Elastic Load Balancing and ECS release their network interfaces minutes after the delete returns; terraform-provider-aws internal/service/ec2/vpc_subnet.go and vpc_security_group.go retry DependencyViolation on delete",
};

pub const INTERNET_GATEWAY_DETACHED: Rule = Rule {
    name: "internet-gateway-detached",
    calls: &[Call::Ec2DeleteInternetGateway],
    answer: refused(&["DependencyViolation"], &[]),
    after: After::Changed(Kind::InternetGateway),
    waiting_for: "EC2 to finish detaching the internet gateway",
    budget: EC2,
    persists: "the gateway is still attached to a VPC: detach it",
    evidence: "terraform-provider-aws internal/service/ec2/vpc_internet_gateway.go: DeleteInternetGateway retried on DependencyViolation for the delete timeout",
};

pub const CLUSTER_EMPTIED: Rule = Rule {
    name: "cluster-emptied",
    calls: &[Call::EcsDeleteCluster],
    answer: refused(
        &[
            "ClusterContainsServicesException",
            "ClusterContainsTasksException",
            "ClusterContainsContainerInstancesException",
            "UpdateInProgressException",
        ],
        &[],
    ),
    after: After::Deleted(Kind::EcsService),
    waiting_for: "ECS to finish draining the cluster's services, tasks and instances",
    budget: TEN_MINUTES,
    persists: "the cluster still has services, tasks or container instances: `status` names them",
    evidence: "terraform-provider-aws internal/service/ecs/cluster.go: DeleteCluster retried on ClusterContains{ContainerInstances,Services,Tasks}Exception and UpdateInProgressException for 10 min",
};

pub const GROUP_SCALING_ACTIVITY: Rule = Rule {
    name: "group-scaling-activity",
    calls: &[Call::AutoScalingDeleteAutoScalingGroup],
    answer: refused(&["ScalingActivityInProgress", "ResourceInUse"], &[]),
    after: After::Created(Kind::AutoScalingGroup),
    waiting_for: "EC2 Auto Scaling to finish the group's scaling activity",
    budget: TEN_MINUTES,
    persists: "the group's activity is stuck: see `aws autoscaling describe-scaling-activities`",
    evidence: "terraform-provider-aws internal/service/autoscaling/group.go: DeleteAutoScalingGroup retried on ResourceInUse and ScalingActivityInProgress for the delete timeout",
};

pub const SERVICE_DEPLOYMENT_ACTIVE: Rule = Rule {
    name: "service-deployment-active",
    calls: &[Call::EcsDeleteService],
    answer: refused(&["InvalidParameterException"], &["cannot be stopped while deployments are active"]),
    after: After::Changed(Kind::EcsService),
    waiting_for: "ECS to let the service's active deployment go",
    budget: TEN_MINUTES,
    persists: "the service's deployment is stuck: see its events (`status`)",
    evidence: "terraform-provider-aws internal/service/ecs/service.go: DeleteService retried on InvalidParameterException \"The service cannot be stopped while deployments are active.\" for the delete timeout",
};

pub const CLUSTER_UPDATE_IN_PROGRESS: Rule = Rule {
    name: "cluster-update-in-progress",
    calls: &[Call::EcsPutClusterCapacityProviders],
    answer: refused(&["UpdateInProgressException", "ResourceInUseException"], &[]),
    after: After::Changed(Kind::EcsCluster),
    waiting_for: "ECS to finish the cluster's previous capacity-provider update",
    budget: TEN_MINUTES,
    persists: "the cluster's update is stuck: see the cluster's attachments",
    evidence: "terraform-provider-aws internal/service/ecs/cluster.go retryClusterCapacityProvidersPut: ResourceInUseException and UpdateInProgressException retried for clusterUpdateTimeout (10 min)",
};

pub const CAPACITY_PROVIDER_DELETING: Rule = Rule {
    name: "capacity-provider-deleting",
    calls: &[Call::EcsDescribeCapacityProviders],
    answer: Answer::NotYet { state: "DELETE_IN_PROGRESS" },
    after: After::Deleted(Kind::CapacityProvider),
    waiting_for: "ECS to finish deleting the capacity provider",
    budget: Duration::from_secs(1200),
    persists: "the delete is stuck: a cluster may still hold the provider",
    evidence: "ECS API reference DeleteCapacityProvider (updateStatus DELETE_IN_PROGRESS → DELETE_COMPLETE, DELETE_FAILED while a cluster holds it); terraform-provider-aws internal/service/ecs/wait.go waitCapacityProviderDeleted, capacityProviderDeleteTimeout = 20 min",
};

pub const SERVICE_VISIBLE: Rule = Rule {
    name: "service-visible",
    calls: &[Call::EcsDescribeServices],
    answer: Answer::NotYet { state: "MISSING" },
    after: After::Created(Kind::EcsService),
    waiting_for: "ECS to list the new service",
    budget: IAM,
    persists: "check the service exists in its cluster (deleted by hand?)",
    evidence: "ECS API reference, eventual consistency of Describe* after Create*; terraform-provider-aws internal/service/ecs/wait.go waitServiceDescribeReady (serviceDescribeTimeout = 2 min)",
};

/// Every rule, for the tests and the documentation.
pub const RULES: &[&Rule] = &[
    &FLOW_LOG_ROLE,
    &TASK_DEFINITION_ROLE,
    &TASK_DEFINITION_PASS_ROLE,
    &SERVICE_ROLE,
    &SERVICE_TARGET_GROUP,
    &SERVICE_CLUSTER,
    &GROUP_INSTANCE_PROFILE,
    &INSTANCE_PROFILE_ROLE,
    &TRUST_PRINCIPAL,
    &ECS_SERVICE_LINKED_ROLE,
    &LISTENER_CERTIFICATE,
    &VPC_VISIBLE,
    &INTERNET_GATEWAY_VISIBLE,
    &ROUTE_TABLE_VISIBLE,
    &SUBNET_VISIBLE,
    &SECURITY_GROUP_VISIBLE,
    &ELASTIC_IP_VISIBLE,
    &NAT_GATEWAY_VISIBLE,
    &DEFAULT_GROUP_LISTED,
    &TARGET_GROUP_RELEASED,
    &CERTIFICATE_RELEASED,
    &NETWORK_INTERFACES_RELEASED,
    &INTERNET_GATEWAY_DETACHED,
    &CLUSTER_EMPTIED,
    &GROUP_SCALING_ACTIVITY,
    &SERVICE_DEPLOYMENT_ACTIVE,
    &CLUSTER_UPDATE_IN_PROGRESS,
    &CAPACITY_PROVIDER_DELETING,
    &SERVICE_VISIBLE,
];
