{{/*
The chart name, or nameOverride; at most 63 characters (a DNS label).
*/}}
{{- define "bodywork-refresher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the objects: fullnameOverride, or the release name when it already
contains the chart name, or "<release>-<chart>"; at most 63 characters.
*/}}
{{- define "bodywork-refresher.fullname" -}}
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
The CronJob's name: the full name cut to 52 characters, because the controller appends
an 11-character suffix to name each Job, and a Job's name is at most 63 characters.
*/}}
{{- define "bodywork-refresher.cronJobName" -}}
{{- include "bodywork-refresher.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "bodywork-refresher.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "bodywork-refresher.labels" -}}
helm.sh/chart: {{ include "bodywork-refresher.chart" . | quote }}
{{ include "bodywork-refresher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: "refresher"
app.kubernetes.io/part-of: "bodywork-render"
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end }}

{{/*
Labels that select the refresher's pods.
*/}}
{{- define "bodywork-refresher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bodywork-refresher.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "bodywork-refresher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bodywork-refresher.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository[:tag][@digest]; without a tag or a digest, the tag is the appVersion.
*/}}
{{- define "bodywork-refresher.image" -}}
{{- $tag := .Values.image.tag }}
{{- if and (not $tag) (not .Values.image.digest) }}{{ $tag = .Chart.AppVersion }}{{ end }}
{{- .Values.image.repository }}{{ with $tag }}:{{ . }}{{ end }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}
