"""The operator's functions the CLI runs, imported in this one place.

validate and render run the operator's own code: normalize() (the translation of legacy
names and the checks the operator makes before it creates anything), render_children()
(the child manifests) and spec_policy() (the admission policy with the rules across
fields). When one of them moves, this module is the one to change.
"""

from __future__ import annotations

from sftjob_operator.api.normalize import SpecError, normalize
from sftjob_operator.render import RenderError, render_children
from sftjob_operator.render.spec_policy import spec_policy

__all__ = ["RenderError", "SpecError", "normalize", "render_children", "spec_policy"]
