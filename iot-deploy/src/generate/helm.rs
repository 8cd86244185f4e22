//! A Helm chart for the same objects as the plain manifests. Templates are
//! Go templates (text); `CHART` stands for the chart name below.

use super::File;
use super::helm_values::{chart, values};
use super::k8s::MQTT_FILE_MODE;
use super::mqtt_client;
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
helm.sh/chart: {{ include "CHART.chart" . }}
{{ include "CHART.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/component: COMPONENT
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
Environment: plain values, then secret references.
*/}}
{{- define "CHART.env" -}}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
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
{{- end }}
"#;

const SERVICE_ACCOUNT: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
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

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "CHART.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ default .Values.service.httpPort .Values.service.metricsPort | quote }}
        prometheus.io/path: {{ .Values.metrics.path | quote }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "CHART.fullname" . }}
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
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
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
            - name: tmp
              mountPath: /tmp
            {{- if .Values.config.files }}
            - name: config
              mountPath: {{ .Values.config.mountPath }}
              readOnly: true
            {{- end }}
            {{- if .Values.mqtt.secretSources }}
            - name: mqtt
              mountPath: MQTT_DIR
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if .Values.config.files }}
        - name: config
          configMap:
            name: {{ include "CHART.fullname" . }}
            defaultMode: 292
        {{- end }}
        {{- with .Values.mqtt.secretSources }}
        - name: mqtt
          projected:
            defaultMode: MQTT_MODE
            sources:
              {{- toYaml . | nindent 14 }}
        {{- end }}
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

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "CHART.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.httpPort }}
      targetPort: http
      protocol: TCP
    {{- if .Values.service.metricsPort }}
    - name: metrics
      port: {{ .Values.service.metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- end }}
"#;

const HPA: &str = r#"{{- if .Values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "CHART.fullname" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "CHART.fullname" . }}
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
spec:
  {{- with .Values.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  tls:
    - hosts:
        - {{ .Values.ingress.host | quote }}
      secretName: {{ .Values.ingress.tlsSecret }}
  rules:
    - host: {{ .Values.ingress.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "CHART.fullname" . }}
                port:
                  name: http
{{- end }}
"#;

const NETWORK_POLICY: &str = r#"{{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "CHART.fullname" . }}-default-deny
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "CHART.fullname" . }}-allow
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "CHART.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - ports:
        - protocol: TCP
          port: http
        {{- if .Values.service.metricsPort }}
        - protocol: TCP
          port: metrics
        {{- end }}
  egress:
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
    {{- range .Values.networkPolicy.egressPorts }}
    - ports:
        - protocol: TCP
          port: {{ . }}
    {{- end }}
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
          serviceAccountName: {{ include "CHART.fullname" . }}
          automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
          restartPolicy: OnFailure
          securityContext:
            {{- include "CHART.podSecurityContext" . | nindent 12 }}
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
                - name: tmp
                  mountPath: /tmp
                {{- if .Values.mqtt.secretSources }}
                - name: mqtt
                  mountPath: MQTT_DIR
                  readOnly: true
                {{- end }}
          volumes:
            - name: tmp
              emptyDir:
                sizeLimit: 64Mi
            {{- with .Values.mqtt.secretSources }}
            - name: mqtt
              projected:
                defaultMode: MQTT_MODE
                sources:
                  {{- toYaml . | nindent 18 }}
            {{- end }}
{{- end }}
"#;

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
    };
    let mut out = vec![
        File::new(format!("{dir}/Chart.yaml"), chart(spec)),
        File::new(format!("{dir}/values.yaml"), values(spec)),
        File::new(format!("{dir}/.helmignore"), ".git/\n*.swp\n*.bak\n*.tmp\n"),
    ];
    let templates = [
        ("_helpers.tpl", HELPERS),
        ("serviceaccount.yaml", SERVICE_ACCOUNT),
        ("configmap.yaml", CONFIG_MAP),
        ("deployment.yaml", DEPLOYMENT),
        ("service.yaml", SERVICE),
        ("hpa.yaml", HPA),
        ("pdb.yaml", PDB),
        ("ingress.yaml", INGRESS),
        ("networkpolicy.yaml", NETWORK_POLICY),
        ("cronjob.yaml", CRONJOB),
        ("mqtt-certificates.yaml", MQTT_CERTIFICATES),
        ("NOTES.txt", NOTES),
    ];
    out.extend(
        templates
            .iter()
            .map(|(name, t)| File::new(format!("{dir}/templates/{name}"), fill(t))),
    );
    out
}
