{{- /* Rendered by bodywork-render; do not edit: render again. */ -}}

{{/*
The chart name, at most 63 characters (the limit of a label value).
*/}}
{{- define "train-and-serve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the ServiceAccount's name. The release name when it contains the chart name
(install as release train-and-serve to get exactly the objects of `bodywork render --format manifests`),
else <release>-<chart>; at most 63 characters.
*/}}
{{- define "train-and-serve.fullname" -}}
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
The name of an object of a stage (or a part such as "runner"): <fullname>-<part><suffix>, shortened as
bodywork-render shortens names when longer than "limit" (63) characters (a prefix, "-", 8 hex digits of the
SHA-256 of the full name and a NUL, then the suffix), so two releases in one namespace never share a name, and
release train-and-serve gets exactly the names of `bodywork render --format manifests`. Takes
(dict "root" $ "part" <name>), plus "suffix" (a Job's "-<digest>") and "limit" (a CronJob's 52).
*/}}
{{- define "train-and-serve.objectName" -}}
{{- $name := printf "%s-%s" (include "train-and-serve.fullname" .root) .part }}
{{- $suffix := .suffix | default "" }}
{{- $limit := .limit | default 63 }}
{{- if le (add (len $name) (len $suffix)) $limit }}
{{- printf "%s%s" $name $suffix }}
{{- else }}
{{- $prefix := regexReplaceAll "-+$" (trunc (int (sub (sub $limit 9) (len $suffix))) $name) "" }}
{{- printf "%s-%s%s" $prefix (sha256sum (printf "%s\x00" $name) | trunc 8) $suffix }}
{{- end }}
{{- end }}

{{/*
The path prefix the Ingress routes to a service stage: stages.<stage>.ingress.path, or /<fullname>/<stage>.
Takes (dict "root" $ "part" <stage name> "stage" <stage values>).
*/}}
{{- define "train-and-serve.ingressPath" -}}
{{- .stage.ingress.path | default (printf "/%s/%s" (include "train-and-serve.fullname" .root) .part) }}
{{- end }}

{{/*
The helm.sh/chart label: chart name and version.
*/}}
{{- define "train-and-serve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select a stage's pods; stable across upgrades. Takes (dict "root" $ "name" <app name>).
*/}}
{{- define "train-and-serve.selectorLabels" -}}
app.kubernetes.io/name: {{ .name | quote }}
app.kubernetes.io/instance: {{ .root.Release.Name | quote }}
{{- end }}

{{/*
Every label of an object. Takes (dict "root" $ "name" <app name> "component" <component>),
plus "stage" <stage name> and "version" <its commit> for the objects of a stage.
*/}}
{{- define "train-and-serve.labels" -}}
helm.sh/chart: {{ include "train-and-serve.chart" .root | quote }}
{{ include "train-and-serve.selectorLabels" . }}
app.kubernetes.io/component: {{ .component | quote }}
app.kubernetes.io/part-of: {{ include "train-and-serve.name" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service | quote }}
app.kubernetes.io/version: {{ .version | default .root.Values.source.commit | trunc 7 | quote }}
{{- with .stage }}
bodywork-render/stage: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
An image reference from {repository, tag, digest}: repository[:tag][@digest].
*/}}
{{- define "train-and-serve.image" -}}
{{- .repository }}{{ with .tag }}:{{ . }}{{ end }}{{ with .digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The PersistentVolumeClaim the stages with sharedStorage mount: sharedStorage.existingClaim, else the one the chart creates.
*/}}
{{- define "train-and-serve.sharedClaim" -}}
{{- .Values.sharedStorage.existingClaim | default (printf "%s-shared" (include "train-and-serve.fullname" .)) }}
{{- end }}
