//! A Helm chart for the same objects as the plain manifests. Templates are
//! Go templates (text); `CHART` stands for the chart name below.

use super::File;
use super::helm_values::{chart, values, values_schema};
use super::k8s::{MQTT_FILE_MODE, POSTGRES_SECRETS_DIR, broker, migrations, platform};
use super::{mosquitto, mqtt_client};
use crate::spec::DeploySpec;

const HELPERS: &str = r#"{{/*
Expand the name of the chart.
*/}}
{{- define "CHART.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "CHART.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "CHART.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "CHART.labels" -}}
{{ include "CHART.selectorLabels" . }}
app.kubernetes.io/component: COMPONENT
{{ include "CHART.releaseLabels" . }}
{{- end }}

{{/*
The labels every object of the release carries besides name, instance and
component.
*/}}
{{- define "CHART.releaseLabels" -}}
helm.sh/chart: {{ include "CHART.chart" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/part-of: PART_OF
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "CHART.selectorLabels" -}}
app.kubernetes.io/name: {{ include "CHART.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The MQTT broker's selector labels (instance: its Service name) and labels.
*/}}
{{- define "CHART.brokerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "CHART.name" . }}
app.kubernetes.io/instance: {{ .Values.mqtt.broker.name }}
{{- end }}

{{- define "CHART.brokerLabels" -}}
{{ include "CHART.brokerSelectorLabels" . }}
app.kubernetes.io/component: BROKER_ROLE
{{ include "CHART.releaseLabels" . }}
{{- end }}

{{/*
The workload as a reference (the autoscalers' target): a Rollout with Argo
Rollouts, a StatefulSet for share-group members, else a Deployment.
*/}}
{{- define "CHART.workloadRef" -}}
apiVersion: {{ if .Values.rollout.enabled }}ROLLOUTS_API{{ else }}apps/v1{{ end }}
kind: {{ if .Values.rollout.enabled }}Rollout{{ else if .Values.mqtt.shareGroup.enabled }}StatefulSet{{ else }}Deployment{{ end }}
name: {{ include "CHART.fullname" . }}
{{- end }}

{{/*
How a Rollout calls its AnalysisTemplate: the new pods' template hash.
*/}}
{{- define "CHART.rolloutAnalysis" -}}
templates:
  - templateName: {{ include "CHART.fullname" . }}
args:
  - name: HASH_ARG
    valueFrom:
      podTemplateHashValue: Latest
{{- end }}

{{/*
The Rollout's strategy: canary steps (with traffic routing) or blue-green.
*/}}
{{- define "CHART.rolloutStrategy" -}}
{{- $r := .Values.rollout }}
{{- $name := include "CHART.fullname" . }}
{{- if eq $r.strategy "blue-green" }}
blueGreen:
  activeService: {{ $name }}
  previewService: {{ $name }}-preview
  autoPromotionEnabled: {{ $r.autoPromotion.enabled }}
  {{- if $r.autoPromotion.enabled }}
  autoPromotionSeconds: {{ $r.autoPromotion.seconds }}
  {{- end }}
  prePromotionAnalysis:
    {{- include "CHART.rolloutAnalysis" . | nindent 4 }}
{{- else }}
canary:
  {{- with $r.trafficRouting }}
  canaryService: {{ $name }}-canary
  stableService: {{ $name }}-stable
  trafficRouting:
    {{- if eq . "smi" }}
    smi:
      rootService: {{ $name }}
    {{- else }}
    istio:
      virtualService:
        name: {{ $r.virtualService | quote }}
    {{- end }}
  {{- end }}
  analysis:
    {{- include "CHART.rolloutAnalysis" . | nindent 4 }}
    startingStep: 1
  steps:
    {{- toYaml $r.steps | nindent 4 }}
{{- end }}
{{- end }}

{{/*
The Secret volumes (MQTT files, the PostgreSQL password), shared by the
Deployment and the CronJob.
*/}}
{{- define "CHART.secretVolumes" -}}
{{- range $name, $sources := dict "mqtt" .Values.mqtt.secretSources "postgres" .Values.postgres.secretSources }}
{{- with $sources }}
- name: {{ $name }}
  projected:
    defaultMode: MQTT_MODE
    sources:
      {{- toYaml . | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The service account the pods run as: the chart's (named after the release,
or serviceAccount.name), or an existing one when serviceAccount.create is
false ("default" unless named).
*/}}
{{- define "CHART.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "CHART.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Pod scheduling and pulling, shared by the workload and the CronJob.
*/}}
{{- define "CHART.scheduling" -}}
{{- range $key := list "imagePullSecrets" "nodeSelector" "affinity" "tolerations" }}
{{- with get $.Values $key }}
{{ $key }}:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The service container's mounts and the pod's volumes, shared by the
workload and the CronJob: /tmp, the config files, the Secret files, then
extraVolumeMounts / extraVolumes.
*/}}
{{- define "CHART.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.config.files }}
- name: config
  mountPath: {{ .Values.config.mountPath }}
  readOnly: true
{{- end }}
{{- range $name, $dir := dict "mqtt" "MQTT_DIR" "postgres" "POSTGRES_DIR" }}
{{- if (get $.Values $name).secretSources }}
- name: {{ $name }}
  mountPath: {{ $dir }}
  readOnly: true
{{- end }}
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "CHART.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.config.files }}
{{ include "CHART.configVolume" . }}
{{- end }}
{{- include "CHART.secretVolumes" . }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The metadata of a migration hook object: (list context name-suffix weight
delete-policy).
*/}}
{{- define "CHART.hookMetadata" -}}
{{- $ctx := index . 0 -}}
metadata:
  name: {{ include "CHART.fullname" $ctx }}-{{ index . 1 }}
  labels:
    {{- include "CHART.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ index . 2 | quote }}
    helm.sh/hook-delete-policy: {{ index . 3 }}
{{- end }}

{{/*
The migration Job's pods.
*/}}
{{- define "CHART.migrateSelectorLabels" -}}
app.kubernetes.io/name: {{ include "CHART.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}-migrate
{{- end }}

{{/*
The config-file volume, shared by the Deployment and the CronJob.
*/}}
{{- define "CHART.configVolume" -}}
- name: config
  configMap:
    name: {{ include "CHART.fullname" . }}
    defaultMode: 292
{{- end }}

{{/*
The image reference: repository, then tag and/or digest.
*/}}
{{- define "CHART.image" -}}
{{- .Values.image.repository }}{{ with .Values.image.tag }}:{{ . }}{{ end }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The hardened container security context.
*/}}
{{- define "CHART.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .Values.securityContext.readOnlyRootFilesystem }}
runAsNonRoot: {{ ne (int .Values.securityContext.runAsUser) 0 }}
{{- if .Values.securityContext.dropAllCapabilities }}
capabilities:
  drop:
    - ALL
{{- end }}
{{- end }}

{{/*
The fixed container security context of the broker and the test pod.
*/}}
{{- define "CHART.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/*
The pod security context.
*/}}
{{- define "CHART.podSecurityContext" -}}
runAsNonRoot: {{ ne (int .Values.securityContext.runAsUser) 0 }}
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
{{- if .Values.securityContext.seccompRuntimeDefault }}
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- end }}

{{/*
Environment: plain values, the share-group member's client id (its pod
name), then secret references.
*/}}
{{- define "CHART.env" -}}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- if .Values.mqtt.shareGroup.enabled }}
- name: {{ .Values.mqtt.shareGroup.clientIdEnv }}
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- range .Values.secrets }}
{{- $secret := .name }}
{{- range .keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
"#;

const SERVICE_ACCOUNT: &str = r#"{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "CHART.serviceAccountName" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
{{- end }}
"#;

const CONFIG_MAP: &str = r#"{{- if .Values.config.files }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
data:
  {{- range $name, $content := .Values.config.files }}
  {{ $name }}: {{ $content | quote }}
  {{- end }}
{{- end }}
"#;

const DEPLOYMENT: &str = r#"{{- /* A StatefulSet when the replicas form an MQTT share group: stable pod names, so stable client ids. */ -}}
{{- /* A Rollout (Argo Rollouts) replaces either when enabled. */ -}}
{{- $sts := .Values.mqtt.shareGroup.enabled -}}
{{- $rollout := .Values.rollout.enabled -}}
{{- $ref := include "CHART.workloadRef" . | fromYaml -}}
apiVersion: {{ $ref.apiVersion }}
kind: {{ $ref.kind }}
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  {{- if not (or .Values.autoscaling.enabled .Values.keda.enabled) }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- if and $sts (not $rollout) }}
  serviceName: {{ include "CHART.fullname" . }}-headless
  podManagementPolicy: Parallel
  {{- end }}
  selector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
  {{- if $rollout }}
  strategy:
    {{- include "CHART.rolloutStrategy" . | nindent 4 }}
  {{- else if $sts }}
  updateStrategy:
    type: RollingUpdate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "CHART.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ default .Values.service.httpPort .Values.service.metricsPort | quote }}
        prometheus.io/path: {{ .Values.metrics.path | quote }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "CHART.serviceAccountName" . }}
      automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "CHART.podSecurityContext" . | nindent 8 }}
      topologySpreadConstraints:
        {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "CHART.selectorLabels" $ | nindent 14 }}
        {{- end }}
      {{- include "CHART.scheduling" . | nindent 6 }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "CHART.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.service.httpPort }}
              protocol: TCP
            {{- if .Values.service.metricsPort }}
            - name: metrics
              containerPort: {{ .Values.service.metricsPort }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "CHART.env" . | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          {{- range $probe, $p := dict "livenessProbe" .Values.probes.liveness "readinessProbe" .Values.probes.readiness "startupProbe" .Values.probes.startup }}
          {{ $probe }}:
            httpGet:
              path: {{ $p.path }}
              port: http
            {{- if $p.initialDelaySeconds }}
            initialDelaySeconds: {{ $p.initialDelaySeconds }}
            {{- end }}
            periodSeconds: {{ $p.periodSeconds }}
            timeoutSeconds: {{ $p.timeoutSeconds }}
            failureThreshold: {{ $p.failureThreshold }}
          {{- end }}
          securityContext:
            {{- include "CHART.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            {{- include "CHART.volumeMounts" . | nindent 12 }}
      volumes:
        {{- include "CHART.volumes" . | nindent 8 }}
"#;

const MQTT_CERTIFICATES: &str = r#"{{- if .Values.mqtt.certManager.enabled }}
{{- $cm := .Values.mqtt.certManager }}
{{- if $cm.createIssuer }}
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {{ $cm.issuer }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  ca:
    secretName: {{ $cm.caSecret }}
---
{{- end }}
{{- range $role := list "broker" "client" }}
{{- $c := get $cm $role }}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ include "CHART.fullname" $ }}-mqtt-{{ $role }}
  labels:
    {{- include "CHART.labels" $ | nindent 4 }}
spec:
  secretName: {{ $c.secretName }}
  duration: {{ $cm.duration }}
  renewBefore: {{ $cm.renewBefore }}
  privateKey:
    {{- toYaml $cm.privateKey | nindent 4 }}
  {{- toYaml $c.subject | nindent 2 }}
  issuerRef:
    name: {{ $cm.issuer }}
    kind: {{ $cm.issuerKind }}
    group: cert-manager.io
---
{{- end }}
{{- end }}
"#;

const SERVICE: &str = r#"{{- /* The Service, and the copies a rollout strategy needs (canary and stable, or preview). */ -}}
{{- range $suffix := prepend .Values.rollout.services "" }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "CHART.fullname" $ }}{{ with $suffix }}-{{ . }}{{ end }}
  labels:
    {{- include "CHART.labels" $ | nindent 4 }}
spec:
  type: {{ if $suffix }}ClusterIP{{ else }}{{ $.Values.service.type }}{{ end }}
  selector:
    {{- include "CHART.selectorLabels" $ | nindent 4 }}
  ports:
    - name: http
      port: {{ $.Values.service.httpPort }}
      targetPort: http
      protocol: TCP
    {{- if $.Values.service.metricsPort }}
    - name: metrics
      port: {{ $.Values.service.metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- end }}
---
{{- end }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "CHART.fullname" . }}-headless
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "CHART.selectorLabels" . | nindent 4 }}
  ports:
    {{- if .Values.service.metricsPort }}
    - name: metrics
      port: {{ .Values.service.metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- else }}
    - name: http
      port: {{ .Values.service.httpPort }}
      targetPort: http
      protocol: TCP
    {{- end }}
