{{/*
Expand the name of the chart.
*/}}
{{- define "fleet-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "fleet-gateway.fullname" -}}
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
{{- define "fleet-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "fleet-gateway.labels" -}}
{{ include "fleet-gateway.selectorLabels" . }}
app.kubernetes.io/component: server
{{ include "fleet-gateway.releaseLabels" . }}
{{- end }}

{{/*
The labels every object of the release carries besides name, instance and
component.
*/}}
{{- define "fleet-gateway.releaseLabels" -}}
helm.sh/chart: {{ include "fleet-gateway.chart" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/part-of: fleet-gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "fleet-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fleet-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The MQTT broker's selector labels (instance: its Service name) and labels.
*/}}
{{- define "fleet-gateway.brokerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "fleet-gateway.name" . }}
app.kubernetes.io/instance: {{ .Values.mqtt.broker.name }}
{{- end }}

{{- define "fleet-gateway.brokerLabels" -}}
{{ include "fleet-gateway.brokerSelectorLabels" . }}
app.kubernetes.io/component: mqtt-broker
{{ include "fleet-gateway.releaseLabels" . }}
{{- end }}

{{/*
The workload as a reference (the autoscalers' target): a Rollout with Argo
Rollouts, a StatefulSet for share-group members, else a Deployment.
*/}}
{{- define "fleet-gateway.workloadRef" -}}
apiVersion: {{ if .Values.rollout.enabled }}argoproj.io/v1alpha1{{ else }}apps/v1{{ end }}
kind: {{ if .Values.rollout.enabled }}Rollout{{ else if .Values.mqtt.shareGroup.enabled }}StatefulSet{{ else }}Deployment{{ end }}
name: {{ include "fleet-gateway.fullname" . }}
{{- end }}

{{/*
How a Rollout calls its AnalysisTemplate: the new pods' template hash.
*/}}
{{- define "fleet-gateway.rolloutAnalysis" -}}
templates:
  - templateName: {{ include "fleet-gateway.fullname" . }}
args:
  - name: canary-hash
    valueFrom:
      podTemplateHashValue: Latest
{{- end }}

{{/*
The Rollout's strategy: canary steps (with traffic routing) or blue-green.
*/}}
{{- define "fleet-gateway.rolloutStrategy" -}}
{{- $r := .Values.rollout }}
{{- $name := include "fleet-gateway.fullname" . }}
{{- if eq $r.strategy "blue-green" }}
blueGreen:
  activeService: {{ $name }}
  previewService: {{ $name }}-preview
  autoPromotionEnabled: {{ $r.autoPromotion.enabled }}
  {{- if $r.autoPromotion.enabled }}
  autoPromotionSeconds: {{ $r.autoPromotion.seconds }}
  {{- end }}
  prePromotionAnalysis:
    {{- include "fleet-gateway.rolloutAnalysis" . | nindent 4 }}
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
    {{- include "fleet-gateway.rolloutAnalysis" . | nindent 4 }}
    startingStep: 1
  steps:
    {{- toYaml $r.steps | nindent 4 }}
{{- end }}
{{- end }}

{{/*
The Secret volumes (MQTT files, the PostgreSQL password), shared by the
Deployment and the CronJob.
*/}}
{{- define "fleet-gateway.secretVolumes" -}}
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
{{- define "fleet-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fleet-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Pod scheduling and pulling, shared by the workload and the CronJob.
*/}}
{{- define "fleet-gateway.scheduling" -}}
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
{{- define "fleet-gateway.volumeMounts" -}}
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

{{- define "fleet-gateway.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.config.files }}
{{ include "fleet-gateway.configVolume" . }}
{{- end }}
{{- include "fleet-gateway.secretVolumes" . }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The metadata of a migration hook object: (list context name-suffix weight
delete-policy).
*/}}
{{- define "fleet-gateway.hookMetadata" -}}
{{- $ctx := index . 0 -}}
metadata:
  name: {{ include "fleet-gateway.fullname" $ctx }}-{{ index . 1 }}
  labels:
    {{- include "fleet-gateway.labels" $ctx | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ index . 2 | quote }}
    helm.sh/hook-delete-policy: {{ index . 3 }}
{{- end }}

{{/*
The migration Job's pods.
*/}}
{{- define "fleet-gateway.migrateSelectorLabels" -}}
app.kubernetes.io/name: {{ include "fleet-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}-migrate
{{- end }}

{{/*
The config-file volume, shared by the Deployment and the CronJob.
*/}}
{{- define "fleet-gateway.configVolume" -}}
- name: config
  configMap:
    name: {{ include "fleet-gateway.fullname" . }}
    defaultMode: 292
{{- end }}

{{/*
The image reference: repository, then tag and/or digest.
*/}}
{{- define "fleet-gateway.image" -}}
{{- .Values.image.repository }}{{ with .Values.image.tag }}:{{ . }}{{ end }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The hardened container security context.
*/}}
{{- define "fleet-gateway.containerSecurityContext" -}}
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
{{- define "fleet-gateway.restrictedContainer" -}}
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
{{- define "fleet-gateway.podSecurityContext" -}}
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
{{- define "fleet-gateway.env" -}}
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
