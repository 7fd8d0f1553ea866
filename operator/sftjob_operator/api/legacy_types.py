"""The vocabulary of the legacy table (legacy.py): what a legacy name becomes, and why."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Action = Literal["renamed", "moved", "value-translated", "restructured", "dropped", "rejected"]
ConflictPolicy = Literal["error", "keep-current", "replace-zero"]


class _Same:
    """Marker: the translated value is the legacy value itself."""

    def __repr__(self) -> str:
        return "SAME"


SAME: Final = _Same()


@dataclass(frozen=True)
class Target:
    """Where a legacy value goes: a spec block and a key path inside it."""

    block: str
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return f"spec.{self.block}.{'.'.join(self.path)}"


@dataclass(frozen=True)
class ValueCase:
    """One accepted value of a legacy field and what it becomes."""

    value: Any
    action: Action
    target: Target | None = None  # None: the field is dropped for this value
    new_value: Any = SAME


@dataclass(frozen=True)
class LegacyField:
    """A field name that the pinned TRL/transformers no longer has (or that the spec forbids).

    With `cases`, the value decides: each accepted value is listed, any other value
    is rejected with `note`. Without `cases`, `action` and `target` apply to any value.
    "restructured" fields change shape on the way (a recipe's dataset mixture becomes
    datasetMixture): `recipe_forms.RESTRUCTURE` holds the function for each of them.
    """

    block: str
    name: str
    action: Action
    note: str  # why, and what to write instead
    target: Target | None = None
    cases: tuple[ValueCase, ...] = ()
    # CRD schema for the legacy key; None means "the target's schema" (or any value
    # for rejected fields).
    schema: Mapping[str, Any] | None = None
    conflict: ConflictPolicy = "error"

    @property
    def dotted(self) -> str:
        return f"spec.{self.block}.{self.name}"


@dataclass(frozen=True)
class ValueAlias:
    """A legacy value of a current field. `new` None means the value is rejected."""

    block: str
    name: str
    old: Any
    new: Any | None
    note: str


def to(block: str, *path: str) -> Target:
    return Target(block, tuple(path))


BOOL: Final[Mapping[str, Any]] = {"type": "boolean"}
INT: Final[Mapping[str, Any]] = {"type": "integer"}
STR: Final[Mapping[str, Any]] = {"type": "string", "maxLength": 4096}
ANY: Final[Mapping[str, Any]] = {"x-kubernetes-preserve-unknown-fields": True}
OBJECT: Final[Mapping[str, Any]] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

T5 = "removed in transformers 5"
TOKEN_NOTE = (
    "a token written in the spec is readable by everyone who can read the SFTJob: store it in a "
    "Secret and set spec.hubTokenSecretRef: {name: <secret>, key: token}"
)


@dataclass(frozen=True)
class ReadKeys:
    """A dict field of which TRL reads only some keys: the others are reported and left out."""

    block: str
    name: str
    read: frozenset[str]
    note: str
