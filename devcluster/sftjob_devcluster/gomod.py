"""Pure functions that derive the wrapper modules' go.mod files.

k8s.io/kubernetes's go.mod requires its ~31 staging modules (k8s.io/api,
k8s.io/apiserver, ...) at v0.0.0 and replaces them with ./staging paths, which
is why `go install k8s.io/kubernetes/...` cannot work. A wrapper module needs
one `replace k8s.io/X => k8s.io/X v0.MINOR.PATCH` line per staging module. The
list is read from the tag's own go.mod, never maintained by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .versions import staging_version

_REQUIRE_LINE = re.compile(r"^\s*(?:require\s+)?(k8s\.io/\S+)\s+v0\.0\.0(?:\s*//.*)?$")
_GO_LINE = re.compile(r"^go\s+(\d+\.\d+(?:\.\d+)?)\s*$")


def staging_modules(gomod_text: str) -> list[str]:
    """Module paths that k8s.io/kubernetes requires at the placeholder version v0.0.0."""
    found: list[str] = []
    for line in gomod_text.splitlines():
        match = _REQUIRE_LINE.match(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return sorted(found)


def go_directive(gomod_text: str) -> str:
    """The `go` version line of a go.mod (e.g. '1.26.0')."""
    for line in gomod_text.splitlines():
        match = _GO_LINE.match(line.strip())
        if match:
            return match.group(1)
    raise ValueError("go.mod has no 'go' directive")


def required_version(gomod_text: str, module: str) -> str | None:
    """The version at which a go.mod requires `module`, or None."""
    pattern = re.compile(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)")
    for line in gomod_text.splitlines():
        match = pattern.match(line)
        if match:
            return match.group(1)
    return None


def replace_lines(modules: Iterable[str], kubernetes: str) -> list[str]:
    """`k8s.io/X => k8s.io/X v0.M.P` for every staging module."""
    version = staging_version(kubernetes)
    return [f"{m} => {m} {version}" for m in sorted(modules)]


def render_gomod(
    module: str,
    go: str,
    requires: dict[str, str],
    replaces: Iterable[str] = (),
) -> str:
    """A go.mod text with one require block and one replace block."""
    lines = [f"module {module}", "", f"go {go}", "", "require ("]
    lines += [f"\t{path} {version}" for path, version in sorted(requires.items())]
    lines.append(")")
    replaces = list(replaces)
    if replaces:
        lines += ["", "replace ("]
        lines += [f"\t{r}" for r in replaces]
        lines.append(")")
    return "\n".join(lines) + "\n"
