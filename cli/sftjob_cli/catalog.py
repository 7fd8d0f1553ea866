"""Every key a recipe may hold, and where it goes: TRL's dataclass fields, the spec's extension
fields, the legacy names and the `accelerate launch` arguments that `trl sft` accepts.

The lists are the operator's own (`trl_fields.json`, `EXTENSION_FIELDS`, `LEGACY_FIELDS`);
this module only indexes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sftjob_operator.api.extensions import EXTENSION_FIELDS
from sftjob_operator.api.legacy import LEGACY_FIELDS
from sftjob_operator.api.trl_fields import TrlFields, load_trl_fields

from sftjob_cli import accelerate

# Keys of a `trl sft` YAML config that are not dataclass fields but TrlParser reads.
ENV_KEY = "env"

_SCHEMA_KINDS = {"boolean": "bool", "integer": "int", "number": "number", "string": "string"}


@dataclass(frozen=True)
class Placed:
    """Where one known key goes: a spec block, and the kind its command-line value has."""

    block: str
    kind: str | None


def _schema_kind(schema: Mapping[str, Any] | None) -> str | None:
    if not schema:
        return None
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items") or {}
        return "string-list" if items.get("type") == "string" else "dataclass-list"
    if kind == "object":
        return "object-or-string"
    return _SCHEMA_KINDS.get(str(kind))


def _legacy_kind(rec: Any, trl: TrlFields) -> str | None:
    kind = _schema_kind(getattr(rec, "schema", None))
    target = getattr(rec, "target", None)
    if kind is None and target is not None and len(target.path) == 1:
        kind = trl.kinds.get(target.block, {}).get(target.path[0])
    return kind


@dataclass(frozen=True)
class FieldCatalog:
    trl: TrlFields
    extensions: Mapping[str, Placed]
    legacy: Mapping[str, Placed]

    def place(self, key: str) -> Placed | None:
        """TRL's fields first, then the spec's extension fields, then legacy names."""
        block = self.trl.block_of(key)
        if block is not None:
            return Placed(block, self.trl.kinds[block][key])
        return self.extensions.get(key) or self.legacy.get(key)

    def kind_of(self, key: str) -> str | None:
        if key in accelerate.LAUNCH_KINDS:
            return accelerate.LAUNCH_KINDS[key]
        placed = self.place(key)
        return placed.kind if placed else None

    def is_known(self, key: str) -> bool:
        return (
            key == ENV_KEY
            or key in accelerate.LAUNCH_KINDS
            or key in accelerate.IGNORED_LAUNCH_ARGS
            or self.place(key) is not None
        )

    def names(self) -> list[str]:
        """The current names, for "did you mean" (a legacy name would only be translated)."""
        names = [name for kinds in self.trl.kinds.values() for name in kinds]
        names += [*self.extensions, *accelerate.LAUNCH_KINDS, ENV_KEY]
        return names


def build_catalog(trl: TrlFields, extensions: Iterable[Any], legacy: Iterable[Any]) -> FieldCatalog:
    """Records need `.block` and `.name`. A legacy name listed in several blocks goes to the
    block of its first record, as LEGACY_FIELDS orders them."""
    ext: dict[str, Placed] = {}
    for rec in extensions:
        if getattr(rec, "item_of", None):
            continue  # a key of each item of a list field, not of the block
        kind = getattr(rec, "kind", None) or _schema_kind(getattr(rec, "schema", None))
        ext.setdefault(rec.name, Placed(rec.block, kind))
    old: dict[str, Placed] = {}
    for rec in legacy:
        old.setdefault(rec.name, Placed(rec.block, _legacy_kind(rec, trl)))
    return FieldCatalog(trl, ext, old)


@cache
def default_catalog() -> FieldCatalog:
    return build_catalog(load_trl_fields(), EXTENSION_FIELDS, LEGACY_FIELDS)
