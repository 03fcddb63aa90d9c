#!/usr/bin/env bash
# Starts the app on http://localhost:8501 from the checkout's .venv, made or updated first (see _env.sh).
# Arguments go to `streamlit run app.py`; PYTHON=/path/to/python3 picks the interpreter.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
venv_ready requirements.txt
exec "$VENV_PYTHON" -m streamlit run app.py "$@"
