"""A shell script line's variables, expanded as the shell would, from the file's own exports.

`sftjob convert` reads a `.sh` recipe without running it, so the only values it knows are
those the file's `export NAME=value` lines set. It expands `$NAME`, `${NAME}` and
`${NAME:-default}` where the shell would: not inside single quotes, not after a backslash,
not in a comment. A variable the file does not set, another `${...}` form (`${NAME%/*}`,
`${NAME-default}`) and command substitution are refused.
The expanded text is quoted so that `shlex.split` keeps it one word, as a quoted shell
variable is. Pure.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from sftjob_cli.errors import ConvertError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VARIABLE = re.compile(rf"\$(?:\{{({_NAME})(?::-([^}}]*))?\}}|({_NAME}|[0-9@*#?]))")


def expand(line: str, env: Mapping[str, str]) -> str:
    """The line with its variables replaced by their values (quoted for shlex)."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(line):
        char = line[i]
        if quote == "'":
            quote = None if char == "'" else quote
            out.append(char)
            i += 1
        elif char == "\\":
            out.append(line[i : i + 2])
            i += 2
        elif char == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            out.append(line[i:])  # a comment, which shlex drops
            break
        elif char == "$" and line.startswith("$(", i):
            raise ConvertError(
                f"{line[:80]!r}: command substitution $(...) cannot be run: sftjob convert "
                "reads the file without running it; write the value"
            )
        elif char == "$" and (match := _VARIABLE.match(line, i)):
            out.append(_value(line, match, env, quote == '"'))
            i = match.end()
        elif char == "$" and line.startswith("${", i):
            shown = line[i : line.find("}", i) + 1 or None]
            raise ConvertError(
                f"{line[:80]!r}: {shown} is not expanded: sftjob convert reads the file "
                "without running it and expands only $NAME, ${NAME} and ${NAME:-default}; "
                "write the value"
            )
        else:
            if char in "'\"":
                quote = char if quote is None else (None if quote == char else quote)
            out.append(char)
            i += 1
    return "".join(out)


def _value(line: str, match: re.Match[str], env: Mapping[str, str], in_double: bool) -> str:
    name = match.group(1) or match.group(3)
    value = env.get(name) or match.group(2)
    if value is None and name not in env:
        exported = line.lstrip().startswith("export ")
        if exported:
            fix = "remove the export, or write the value the pod needs (exports become spec.env)"
        elif re.fullmatch(_NAME, name):
            fix = f"write the value, or `export {name}=...` on a line before the command"
        else:
            fix = "write the value"  # a positional or special parameter
        raise ConvertError(
            f"{line[:80]!r}: ${name} comes from the shell that runs the file, which sftjob "
            f"convert does not run: {fix}"
        )
    text = value or ""
    if in_double:
        return re.sub(r'(["\\$`])', r"\\\1", text)
    return shlex.quote(text)
