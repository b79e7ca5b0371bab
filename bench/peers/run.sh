#!/usr/bin/env bash
# Benchmark headrace against ZenML and Metaflow; arguments go to run.py (try --help).
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/run.py" "$@"
