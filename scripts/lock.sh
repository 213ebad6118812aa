#!/usr/bin/env bash
# Refresh requirements.lock: exact versions and hashes of everything scripts/setup.sh installs,
# resolved from pyproject.toml (with the test extra) and requirements/tools.in for Python 3.11
# on Linux.  Run it after changing a dependency, then run the tests and commit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
if [ ! -x .tools/lockenv/bin/uv ] || ! .tools/lockenv/bin/uv --version | grep -q " $UV_VERSION"; then
    python3 -m venv .tools/lockenv
    .tools/lockenv/bin/python -m pip install -q "uv==$UV_VERSION"
fi
.tools/lockenv/bin/uv pip compile pyproject.toml requirements/tools.in --extra test \
    --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
    --custom-compile-command "bash scripts/lock.sh" --quiet -o requirements.lock
echo "requirements.lock refreshed ($(grep -c '==' requirements.lock) packages)"
