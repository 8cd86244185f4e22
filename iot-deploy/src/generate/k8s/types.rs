//! Small serde types for the Kubernetes objects this crate emits.
//!
//! Only the fields the generators set exist here. A test deserializes every
//! emitted object into the matching `k8s-openapi` type and serializes it
//! back, proving that each field is spelled and shaped as the API expects.
//! `None` fields are left out of the output.

use std::collections::BTreeMap;

use serde::Serialize;

/// A label or annotation map (sorted, so output is stable).
pub type Labels = BTreeMap<String, String>;

#[derive(Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Option<Labels>,
    pub annotations: Option<Labels>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S: Serialize> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta,
    pub spec: Option<S>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub replicas: Option<u32>,
    pub revision_history_limit: u32,
    pub selector: Selector,
    pub strategy: Strategy,
    pub template: PodTemplate,
}

/// A StatefulSet: the broker (with its data volume), or a service whose
/// replicas need stable names (share-group members).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    pub replicas: Option<u32>,
    pub revision_history_limit: u32,
    pub service_name: String,
    pub pod_management_policy: Option<&'static str>,
    pub selector: Selector,
    pub update_strategy: UpdateStrategy,
    pub template: PodTemplate,
    pub volume_claim_templates: Option<Vec<ClaimTemplate>>,
}

#[derive(Serialize)]
pub struct UpdateStrategy {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A PersistentVolumeClaim template of a StatefulSet (immutable once created).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTemplate {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta,
    pub spec: ClaimSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSpec {
    pub access_modes: Vec<&'static str>,
    pub storage_class_name: Option<String>,
    pub resources: ClaimResources,
}

#[derive(Serialize)]
pub struct ClaimResources {
    pub requests: Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub rolling_update: RollingUpdate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    pub max_unavailable: u32,
    pub max_surge: u32,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    pub metadata: Meta,
    pub spec: PodSpec,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub service_account_name: Option<String>,
    pub automount_service_account_token: bool,
    pub enable_service_links: bool,
    pub restart_policy: Option<&'static str>,
    pub termination_grace_period_seconds: u32,
    pub security_context: PodSecurityContext,
    pub topology_spread_constraints: Option<Vec<TopologySpread>>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub run_as_non_root: bool,
    pub run_as_user: u32,
    pub run_as_group: u32,
    pub fs_group: u32,
    pub fs_group_change_policy: Option<&'static str>,
    pub seccomp_profile: Option<Seccomp>,
}

#[derive(Serialize, Clone)]
pub struct Seccomp {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpread {
    pub max_skew: u32,
    pub topology_key: &'static str,
    pub when_unsatisfiable: &'static str,
    pub label_selector: Selector,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    pub image_pull_policy: &'static str,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub ports: Option<Vec<ContainerPort>>,
    pub env: Option<Vec<EnvVar>>,
    pub resources: ResourceRequirements,
    pub liveness_probe: Option<Probe>,
    pub readiness_probe: Option<Probe>,
    pub startup_probe: Option<Probe>,
    pub security_context: ContainerSecurityContext,
    pub volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: &'static str,
    pub container_port: u32,
    pub protocol: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
    pub value_from: Option<EnvSource>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EnvSource {
    pub secret_key_ref: Option<KeyRef>,
    pub field_ref: Option<FieldRef>,
}

/// A field of the pod (the downward API), like `metadata.name`.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    pub field_path: &'static str,
}

#[derive(Serialize, Clone)]
pub struct KeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Serialize, Clone, Default)]
pub struct ResourceRequirements {
    pub requests: Option<Labels>,
    pub limits: Option<Labels>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: Option<HttpGet>,
    pub tcp_socket: Option<TcpSocket>,
    pub initial_delay_seconds: Option<u32>,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

#[derive(Serialize, Clone)]
pub struct HttpGet {
    pub path: String,
    pub port: &'static str,
}

/// A TCP connect to a named container port.
#[derive(Serialize, Clone)]
pub struct TcpSocket {
    pub port: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecurityContext {
    pub allow_privilege_escalation: bool,
    pub read_only_root_filesystem: bool,
    pub run_as_non_root: bool,
    pub capabilities: Option<Capabilities>,
}

#[derive(Serialize, Clone)]
pub struct Capabilities {
    pub drop: Vec<&'static str>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: &'static str,
    pub mount_path: String,
    pub read_only: bool,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: &'static str,
    pub empty_dir: Option<EmptyDir>,
    pub config_map: Option<ConfigMapVolume>,
    pub projected: Option<ProjectedVolume>,
}

/// Several Secrets' keys in one directory.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ProjectedVolume {
    pub default_mode: u32,
    pub sources: Vec<Projection>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    pub secret: Option<SecretProjection>,
    pub config_map: Option<SecretProjection>,
}

#[derive(Serialize, Clone)]
pub struct SecretProjection {
    pub name: String,
    pub items: Vec<KeyToPath>,
}

#[derive(Serialize, Clone)]
pub struct KeyToPath {
    pub key: &'static str,
    pub path: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDir {
    pub size_limit: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolume {
    pub name: String,
    pub default_mode: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<&'static str>,
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: &'static str,
    pub port: u32,
    pub target_port: &'static str,
    pub protocol: &'static str,
}
