"""The chart README's tables say what the chart and the operator do: every namespaced RBAC
rule of the chart's template is a row of "What the operator may do", and every flag of
`sftjob-operator` is in its flags table."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from sftjob_operator.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "sftjob-operator"


def namespaced_rules() -> list[dict[str, list[str]]]:
    text = (CHART / "templates" / "_helpers.tpl").read_text()
    body = re.search(
        r'\{\{- define "sftjob-operator\.namespacedRules" -\}\}(.*?)\{\{- end -\}\}', text, re.S
    )
    assert body, "the namespacedRules block of _helpers.tpl"
    rules: list[dict[str, list[str]]] = yaml.safe_load(body.group(1))
    return rules


def readme_rows() -> set[tuple[str, str, str]]:
    rows = set()
    for line in (CHART / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("API group", "---"):
            rows.add((cells[0], cells[1], cells[2]))
    return rows


def test_every_namespaced_rule_is_a_row_of_the_readme() -> None:
    rules = namespaced_rules()
    assert len(rules) >= 10
    rows = readme_rows()
    missing = []
    for rule in rules:
        group = '""' if rule["apiGroups"] == [""] else ", ".join(rule["apiGroups"])
        row = (group, ", ".join(rule["resources"]), ", ".join(rule["verbs"]))
        if row not in rows:
            missing.append(" | ".join(row))
    assert not missing, "charts/sftjob-operator/README.md lacks the rows:\n" + "\n".join(missing)


def test_every_operator_flag_is_in_the_readme() -> None:
    readme = (CHART / "README.md").read_text()
    flags = [
        option
        for action in build_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert len(flags) >= 10
    missing = [flag for flag in flags if f"`{flag}" not in readme]
    assert not missing, f"charts/sftjob-operator/README.md does not name: {missing}"


def flag_rows() -> dict[str, list[str]]:
    """The flags table's rows by their first flag: `--x`/`-y ARG` -> the row's cells."""
    rows = {}
    for line in (CHART / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`--"):
            rows[cells[0].strip("`").split()[0].split("`")[0]] = cells
    return rows


def test_the_numeric_defaults_in_the_readme_are_the_parsers() -> None:
    rows = flag_rows()
    checked = 0
    for action in build_parser()._actions:
        default = action.default
        if not isinstance(default, int | float) or isinstance(default, bool):
            continue
        flag = next(o for o in action.option_strings if o.startswith("--"))
        assert flag in rows, f"no row for {flag}"
        assert rows[flag][1] == f"{default:g}", f"{flag}: README {rows[flag][1]}, parser {default}"
        checked += 1
    assert checked >= 6
