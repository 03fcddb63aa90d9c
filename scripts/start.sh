#!/usr/bin/env bash
# Installs the app's requirements and starts it on http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements.txt -e . 2>&1 | grep -v "running pip as the 'root' user" || true
exec python3 -m streamlit run app.py "$@"
