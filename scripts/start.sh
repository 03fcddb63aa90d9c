#!/usr/bin/env bash
# Starts the app on http://localhost:8501 from the checkout's .venv, made or updated first (see _env.sh).
# Arguments go to `streamlit run app.py`; PYTHON=/path/to/python3 picks the interpreter.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
# Ray only where the lab is pointed at a cluster (the Paper page's grids then run there)
venv_ready "$([ -n "${CWRNN_RAY_ADDRESS:-}" ] && echo requirements-ray.txt || echo requirements.txt)"
exec "$VENV_PYTHON" -m streamlit run app.py "$@"
