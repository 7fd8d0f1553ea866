"""The operator's own translation and checks, run on the placed spec.

`translate_spec` gives the four blocks with current names (extension fields kept in place);
`normalize` runs the checks the operator runs before it renders a job and lists every
translation it will report as a Warning Event. Both raise SpecError for a spec the trainer
cannot run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.normalize import SpecError, normalize, translate_spec

from sftjob_cli.errors import ConvertError


@dataclass(frozen=True)
class Translated:
    blocks: dict[str, dict[str, Any]]
    notes: tuple[str, ...]  # one line per translation: "<action>: <message>"


def translate(spec: Mapping[str, Any]) -> Translated:
    try:
        blocks = translate_spec(spec).blocks
        translations = normalize(spec).translations
    except SpecError as err:
        raise ConvertError(f"{err.field}: {err.message}") from None
    notes = tuple(f"{t.action}: {t.message}" for t in translations)
    return Translated({block: dict(values) for block, values in blocks.items()}, notes)
