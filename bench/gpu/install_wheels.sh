# Sourced by smoke.sh and throughput.sh: install what .whl/ carries (bench/gpu/make_wheels.py
# fills it) into /tmp/sftjob-site, offline, and put it on PYTHONPATH ahead of the machine's
# packages. A wheel whose version is already installed is left out; an xz tarball is an
# unpacked wheel (make_wheels.py --part throughput) and is unpacked as it is.
PYTHON="${PYTHON:-python3}"
SITE=/tmp/sftjob-site
if [ -d .whl ]; then
    mapfile -t wheels < <("$PYTHON" - <<'PY'
import importlib.metadata as md, pathlib
for w in sorted(pathlib.Path(".whl").glob("*.whl")):
    name, version = w.name.split("-")[:2]
    try:
        if md.version(name) == version:
            continue
    except md.PackageNotFoundError:
        pass
    print(w)
PY
)
    if [ "${#wheels[@]}" -gt 0 ]; then
        echo "install: ${wheels[*]}"
        # Into a folder of our own: the image's environment may be read-only.
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --upgrade --target "$SITE" "${wheels[@]}"
    fi
    for tarball in .whl/*.tar.xz; do
        [ -e "$tarball" ] || continue
        echo "install: $tarball"
        mkdir -p "$SITE" && tar -xJf "$tarball" -C "$SITE"
    done
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
