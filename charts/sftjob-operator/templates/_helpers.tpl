{{/* The chart name, truncated to a DNS label. */}}
{{- define "sftjob-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-sftjob-operator, or just the release name when it already contains the chart name. */}}
{{- define "sftjob-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Cluster-scoped objects (the ClusterRole and its binding) carry the release's namespace:
Helm allows a release of the same name in another namespace (one operator per team). Not
cut to 63 characters: RBAC names may have 253, and a cut could make two releases share one. */}}
{{- define "sftjob-operator.clusterScopedName" -}}
{{- printf "%s-%s" .Release.Namespace (include "sftjob-operator.fullname" .) -}}
{{- end -}}

{{- define "sftjob-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sftjob-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sftjob-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "sftjob-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sftjob-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sftjob-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: serviceAccount.create is false, so name an existing ServiceAccount (e.g. --set serviceAccount.name=sftjob-operator)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does in each namespace it watches, and nothing more.
Read from operator/sftjob_operator/{handlers,reconcile,k8s}.py and kopf's needs.
*/}}
{{- define "sftjob-operator.namespacedRules" -}}
# Watch SFTJobs (kopf index and event handler); get one before a retry; delete one
# when its ttlSecondsAfterFinished has passed. The operator never writes the spec.
- apiGroups: ["sftjob.dev"]
  resources: ["sftjobs"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["sftjob.dev"]
  resources: ["sftjobs/status"]
  verbs: ["patch"]
# Every child's ownerReference sets blockOwnerDeletion; where the apiserver runs the
# OwnerReferencesPermissionEnforcement admission plugin (OpenShift does), that needs
# update on the owner's finalizers. The operator sets no finalizer.
- apiGroups: ["sftjob.dev"]
  resources: ["sftjobs/finalizers"]
  verbs: ["update"]
# Training Jobs: create each attempt, check ownership on 409, mirror suspend,
# stop stragglers (patch), delete a failed attempt.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Training pods are only observed (phases, scheduling and image-pull reasons).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# <job>-config: create it, watch the progress record the trainer adds, reset it on a restart.
# patch is also what the trainer's Role grants, which RBAC only lets a holder grant.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
# The rendezvous Service (garbage-collected through its ownerReference): create it, and on
# 409 read it to check that it is this SFTJob's (children.create); its name is the same for
# every attempt, and every start of the operator ensures the children of running jobs.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "create"]
# Once per namespace, the trainer's shared ServiceAccount, Role and RoleBinding
# "sftjob-trainer" (a 409 means it is there).
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["create"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["create"]
# The output PVC; an existing claim is read to check its access modes.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "create"]
# Events on SFTJobs (kopf posts core/v1 Events; it never updates them). list: a Job's
# FailedCreate Events, read while its pods are missing (a quota or a webhook refused them).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "list"]
# Kueue: read the Workload of a queued job's Job (Kueue's reason, preemption), and set its
# spec.active when the SFTJob's spec.suspend changes. Harmless without Kueue installed.
- apiGroups: ["kueue.x-k8s.io"]
  resources: ["workloads"]
  verbs: ["list", "patch"]
{{- end -}}

{{/* Cluster-scoped and read-only: kopf observes CRDs (to notice re-installs); the
operator checks at start-up that its two admission policies are installed. */}}
{{- define "sftjob-operator.observeRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingadmissionpolicies", "validatingadmissionpolicybindings"]
  resourceNames: ["sftjob-trainer-progress", "sftjob-spec-rules"]
  verbs: ["get"]
{{- end -}}

{{/* The Lease of leader election (operator/sftjob_operator/leader/): read and renew
this release's own, create it when missing. */}}
{{- define "sftjob-operator.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "sftjob-operator.fullname" . | quote }}]
  verbs: ["get", "patch"]
{{- end -}}
