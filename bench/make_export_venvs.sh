#!/usr/bin/env bash
# Create the virtualenvs the export tests and the serving benchmark load MLflow and
# BentoML from: bench/.venvs/mlflow and bench/.venvs/bentoml. Each gets its own
# environment (MLflow needs pyarrow<26; the two do not resolve together with new pip).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
venvs="$here/.venvs"
mkdir -p "$venvs"

make_venv() {  # name, packages...
    local name="$1"; shift
    if [ -x "$venvs/$name/bin/python" ] && "$venvs/$name/bin/python" -c "import $name" 2>/dev/null; then
        echo "$name: $venvs/$name exists"
        return
    fi
    "$python" -m venv "$venvs/$name"
    "$venvs/$name/bin/pip" install --quiet --upgrade pip
    "$venvs/$name/bin/pip" install --quiet "$@" > "$venvs/$name-install.log" 2>&1
    echo "$name: $venvs/$name ready"
}

make_venv mlflow "mlflow>=3,<4" "pyarrow<26" "scikit-learn" "pandas" "skops"
make_venv bentoml "bentoml>=1.4,<1.5" "scikit-learn" "pandas" "skops"
