"""Read the Prometheus text exposition format, as a scrape does (tests only)."""

from __future__ import annotations


def samples(text: str) -> dict[str, float]:
    """`name{labels} value` lines -> {"name{labels}": value}; every sample's family must be
    declared by a `# TYPE` line before it."""
    out: dict[str, float] = {}
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.add(line.split()[2])
        elif line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            assert series.split("{")[0] in declared, line
            out[series] = float(value)
    return out
