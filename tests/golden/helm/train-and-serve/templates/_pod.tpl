{{- /* Rendered by bodywork-render; do not edit: render again. */ -}}

{{/*
The pod of every stage. The runner comes from the runner ConfigMap, mounted read-only. Init
containers: `fetch` (runner.image, an official python image with git and ssh) checks the repository
out at the stage's commit into the workspace; `install` (the project's image) installs the stage's
requirements there. Then the stage container runs the module in the project's image. Every value
is written with toJson or toYaml. Takes (dict "root" $ "stage" <stage values> "name" <the stage's name in bodywork.yaml, for its log lines>),
plus "restartPolicy" and "timeout" for a Job, "port" and "part" (the stage's Kubernetes name) for a Deployment.
*/}}
{{- define "train-and-serve.podSpec" -}}
{{- $values := .root.Values }}
{{- $stage := .stage }}
{{- $shared := and $values.sharedStorage.enabled $stage.sharedStorage -}}
serviceAccountName: {{ include "train-and-serve.fullname" .root | quote }}
automountServiceAccountToken: false
{{- with .restartPolicy }}
restartPolicy: {{ . | quote }}
{{- end }}
enableServiceLinks: false
{{- with $values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $values.podSecurityContext | nindent 2 }}
{{- with $stage.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $stage.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $stage.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
initContainers:
  - name: fetch
    image: {{ include "train-and-serve.image" $values.runner.image | toJson }}
    imagePullPolicy: {{ $values.runner.image.pullPolicy | toJson }}
    command: ["python3", "/opt/bodywork/bodywork_runner.py", "fetch"]
    args:
      - "--repo"
      - {{ $values.source.repoUrl | toJson }}
      - "--commit"
      - {{ $stage.commit | toJson }}
      - "--workspace"
      - "/workspace"
    env:
      - name: HOME
        value: "/tmp"
      {{- with $values.source.gitSecret }}
      - name: BODYWORK_GIT_TOKEN
        valueFrom:
          secretKeyRef:
            name: {{ . | toJson }}
            key: token
            optional: true
      - name: BODYWORK_GIT_SSH_KEY_FILE
        value: "/etc/bodywork/git/ssh-privatekey"
      {{- end }}
    resources:
      {{- toYaml $values.runner.resources | nindent 6 }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - "name": "workspace"
        "mountPath": "/workspace"
      - "name": "tmp"
        "mountPath": "/tmp"
      - "name": "runner"
        "mountPath": "/opt/bodywork"
        "readOnly": true
      {{- if $values.source.gitSecret }}
      - name: git-credentials
        mountPath: "/etc/bodywork/git"
        readOnly: true
      {{- end }}
  - name: install
    image: {{ include "train-and-serve.image" $values.image | toJson }}
    imagePullPolicy: {{ $values.image.pullPolicy | toJson }}
    command: ["python3", "/opt/bodywork/bodywork_runner.py", "install"]
    args:
      - "--workspace"
      - "/workspace"
      - "--stage"
      - {{ .name | toJson }}
      - "--module"
      - {{ $stage.module | toJson }}
      - "--commit"
      - {{ $stage.commit | toJson }}
      {{- range $stage.requirements }}
      - "--requirement"
      - {{ . | toJson }}
      {{- end }}
    env:
      - name: HOME
        value: "/tmp"
      - name: PYTHONUNBUFFERED
        value: "1"
    resources:
      {{- toYaml $stage.installResources | nindent 6 }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - "name": "workspace"
        "mountPath": "/workspace"
      - "name": "tmp"
        "mountPath": "/tmp"
      - "name": "runner"
        "mountPath": "/opt/bodywork"
        "readOnly": true
containers:
  - name: stage
    image: {{ include "train-and-serve.image" $values.image | toJson }}
    imagePullPolicy: {{ $values.image.pullPolicy | toJson }}
    command: ["python3", "/opt/bodywork/bodywork_runner.py", "run"]
    args:
      - "--workspace"
      - "/workspace"
      - "--stage"
      - {{ .name | toJson }}
      - "--module"
      - {{ $stage.module | toJson }}
      - "--commit"
      - {{ $stage.commit | toJson }}
      {{- with .timeout }}
      - "--timeout"
      - {{ . | int64 | toString | toJson }}
      {{- end }}
      - "--"
      {{- range $stage.args }}
      - {{ . | toJson }}
      {{- end }}
    env:
      - name: HOME
        value: "/tmp"
      - name: PYTHONUNBUFFERED
        value: "1"
      - name: BODYWORK_LOG_LEVEL
        value: {{ $values.logLevel | toJson }}
      {{- if $shared }}
      - name: BODYWORK_SHARED_DIR
        value: "/bodywork/shared"
      {{- end }}
      {{- if and .port $stage.ingress $stage.ingress.enabled (not $values.gateway.name) (not $values.ingress.nginxRewrite) }}
      - name: BODYWORK_ROUTE_PREFIX
        value: {{ include "train-and-serve.ingressPath" (dict "root" .root "part" .part "stage" $stage) | toJson }}
      {{- end }}
      {{- range $stage.secrets }}
      - name: {{ .name | toJson }}
        valueFrom:
          secretKeyRef:
            name: {{ .secret | toJson }}
            key: {{ .name | toJson }}
      {{- end }}
      {{- with $stage.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with .port }}
    ports:
      - name: http
        containerPort: {{ . | int64 }}
        protocol: TCP
    startupProbe:
      tcpSocket:
        port: http
      periodSeconds: 5
      failureThreshold: {{ max 1 (div (add $stage.maxStartupTimeSeconds 4) 5) }}
    readinessProbe:
      {{- include "train-and-serve.probeAction" $stage | nindent 6 }}
      periodSeconds: 10
      failureThreshold: 3
    livenessProbe:
      {{- include "train-and-serve.probeAction" $stage | nindent 6 }}
      periodSeconds: 20
      failureThreshold: 3
    {{- end }}
    resources:
      {{- include "train-and-serve.stageResources" $stage | nindent 6 }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - "name": "workspace"
        "mountPath": "/workspace"
      - "name": "tmp"
        "mountPath": "/tmp"
      - "name": "runner"
        "mountPath": "/opt/bodywork"
        "readOnly": true
      {{- if $shared }}
      - name: shared
        mountPath: "/bodywork/shared"
      {{- end }}
volumes:
  - name: workspace
    emptyDir: {}
  - name: tmp
    emptyDir: {}
  - name: runner
    configMap:
      name: {{ include "train-and-serve.objectName" (dict "root" .root "part" "runner" "suffix" "-95fc6ed1") | quote }}
      defaultMode: 292
  {{- if $shared }}
  - name: shared
    persistentVolumeClaim:
      claimName: {{ include "train-and-serve.sharedClaim" .root | toJson }}
  {{- end }}
  {{- with $values.source.gitSecret }}
  - name: git-credentials
    secret:
      secretName: {{ . | toJson }}
      defaultMode: 256
      optional: true
  {{- end }}
{{- end }}

{{/*
What the readiness and liveness probes do: GET healthPath on the port "http" when set, else a TCP connection.
Takes the stage's values.
*/}}
{{- define "train-and-serve.probeAction" -}}
{{- if .healthPath }}
httpGet:
  path: {{ .healthPath | toJson }}
  port: http
{{- else }}
tcpSocket:
  port: http
{{- end }}
{{- end }}

{{/*
The stage container's resources: the stage's, with its gpus as both request and limit of gpuResource (Kubernetes
wants them equal). Takes the stage's values.
*/}}
{{- define "train-and-serve.stageResources" -}}
{{- $resources := deepCopy .resources }}
{{- if .gpus }}
{{- $gpus := dict .gpuResource (.gpus | int64 | toString) }}
{{- $_ := set $resources "requests" (merge (deepCopy $gpus) ($resources.requests | default dict)) }}
{{- $_ := set $resources "limits" (merge $gpus ($resources.limits | default dict)) }}
{{- end }}
{{- toYaml $resources }}
{{- end }}
