"""Identity of the SFTJob resource, shared by the operator, the CRD generator and tests."""

GROUP = "sftjob.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SFTJob"
PLURAL = "sftjobs"
SINGULAR = "sftjob"
SHORT_NAMES = ("sft",)

# Labels and annotations the operator puts on the children it owns.
LABEL_JOB_NAME = f"{GROUP}/job-name"
LABEL_ATTEMPT = f"{GROUP}/attempt"
LABEL_COMPONENT = f"{GROUP}/component"
# The trainer sets this label on its job's config ConfigMap with its first progress record,
# so the operator's progress watch (a server-side label selector) carries only ConfigMaps
# that hold progress: never one of a job that has not started training.
LABEL_PROGRESS = f"{GROUP}/progress"
PROGRESS_REPORTED = "reported"
