#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install exactly what requirements.lock names (versions and
# hashes), then the project itself, editable, without fetching anything else.  Does nothing when
# the lock and pyproject.toml are unchanged since the last install.  Refresh the lock with
# scripts/lock.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
        -r requirements.lock
    # the editable install's build prints a setuptools warning on success: shown only on failure
    if ! out=$(.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
            --no-build-isolation -e . 2>&1); then
        echo "$out" >&2
        exit 1
    fi
    echo "$stamp" > .venv/.installed
fi
