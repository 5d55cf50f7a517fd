{{/* Chart name. */}}
{{- define "facematch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart, unless the release already carries the chart name. */}}
{{- define "facematch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "facematch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "facematch.labels" -}}
helm.sh/chart: {{ include "facematch.chart" . }}
{{ include "facematch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: facematch
{{- end -}}

{{/* Labels selectors match on. */}}
{{- define "facematch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "facematch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "facematch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "facematch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "facematch.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "facematch.secretName" -}}
{{- .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "facematch.redisAddress" -}}
{{- if .Values.worker.autoscaling.keda.redisAddress -}}
{{- .Values.worker.autoscaling.keda.redisAddress -}}
{{- else -}}
{{- printf "%s-redis.%s.svc:6379" (include "facematch.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* Secrets reach the app as files, read by pydantic-settings' secrets_dir. */}}
{{- define "facematch.env" -}}
- name: FACEMATCH_SECRETS_DIR
  value: /run/secrets/facematch
{{- end -}}

{{- define "facematch.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "facematch.secretName" . }}
    defaultMode: 0400
    items:
      - {key: database-url, path: FACEMATCH_DATABASE_URL}
      - {key: redis-url, path: FACEMATCH_REDIS_URL}
      - {key: secret-key, path: FACEMATCH_SECRET_KEY}
      {{- with .Values.metrics.tokenSecretKey }}
      - {key: {{ . }}, path: FACEMATCH_METRICS_TOKEN}
      {{- end }}
      {{- if .Values.mail.smtp.passwordFromSecret }}
      - {key: smtp-password, path: FACEMATCH_SMTP_PASSWORD}
      {{- end }}
      {{- if and (eq .Values.storage.backend "s3") .Values.storage.s3.credentialsFromSecret }}
      - {key: s3-access-key-id, path: FACEMATCH_S3_ACCESS_KEY_ID}
      - {key: s3-secret-access-key, path: FACEMATCH_S3_SECRET_ACCESS_KEY}
      {{- end }}
{{- end -}}

{{/* Volumes every facematch pod mounts: tmp (the root filesystem is read-only) and photos. */}}
{{- define "facematch.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.api.tmpSizeLimit }}
{{- if .Values.devReload }}
- name: dev-code
  emptyDir: {}
{{- end }}
{{- if eq .Values.storage.backend "pvc" }}
- name: photos
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-photos" (include "facematch.fullname" .)) .Values.storage.pvc.existingClaim }}
{{- end }}
{{ include "facematch.secretVolume" . }}
{{- end -}}

{{- define "facematch.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.devReload }}
- name: dev-code
  mountPath: /dev-code
{{- end }}
{{- if eq .Values.storage.backend "pvc" }}
- name: photos
  mountPath: /data/storage
{{- end }}
- name: secrets
  mountPath: /run/secrets/facematch
  readOnly: true
{{- end -}}

{{/* Egress both workloads need, each port to its own destinations only: DNS, the
datastores (the in-chart ones by pod, external ones by networkPolicy.egressTo.datastores),
the SMTP relay and the object store. */}}
{{- define "facematch.egress" -}}
{{- $to := .Values.networkPolicy.egressTo }}
- to:
    {{- toYaml $to.dns | nindent 4 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- to:
    {{- if or .Values.redis.enabled .Values.postgresql.enabled }}
    - podSelector:
        matchLabels:
          {{- include "facematch.selectorLabels" . | nindent 10 }}
        matchExpressions:
          - {key: app.kubernetes.io/component, operator: In, values: [redis, postgresql]}
    {{- end }}
    {{- with $to.datastores }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    {{- range .Values.networkPolicy.egressPorts }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- if .Values.mail.smtp.host }}
- to:
    {{- toYaml $to.smtp | nindent 4 }}
  ports:
    - {port: {{ .Values.mail.smtp.port }}, protocol: TCP}
{{- end }}
{{- if eq .Values.storage.backend "s3" }}
- to:
    {{- toYaml $to.objectStore | nindent 4 }}
  ports:
    {{- range .Values.storage.s3.egressPorts }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- end }}
{{- end -}}


{{/* Justified checkov skips for pods running our own images. */}}
{{- define "facematch.imageSkips" -}}
checkov.io/skip1: CKV_K8S_43=Images are pinned by immutable tags set by skaffold or CI.
checkov.io/skip2: CKV_K8S_15=Tags are immutable, so IfNotPresent is safe and avoids a pull per pod.
{{- end -}}


{{/*
devReload (skaffold's dev profile): the image's /app is copied into a writable emptyDir at
/dev-code, where skaffold syncs *.py and the processes run from; the root filesystem stays
read-only. Call with (dict "image" <image> "root" $).
*/}}
{{- define "facematch.devCodeInit" -}}
{{- if .root.Values.devReload }}
initContainers:
  - name: dev-code
    image: {{ .image }}
    command: ["cp", "-a", "/app/.", "/dev-code/"]
    securityContext:
      {{- toYaml .root.Values.securityContext | nindent 6 }}
    resources:
      requests: {cpu: 50m, memory: 32Mi}
      limits: {cpu: 200m, memory: 64Mi}
    volumeMounts:
      - name: dev-code
        mountPath: /dev-code
{{- end }}
{{- end -}}
