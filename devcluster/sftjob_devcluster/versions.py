"""The one place where the devcluster's component versions are pinned.

Kubernetes and etcd must agree: etcd is the version that the Kubernetes
release's own go.mod requires (the build checks this). kwok is the release
whose client libraries match the Kubernetes minor.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cached import short_digest

KUBERNETES = "v1.36.3"
ETCD = "v3.6.8"
KWOK = "v0.8.0"
# helm is built separately (sftjob_devcluster.helm) with its own cache key.
HELM = "v3.22.0"
# Kueue is built separately (sftjob_devcluster.kueue_build), only for `up --kueue`.
KUEUE = "v0.17.0"

# The Go tools the tests build (sftjob_devcluster.gotools): kstatus, as Flux computes an
# object's status, and the Lua interpreter Argo CD runs health scripts in, at the versions
# Argo CD ARGOCD requires (the build checks this against its go.mod).
CLI_UTILS = "v0.37.2"
ARGOCD = "v3.6.1"
GOPHER_LUA = "v1.1.2"
GOPHER_JSON = "v0.0.0-20190114024228-97fed8db8427"

# Bumped whenever the wrapper modules or the build recipe change, so that the
# binary cache key changes with them.
RECIPE = "1"
HELM_RECIPE = "1"
GOTOOLS_RECIPE = "1"
KUEUE_RECIPE = "2"


@dataclass(frozen=True)
class Versions:
    kubernetes: str = KUBERNETES
    etcd: str = ETCD
    kwok: str = KWOK
    recipe: str = RECIPE

    def cache_key(self, go_version: str, sources_digest: str) -> str:
        """A short directory name that changes whenever any input of the build changes."""
        parts = (self.kubernetes, self.etcd, self.kwok, self.recipe, go_version, sources_digest)
        return f"k8s-{self.kubernetes}-{short_digest(*parts)}"


def staging_version(kubernetes: str) -> str:
    """k8s.io/kubernetes v1.X.Y publishes its staging modules as v0.X.Y."""
    if not kubernetes.startswith("v1."):
        raise ValueError(
            f"kubernetes version {kubernetes!r}: expected a tag like 'v1.36.3', "
            "whose staging modules are published as v0.36.3"
        )
    return "v0." + kubernetes[len("v1.") :]


def major_minor(kubernetes: str) -> tuple[str, str]:
    """('1', '36') for 'v1.36.3'."""
    parts = kubernetes.lstrip("v").split(".")
    if len(parts) < 2:
        raise ValueError(f"kubernetes version {kubernetes!r}: expected 'vMAJOR.MINOR.PATCH'")
    return parts[0], parts[1]
