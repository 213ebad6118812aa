#!/usr/bin/env bash
# Set up .venv on first use, then run the node(s).  Without arguments: the built-in default
# (two local nodes that connect and exchange test/1 messages), events printed as JSON lines.
# Arguments are passed to run_node.py, e.g.  bash scripts/run.sh --config my.yaml --duration 60
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python run_node.py "$@"
