{{/* Names and labels shared by the templates. */}}

{{- define "datapool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "datapool.fullname" -}}
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

{{- define "datapool.selectorLabels" -}}
app.kubernetes.io/name: {{ include "datapool.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "datapool.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "datapool.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "datapool.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "datapool.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "datapool.sharedClaimName" -}}
{{- default (printf "%s-shared" (include "datapool.fullname" .)) .Values.shared.existingClaim }}
{{- end }}

{{- define "datapool.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The health check every probe runs. Plaintext: the kubelet's own gRPC probe
(grpc.health.v1 on the gRPC port). With TLS the kubelet's gRPC probe cannot
connect (it speaks plaintext only), so the image's CLI checks the same
service over TLS, as a client of the server's certificate.
*/}}
{{- define "datapool.healthCheck" -}}
{{- if .Values.tls.enabled -}}
exec:
  command:
    - datapool
    - health
    - --server
    - {{ printf "%s:%d" .Values.tls.probeServerName (int .Values.service.grpcPort) }}
    - --timeout
    - {{ .timeout | quote }}
    - --tls-ca
    - /etc/datapool/tls/{{ .Values.tls.caKey }}
    {{- if .Values.tls.clientCA.enabled }}
    - --tls-cert
    - /etc/datapool/probe-client/tls.crt
    - --tls-key
    - /etc/datapool/probe-client/tls.key
    {{- end }}
    {{- if .service }}
    - --service
    - {{ .service }}
    {{- end }}
{{- else -}}
grpc:
  port: {{ .Values.service.grpcPort }}
  {{- if .service }}
  service: {{ .service }}
  {{- end }}
{{- end }}
{{- end }}
