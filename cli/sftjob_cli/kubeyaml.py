"""Read manifests as kubectl sends them to the apiserver.

kubectl turns YAML into JSON with the Kubernetes YAML library (YAML 1.1 scalars as Go's
yaml.v2 resolves them) before sending it, so the apiserver sees:
- `2e-5` as a number (PyYAML's YAML 1.1 reads it as a string), `y`/`n` as booleans;
- a timestamp as a string (JSON has no dates);
- `2.0` as the integer 2 (Go writes a whole float64 as `2`, and the apiserver decodes it
  as an integer), so `nodes: 2.0` is a valid integer;
- no NaN or infinity (JSON cannot hold them);
- an integer beyond int64 as a float (Go's yaml.v2 falls back to ParseFloat), which an
  integer field then refuses, as the apiserver does;
- a key written twice as an error, and aliases that expand a document past a million
  values as an error (yaml.v2 refuses "excessive aliasing") rather than a hang.
The documents of a file come back in order; empty documents are skipped, as kubectl does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sftjob_cli.errors import ManifestError
from sftjob_cli.yamlread import UniqueKeyLoader, YamlRefused, load

_GO_INT = re.compile(r"^[-+]?(0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)$")
_GO_FLOAT = re.compile(
    r"^[-+]?(\.[0-9_]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$"
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)
_TRUE = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")
_FALSE = ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")
_GO_BOOL = re.compile("^(" + "|".join(_TRUE + _FALSE) + ")$")
_REPLACED = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "timestamp")}


INT64 = (-(2**63), 2**63 - 1)


def plain_is_not_string(text: str) -> bool:
    """Whether kubectl reads `text`, written unquoted, as a boolean or a number (`2e-5`, `y`,
    `4057e12`), where PyYAML would write it unquoted as a string."""
    return any(rx.match(text) for rx in (_GO_BOOL, _GO_INT, _GO_FLOAT))


class KubectlLoader(UniqueKeyLoader):
    """SafeLoader with the scalar resolution of the YAML library kubectl uses."""


KubectlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
KubectlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _GO_BOOL, list("yYnNtTfFoO"))
KubectlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _GO_INT, list("-+0123456789"))
KubectlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _GO_FLOAT, list("-+0123456789."))


def _construct_bool(loader: KubectlLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)) in _TRUE


def _construct_int(loader: KubectlLoader, node: yaml.ScalarNode) -> int | float:
    """Go's strconv.ParseInt(s, 0, 64) after yaml.v2 removed the underscores; past int64,
    its ParseFloat."""
    number = _go_int(str(loader.construct_scalar(node)))
    return number if INT64[0] <= number <= INT64[1] else float(number)


def _go_int(written: str) -> int | float:
    text = written.replace("_", "")
    sign, digits = ("-" if text[0] == "-" else "", text.lstrip("+-"))
    if len(digits) > 1 and digits[0] == "0" and digits.isdigit():
        if set(digits) <= set("01234567"):
            return int(sign + digits, 8)  # a leading 0 is octal in Go
        return float(sign + digits)  # 09: no octal number, but a float to Go
    return int(sign + digits, 0)


def _construct_float(loader: KubectlLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.lstrip("+-").lower() in (".inf", ".nan"):
        return float(text.replace(".", ""))
    return float(text)


KubectlLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
KubectlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
KubectlLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def as_json(value: Any, where: str = "") -> Any:
    """The value after kubectl's JSON round trip (whole floats within int64 become
    integers), each alias expanded."""
    if isinstance(value, dict):
        pairs = ((_key(k), v) for k, v in value.items())
        return {k: as_json(v, f"{where}.{k}" if where else k) for k, v in pairs}
    if isinstance(value, list):
        return [as_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ManifestError(f"{where}: {value} cannot be sent to the apiserver (not JSON)")
        whole = value.is_integer() and INT64[0] <= value <= INT64[1]
        return int(value) if whole else value
    return value


def _key(key: Any) -> str:
    """A mapping key as JSON has it (the YAML library writes booleans in lower case)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def parse_documents(text: str) -> list[Any]:
    """Every non-empty document of a YAML stream, as the apiserver would receive it."""
    try:
        return [as_json(doc) for doc in load(text, KubectlLoader)]
    except YamlRefused as err:
        raise ManifestError(str(err)) from None


def read_documents(path: str) -> list[Any]:
    """The documents of a file (`-` is standard input)."""
    try:
        text = _read(path)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot be read: {err}") from None
    try:
        return parse_documents(text)
    except ManifestError as err:
        raise ManifestError(f"{path}: {err}") from None


def _read(path: str) -> str:
    if path == "-":
        import sys

        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


def document_label(path: str, index: int, count: int) -> str:
    """How messages name a document of a file: the file alone, or `file#N` among several."""
    return path if count == 1 else f"{path}#{index + 1}"


def labelled_objects(docs: Sequence[Any], path: str) -> list[tuple[str, Any]]:
    """(label, object) of each document of a file, a `kind: List` (`kubectl get sftjobs -o
    yaml`) opened into its items, as kubectl apply opens it."""
    found: list[tuple[str, Any]] = []
    for index, doc in enumerate(docs):
        where = document_label(path, index, len(docs))
        items = doc.get("items") if isinstance(doc, dict) else None
        if (
            isinstance(doc, dict)
            and str(doc.get("kind", "")).endswith("List")
            and isinstance(items, list)
        ):
            found += [(f"{where}: items[{i}]", item) for i, item in enumerate(items)]
        else:
            found.append((where, doc))
    return found
