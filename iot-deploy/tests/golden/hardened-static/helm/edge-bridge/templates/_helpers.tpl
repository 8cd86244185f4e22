{{/*
Expand the name of the chart.
*/}}
{{- define "edge-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "edge-bridge.fullname" -}}
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
{{- define "edge-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "edge-bridge.labels" -}}
{{ include "edge-bridge.selectorLabels" . }}
app.kubernetes.io/component: bridge
{{ include "edge-bridge.releaseLabels" . }}
{{- end }}

{{/*
The labels every object of the release carries besides name, instance and
component.
*/}}
{{- define "edge-bridge.releaseLabels" -}}
helm.sh/chart: {{ include "edge-bridge.chart" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/part-of: edge-bridge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "edge-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "edge-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The MQTT broker's selector labels (instance: its Service name) and labels.
*/}}
{{- define "edge-bridge.brokerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "edge-bridge.name" . }}
app.kubernetes.io/instance: {{ .Values.mqtt.broker.name }}
{{- end }}

{{- define "edge-bridge.brokerLabels" -}}
{{ include "edge-bridge.brokerSelectorLabels" . }}
app.kubernetes.io/component: mqtt-broker
{{ include "edge-bridge.releaseLabels" . }}
{{- end }}

{{/*
The workload as a reference (the autoscalers' target): a Rollout with Argo
Rollouts, a StatefulSet for share-group members, else a Deployment.
*/}}
{{- define "edge-bridge.workloadRef" -}}
apiVersion: {{ if .Values.rollout.enabled }}argoproj.io/v1alpha1{{ else }}apps/v1{{ end }}
kind: {{ if .Values.rollout.enabled }}Rollout{{ else if .Values.mqtt.shareGroup.enabled }}StatefulSet{{ else }}Deployment{{ end }}
name: {{ include "edge-bridge.fullname" . }}
{{- end }}

{{/*
How a Rollout calls its AnalysisTemplate: the new pods' template hash.
*/}}
{{- define "edge-bridge.rolloutAnalysis" -}}
templates:
  - templateName: {{ include "edge-bridge.fullname" . }}
args:
  - name: canary-hash
    valueFrom:
      podTemplateHashValue: Latest
{{- end }}

{{/*
The Rollout's strategy: canary steps (with traffic routing) or blue-green.
*/}}
{{- define "edge-bridge.rolloutStrategy" -}}
{{- $r := .Values.rollout }}
{{- $name := include "edge-bridge.fullname" . }}
{{- if eq $r.strategy "blue-green" }}
blueGreen:
  activeService: {{ $name }}
  previewService: {{ $name }}-preview
  autoPromotionEnabled: {{ $r.autoPromotion.enabled }}
  {{- if $r.autoPromotion.enabled }}
  autoPromotionSeconds: {{ $r.autoPromotion.seconds }}
  {{- end }}
  prePromotionAnalysis:
    {{- include "edge-bridge.rolloutAnalysis" . | nindent 4 }}
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
    {{- include "edge-bridge.rolloutAnalysis" . | nindent 4 }}
    startingStep: 1
  steps:
    {{- toYaml $r.steps | nindent 4 }}
{{- end }}
{{- end }}

{{/*
The Secret volumes (MQTT files, the PostgreSQL password), shared by the
Deployment and the CronJob.
*/}}
{{- define "edge-bridge.secretVolumes" -}}
{{- range $name, $sources := dict "mqtt" .Values.mqtt.secretSources "postgres" .Values.postgres.secretSources }}
{{- with $sources }}
- name: {{ $name }}
  projected:
    defaultMode: 288
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
{{- define "edge-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "edge-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Pod scheduling and pulling, shared by the workload and the CronJob.
*/}}
{{- define "edge-bridge.scheduling" -}}
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
{{- define "edge-bridge.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.config.files }}
- name: config
  mountPath: {{ .Values.config.mountPath }}
  readOnly: true
{{- end }}
{{- range $name, $dir := dict "mqtt" "/run/secrets/mqtt" "postgres" "/run/secrets/postgres" }}
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

{{- define "edge-bridge.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.config.files }}
{{ include "edge-bridge.configVolume" . }}
{{- end }}
{{- include "edge-bridge.secretVolumes" . }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The metadata of a migration hook object: (list context name-suffix weight
delete-policy).
*/}}
{{- define "edge-bridge.hookMetadata" -}}
{{- $ctx := index . 0 -}}
metadata:
  name: {{ include "edge-bridge.fullname" $ctx }}-{{ index . 1 }}
  labels:
    {{- include "edge-bridge.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ index . 2 | quote }}
    helm.sh/hook-delete-policy: {{ index . 3 }}
{{- end }}

{{/*
The migration Job's pods.
*/}}
{{- define "edge-bridge.migrateSelectorLabels" -}}
app.kubernetes.io/name: {{ include "edge-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}-migrate
{{- end }}

{{/*
The config-file volume, shared by the Deployment and the CronJob.
*/}}
{{- define "edge-bridge.configVolume" -}}
- name: config
  configMap:
    name: {{ include "edge-bridge.fullname" . }}
    defaultMode: 292
{{- end }}

{{/*
The image reference: repository, then tag and/or digest.
*/}}
{{- define "edge-bridge.image" -}}
{{- .Values.image.repository }}{{ with .Values.image.tag }}:{{ . }}{{ end }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The hardened container security context.
*/}}
{{- define "edge-bridge.containerSecurityContext" -}}
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
{{- define "edge-bridge.restrictedContainer" -}}
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
{{- define "edge-bridge.podSecurityContext" -}}
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
{{- define "edge-bridge.env" -}}
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
