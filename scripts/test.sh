#!/usr/bin/env bash
# Set up everything the tests need, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the interop tests run an @ethereumjs/devp2p peer (Node.js 20 + npm; versions pinned by the lock file)
if [ ! -d tests/interop/node_modules/@ethereumjs/devp2p ]; then
    npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
fi
# go-ethereum's geth and devp2p tool for the interop tests (pinned in requirements/go-ethereum.txt)
bash scripts/tools.sh
exec .venv/bin/python -m pytest -q "$@"
