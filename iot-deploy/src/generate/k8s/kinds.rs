//! Small serde types for the non-workload kinds (see `types` for the rules).

use serde::Serialize;

use super::types::{Labels, Meta, PodTemplate, Selector};

/// A kind with top-level fields other than `spec` (Namespace, ServiceAccount, ConfigMap, Secret).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plain {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta,
    pub automount_service_account_token: Option<bool>,
    #[serde(rename = "type")]
    pub secret_type: Option<&'static str>,
    pub data: Option<Labels>,
    pub string_data: Option<Labels>,
}

impl Plain {
    pub fn new(api_version: &'static str, kind: &'static str, metadata: Meta) -> Self {
        Plain {
            api_version,
            kind,
            metadata,
            automount_service_account_token: None,
            secret_type: None,
            data: None,
            string_data: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec {
    pub scale_target_ref: TargetRef,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub metrics: Vec<HpaMetric>,
    pub behavior: HpaBehavior,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
}

#[derive(Serialize)]
pub struct HpaMetric {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub resource: HpaResource,
}

#[derive(Serialize)]
pub struct HpaResource {
    pub name: &'static str,
    pub target: HpaTarget,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaTarget {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub average_utilization: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaBehavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingRules {
    pub stabilization_window_seconds: u32,
    pub select_policy: &'static str,
    pub policies: Vec<ScalingPolicy>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: u32,
    pub period_seconds: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    pub max_unavailable: u32,
    pub selector: Selector,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    pub ingress_class_name: Option<String>,
    pub tls: Vec<IngressTls>,
    pub rules: Vec<IngressRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    pub hosts: Vec<String>,
    pub secret_name: String,
}

#[derive(Serialize)]
pub struct IngressRule {
    pub host: String,
    pub http: IngressHttp,
}

#[derive(Serialize)]
pub struct IngressHttp {
    pub paths: Vec<IngressPath>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    pub path: &'static str,
    pub path_type: &'static str,
    pub backend: IngressBackend,
}

#[derive(Serialize)]
pub struct IngressBackend {
    pub service: BackendService,
}

#[derive(Serialize)]
pub struct BackendService {
    pub name: String,
    pub port: NamedPort,
}

#[derive(Serialize)]
pub struct NamedPort {
    pub name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    pub pod_selector: Selector,
    pub policy_types: Vec<&'static str>,
    pub ingress: Option<Vec<PolicyRule>>,
    pub egress: Option<Vec<PolicyRule>>,
}

#[derive(Serialize, Default, Clone)]
pub struct PolicyRule {
    pub from: Option<Vec<Peer>>,
    pub to: Option<Vec<Peer>>,
    pub ports: Vec<PolicyPort>,
}

#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    pub namespace_selector: Option<Selector>,
    pub pod_selector: Option<Selector>,
    pub ip_block: Option<IpBlock>,
}

#[derive(Serialize, Clone)]
pub struct IpBlock {
    pub cidr: String,
}

#[derive(Serialize, Clone)]
pub struct PolicyPort {
    pub protocol: &'static str,
    pub port: PortValue,
}

/// A port by number or by name.
#[derive(Serialize, Clone)]
#[serde(untagged)]
pub enum PortValue {
    Number(u32),
    Name(&'static str),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    pub schedule: String,
    pub time_zone: Option<String>,
    pub concurrency_policy: &'static str,
    pub starting_deadline_seconds: u32,
    pub successful_jobs_history_limit: u32,
    pub failed_jobs_history_limit: u32,
    pub job_template: JobTemplate,
}

#[derive(Serialize)]
pub struct JobTemplate {
    pub spec: JobSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub backoff_limit: u32,
    pub ttl_seconds_after_finished: u32,
    pub template: PodTemplate,
}
