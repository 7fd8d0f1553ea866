"""CEL rules (x-kubernetes-validations) of the SFTJob CRD: the rules about one field or one
small block.

Each rule's message names the field, says what is wrong and what to write instead. Rules
about one field live on that field, so they run only when it is set; the storage rules
live on the storage block, whose schema is small.

Rules across fields and blocks, and the immutability of the training settings, are in the
admission policy sftjob_operator.admission.spec_policy instead: the apiserver evaluates a
CRD's rules on every write, status writes included, and reading sftConfig's fields from
CRD CEL is expensive (bench/crd_write_cost.py).
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.legacy import VALUE_ALIASES, LegacyField
from sftjob_operator.api.paths import output_dir_rules

Rule = dict[str, Any]


def rule(expr: str, message: str, field_path: str | None = None) -> Rule:
    out: Rule = {"rule": expr, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    return out


def storage_rules() -> list[Rule]:
    return [
        rule(
            "has(self.claimName) != has(self.size)",
            "spec.storage: set either claimName (an existing PersistentVolumeClaim) or size (the "
            "operator creates one), not both and not neither",
        ),
        rule(
            "!has(self.claimName) || (!has(self.storageClassName) && !has(self.accessMode))",
            "spec.storage.storageClassName and spec.storage.accessMode apply only with "
            "spec.storage.size, not with claimName",
        ),
    ]


def _cel_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def rejected_field_rule(rec: LegacyField) -> Rule | None:
    """Field-level rule for a legacy field that is rejected whatever its value.

    A rule on the field itself runs only when the field is present, so a spec without it
    pays nothing; the same check as `!has(self.<field>)` on the block would cost a lookup
    in the block's (large) property table on every write.
    """
    if rec.action != "rejected" or rec.cases:
        return None
    return rule("false", f"spec.{rec.block}.{rec.name} is not supported: {rec.note}")


def legacy_value_rule(rec: LegacyField) -> Rule | None:
    """Field-level rule for a legacy field whose accepted values are listed."""
    if not rec.cases:
        return None
    values = ", ".join(_cel_literal(c.value) for c in rec.cases)
    return rule(
        f"self in [{values}]",
        f"spec.{rec.block}.{rec.name}: only {values} can be translated: {rec.note}",
    )


def rejected_value_rule(block: str, name: str) -> Rule | None:
    """Field-level rule for legacy values of a current free-string field that are rejected."""
    bad = [a for a in VALUE_ALIASES if a.block == block and a.name == name and a.new is None]
    if not bad:
        return None
    values = ", ".join(_cel_literal(a.old) for a in bad)
    notes = "; ".join(a.note for a in bad)
    return rule(f"!(self in [{values}])", f"spec.{block}.{name}: {notes}")


def path_rules(block: str, name: str) -> list[Rule]:
    """Rules on a path field: output_dir must resolve on the job's storage."""
    if (block, name) != ("sftConfig", "output_dir"):
        return []
    return [rule(expr, message) for expr, message in output_dir_rules()]