"#;

const HPA: &str = r#"{{- /* The autoscaler: KEDA's ScaledObject or a CPU HorizontalPodAutoscaler, never both. */ -}}
{{- $keda := .Values.keda.enabled -}}
{{- if or .Values.autoscaling.enabled $keda }}
apiVersion: {{ if $keda }}KEDA_API{{ else }}autoscaling/v2{{ end }}
kind: {{ if $keda }}ScaledObject{{ else }}HorizontalPodAutoscaler{{ end }}
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    {{- include "CHART.workloadRef" . | nindent 4 }}
  {{- if $keda }}
  minReplicaCount: {{ .Values.keda.minReplicas }}
  maxReplicaCount: {{ .Values.keda.maxReplicas }}
  triggers:
    {{- toYaml .Values.keda.triggers | nindent 4 }}
  {{- else }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      selectPolicy: Max
      policies:
        - type: Percent
          value: 100
          periodSeconds: 60
        - type: Pods
          value: 4
          periodSeconds: 60
    scaleDown:
      stabilizationWindowSeconds: 300
      selectPolicy: Min
      policies:
        - type: Percent
          value: 50
          periodSeconds: 60
  {{- end }}
{{- end }}
"#;

const PDB: &str = r#"{{- if .Values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
{{- end }}
"#;

const INGRESS: &str = r#"{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
  {{- with .Values.ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with .Values.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- /* The spec's host, then ingress.extraHosts (same certificate Secret, same backend). */}}
  {{- $hosts := prepend .Values.ingress.extraHosts .Values.ingress.host }}
  tls:
    - hosts:
        {{- range $hosts }}
        - {{ . | quote }}
        {{- end }}
      secretName: {{ .Values.ingress.tlsSecret }}
  rules:
    {{- range $hosts }}
    - host: {{ . | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "CHART.fullname" $ }}
                port:
                  name: http
    {{- end }}
{{- end }}
"#;

const NETWORK_POLICY: &str = r#"{{- if .Values.networkPolicy.enabled }}
POLICY_HEAD(default-deny)
      {{- include "CHART.selectorLabels" . | nindent 6 }}
POLICY_TYPES
---
POLICY_HEAD(allow)
      {{- include "CHART.selectorLabels" . | nindent 6 }}
POLICY_TYPES
  ingress:
    - from:
        {{- toYaml .Values.networkPolicy.httpFrom | nindent 8 }}
      ports:
        - protocol: TCP
          port: http
    {{- if .Values.service.metricsPort }}
    - from:
        {{- toYaml .Values.networkPolicy.metricsFrom | nindent 8 }}
      ports:
        - protocol: TCP
          port: metrics
    {{- end }}
EGRESS_RULES{{- if .Values.cronjob.enabled }}
---
POLICY_HEAD(cron)
      app.kubernetes.io/name: {{ include "CHART.name" . }}
      app.kubernetes.io/instance: {{ .Release.Name }}-cron
POLICY_TYPES
EGRESS_RULES{{- end }}
{{- end }}
"#;

/// The start of a NetworkPolicy named `<fullname>-<suffix>`, up to its
/// `matchLabels`.
fn policy_head(suffix: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {{{{ include \"CHART.fullname\" . }}}}-{suffix}\n  labels:\n    {{{{- include \"CHART.labels\" . | nindent 4 }}}}\nspec:\n  podSelector:\n    matchLabels:"
    )
}

/// The egress rules of the service's policy, shared by the CronJob's.
const EGRESS_RULES: &str = r#"  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
    {{- if .Values.mqtt.broker.enabled }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "CHART.brokerSelectorLabels" . | nindent 14 }}
      ports:
        - protocol: TCP
          port: {{ .Values.mqtt.broker.clientPort }}
    {{- end }}
    {{- range .Values.networkPolicy.egress }}
    - {{- with .cidr }}
      to:
        - ipBlock:
            cidr: {{ . | quote }}
      {{- end }}
      ports:
        - protocol: TCP
          port: {{ .port }}
    {{- end }}
"#;

const CRONJOB: &str = r#"{{- if .Values.cronjob.enabled }}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "CHART.fullname" . }}-cron
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  schedule: {{ .Values.cronjob.schedule | quote }}
  {{- with .Values.cronjob.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 300
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 2
      ttlSecondsAfterFinished: 86400
      template:
        metadata:
          labels:
            app.kubernetes.io/name: {{ include "CHART.name" . }}
            app.kubernetes.io/instance: {{ .Release.Name }}-cron
        spec:
          serviceAccountName: {{ include "CHART.serviceAccountName" . }}
          automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
          restartPolicy: OnFailure
          securityContext:
            {{- include "CHART.podSecurityContext" . | nindent 12 }}
          {{- include "CHART.scheduling" . | nindent 10 }}
          containers:
            - name: {{ .Chart.Name }}
              image: {{ include "CHART.image" . | quote }}
              imagePullPolicy: {{ .Values.image.pullPolicy }}
              args:
                {{- toYaml .Values.cronjob.args | nindent 16 }}
              env:
                {{- include "CHART.env" . | nindent 16 }}
              resources:
                {{- toYaml .Values.resources | nindent 16 }}
              securityContext:
                {{- include "CHART.containerSecurityContext" . | nindent 16 }}
              volumeMounts:
                {{- include "CHART.volumeMounts" . | nindent 16 }}
          volumes:
            {{- include "CHART.volumes" . | nindent 12 }}
{{- end }}
"#;

const MQTT_BROKER: &str = r#"{{- if .Values.mqtt.broker.enabled }}
{{- $b := .Values.mqtt.broker }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $b.name }}-config
  labels:
    {{- include "CHART.brokerLabels" . | nindent 4 }}
data:
  mosquitto.conf: {{ $b.config | quote }}
{{- range $headless := list false true }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $b.name }}{{ if $headless }}-headless{{ end }}
  labels:
    {{- include "CHART.brokerLabels" $ | nindent 4 }}
spec:
  type: ClusterIP
  {{- if $headless }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "CHART.brokerSelectorLabels" $ | nindent 4 }}
  ports:
    {{- range $b.ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $b.name }}
  labels:
    {{- include "CHART.brokerLabels" . | nindent 4 }}
spec:
  replicas: 1
  revisionHistoryLimit: 5
  serviceName: {{ $b.name }}-headless
  selector:
    matchLabels:
      {{- include "CHART.brokerSelectorLabels" . | nindent 6 }}
  updateStrategy:
    type: RollingUpdate
  template:
    metadata:
      labels:
        {{- include "CHART.brokerLabels" . | nindent 8 }}
      annotations:
        checksum/config: {{ $b.config | sha256sum }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ $b.uid }}
        runAsGroup: {{ $b.uid }}
        fsGroup: {{ $b.uid }}
        fsGroupChangePolicy: OnRootMismatch
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: mosquitto
          image: {{ $b.image | quote }}
          imagePullPolicy: IfNotPresent
          command:
            - /usr/sbin/mosquitto
            - -c
            - CONFIG_DIR/mosquitto.conf
          ports:
            {{- range $b.ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
          resources:
            {{- toYaml $b.resources | nindent 12 }}
          {{- $port := (first $b.ports).name }}
          {{- range $probe, $p := dict "livenessProbe" (list 20 3) "readinessProbe" (list 10 3) "startupProbe" (list 2 60) }}
          {{ $probe }}:
            tcpSocket:
              port: {{ $port }}
            periodSeconds: {{ index $p 0 }}
            timeoutSeconds: 2
            failureThreshold: {{ index $p 1 }}
          {{- end }}
          securityContext:
            {{- include "CHART.restrictedContainer" . | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: CONFIG_DIR
              readOnly: true
            - name: data
              mountPath: DATA_DIR
              readOnly: false
      volumes:
        - name: config
          projected:
            defaultMode: BROKER_MODE
            sources:
              {{- toYaml $b.configSources | nindent 14 }}
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
        labels:
          {{- include "CHART.brokerSelectorLabels" . | nindent 10 }}
      spec:
        accessModes:
          - ReadWriteOnce
        {{- with $b.storage.storageClassName }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ $b.storage.size | quote }}
{{- if .Values.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $b.name }}
  labels:
    {{- include "CHART.brokerLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "CHART.brokerSelectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - from:
        - podSelector:
            matchLabels:
              {{- include "CHART.selectorLabels" . | nindent 14 }}
        {{- if .Values.cronjob.enabled }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ include "CHART.name" . }}
              app.kubernetes.io/instance: {{ .Release.Name }}-cron
        {{- end }}
      ports:
        {{- range $b.ports }}
        - protocol: TCP
          port: {{ .port }}
        {{- end }}
    {{- with $b.deviceCidrs }}
    - from:
        {{- range . }}
        - ipBlock:
            cidr: {{ . | quote }}
        {{- end }}
      ports:
        {{- range $b.ports }}
        - protocol: TCP
          port: {{ .port }}
        {{- end }}
    {{- end }}
{{- end }}
{{- end }}
"#;

const ANALYSIS_TEMPLATE: &str = r#"{{- if .Values.rollout.enabled }}
apiVersion: ROLLOUTS_API
kind: AnalysisTemplate
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  args:
    - name: HASH_ARG
  metrics:
    {{- toYaml .Values.rollout.analysisMetrics | nindent 4 }}
{{- end }}
"#;

const MONITORING: &str = r#"{{- if .Values.prometheusOperator.enabled }}
{{- $op := .Values.prometheusOperator }}
{{- range $kind := list "ServiceMonitor" "PrometheusRule" }}
apiVersion: MONITORING_API
kind: {{ $kind }}
metadata:
  name: {{ include "CHART.fullname" $ }}
  labels:
    {{- include "CHART.labels" $ | nindent 4 }}
    {{- with $op.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- if eq $kind "ServiceMonitor" }}
  selector:
    matchLabels:
      {{- include "CHART.selectorLabels" $ | nindent 6 }}
  endpoints:
    - port: {{ if $.Values.service.metricsPort }}metrics{{ else }}http{{ end }}
      path: {{ $.Values.metrics.path | quote }}
      interval: {{ $op.interval | quote }}
      relabelings:
        - action: keep
          sourceLabels:
            - __meta_kubernetes_service_name
          regex: {{ include "CHART.fullname" $ }}-headless
        - action: replace
          targetLabel: job
          replacement: {{ $op.job | quote }}
  {{- with $op.podTargetLabels }}
  podTargetLabels:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- else }}
  groups:
    {{- toYaml $op.ruleGroups | nindent 4 }}
  {{- end }}
---
{{- end }}
{{- end }}
"#;

const MIGRATIONS: &str = r#"{{- $m := .Values.postgres.migrations }}
{{- if $m.enabled }}
{{- /* Hooks: the ConfigMap and the NetworkPolicy first, then the Job, before the release's other objects. */ -}}
{{- $keep := "before-hook-creation" }}
apiVersion: v1
kind: ConfigMap
{{ include "CHART.hookMetadata" (list . "migrations" "-10" $keep) }}
data:
  {{- toYaml (dict "SQL_KEY" $m.sql) | nindent 2 }}
---
{{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
{{ include "CHART.hookMetadata" (list . "migrate" "-10" $keep) }}
spec:
  podSelector:
    matchLabels:
      {{- include "CHART.migrateSelectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  egress:
    {{- toYaml $m.egress | nindent 4 }}
---
{{- end }}
apiVersion: batch/v1
kind: Job
{{ include "CHART.hookMetadata" (list . "migrate" "0" (print $keep ",hook-succeeded")) }}
spec:
  backoffLimit: 4
  activeDeadlineSeconds: 600
  template:
    metadata:
      labels:
        {{- include "CHART.migrateSelectorLabels" . | nindent 8 }}
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- toYaml $m.podSecurityContext | nindent 8 }}
      containers:
        - {{- toYaml $m.container | nindent 10 }}
      volumes:
        - name: migrations
          configMap:
            name: {{ include "CHART.fullname" . }}-migrations
            defaultMode: 292
        - name: tmp
          emptyDir:
            sizeLimit: 16Mi
{{- end }}
"#;

/// `helm test`: a pod that asks the Service for the readiness endpoint,
/// as hardened as the service's own (restricted Pod Security Standard).
const TEST_CONNECTION: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: {{ include "CHART.fullname" . }}-test-connection
  labels:
    {{- /* Not the service's selector labels: its Service, PodDisruptionBudget and NetworkPolicies must not select this pod. */}}
    app.kubernetes.io/name: {{ include "CHART.name" . }}
    app.kubernetes.io/instance: {{ .Release.Name }}-test
    {{- include "CHART.releaseLabels" . | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext:
    runAsNonRoot: true
    runAsUser: NONROOT_UID
    runAsGroup: NONROOT_UID
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: wget
      image: TEST_IMAGE
      imagePullPolicy: IfNotPresent
      command:
        - wget
        - -q
        - -O-
        - -T
        - "5"
        - http://{{ include "CHART.fullname" . }}:{{ .Values.service.httpPort }}{{ .Values.probes.readiness.path }}
      resources:
        requests:
          cpu: 10m
          memory: 16Mi
        limits:
          cpu: 100m
          memory: 32Mi
      securityContext:
        {{- include "CHART.restrictedContainer" . | nindent 8 }}
"#;

/// The image of the `helm test` pod (busybox's `wget`), pinned.
pub const TEST_IMAGE: &str = "busybox:1.36.1";

const NOTES: &str = r#"{{ include "CHART.fullname" . }} is deployed in namespace {{ .Release.Namespace }}.

Probes: {{ .Values.probes.liveness.path }}, {{ .Values.probes.readiness.path }}, {{ .Values.probes.startup.path }}
Metrics: {{ .Values.metrics.path }} on port {{ default .Values.service.httpPort .Values.service.metricsPort }}
{{- if or .Values.secrets .Values.mqtt.secretSources }}

Create these Secrets before the pods can start (cert-manager issues the
MQTT TLS Secrets when mqtt.certManager.enabled):
{{- range .Values.secrets }}
  {{ .name }}: {{ join ", " .keys }}
{{- end }}
{{- range .Values.mqtt.secretSources }}
  {{ .secret.name }}: {{ range $i, $k := .secret.items }}{{ if $i }}, {{ end }}{{ $k.key }}{{ end }}
{{- end }}
{{- end }}
{{- if .Values.mqtt.broker.enabled }}

The MQTT broker runs as StatefulSet {{ .Values.mqtt.broker.name }} (Service
{{ .Values.mqtt.broker.name }}); it mounts these Secrets (passwd from
mosquitto_passwd, acl from `iot-deploy render --only k8s`: k8s/mosquitto/):
{{- range .Values.mqtt.broker.configSources }}
{{- with .secret }}
  {{ .name }}: {{ range $i, $k := .items }}{{ if $i }}, {{ end }}{{ $k.key }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
"#;

/// Every file of the chart, under `helm/<name>/`.
pub fn files(spec: &DeploySpec) -> Vec<File> {
    let dir = format!("helm/{}", spec.name);
    let fill = |t: &str| {
        t.replace("CHART", &spec.name)
            .replace("COMPONENT", &spec.component)
            .replace("PART_OF", spec.part_of())
            .replace("MQTT_DIR", mqtt_client::SECRETS_DIR)
            .replace("MQTT_MODE", &MQTT_FILE_MODE.to_string())
            .replace("BROKER_ROLE", broker::COMPONENT)
            .replace("BROKER_MODE", &broker::FILE_MODE.to_string())
            .replace("CONFIG_DIR", mosquitto::CONFIG_DIR)
            .replace("DATA_DIR", mosquitto::DATA_DIR)
            .replace("ROLLOUTS_API", platform::ROLLOUTS_API)
            .replace("KEDA_API", platform::KEDA_API)
            .replace("MONITORING_API", platform::MONITORING_API)
            .replace("HASH_ARG", platform::HASH_ARG)
            .replace("POSTGRES_DIR", POSTGRES_SECRETS_DIR)
            .replace("SQL_KEY", migrations::SQL_KEY)
            .replace("TEST_IMAGE", TEST_IMAGE)
            .replace(
                "NONROOT_UID",
                &crate::metrics_contract::NONROOT_UID.to_string(),
            )
    };
    let mut out = vec![
        File::new(format!("{dir}/Chart.yaml"), chart(spec)),
        File::new(format!("{dir}/values.yaml"), values(spec)),
        File::new(format!("{dir}/values.schema.json"), values_schema(spec)),
        File::new(format!("{dir}/.helmignore"), ".git/\n*.swp\n*.bak\n*.tmp\n"),
    ];
    let mut network_policy = NETWORK_POLICY
        .replace("EGRESS_RULES", EGRESS_RULES)
        .replace(
            "POLICY_TYPES",
            "  policyTypes:\n    - Ingress\n    - Egress",
        );
    for suffix in ["default-deny", "allow", "cron"] {
        network_policy =
            network_policy.replace(&format!("POLICY_HEAD({suffix})"), &policy_head(suffix));
    }
    let templates = [
        ("_helpers.tpl", HELPERS),
        ("serviceaccount.yaml", SERVICE_ACCOUNT),
        ("configmap.yaml", CONFIG_MAP),
        ("deployment.yaml", DEPLOYMENT),
        ("service.yaml", SERVICE),
        ("hpa.yaml", HPA),
        ("analysistemplate.yaml", ANALYSIS_TEMPLATE),
        ("monitoring.yaml", MONITORING),
        ("pdb.yaml", PDB),
        ("ingress.yaml", INGRESS),
        ("networkpolicy.yaml", &network_policy),
        ("cronjob.yaml", CRONJOB),
        ("mqtt-certificates.yaml", MQTT_CERTIFICATES),
        ("mqtt-broker.yaml", MQTT_BROKER),
        ("migrations.yaml", MIGRATIONS),
        ("tests/test-connection.yaml", TEST_CONNECTION),
        ("NOTES.txt", NOTES),
    ];
    out.extend(
        templates
            .iter()
            .map(|(name, t)| File::new(format!("{dir}/templates/{name}"), fill(t))),
    );
    out
}
