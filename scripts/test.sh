#!/usr/bin/env bash
# Runs the tests from the checkout's .venv, made or updated first (see _env.sh), after installing Debian's
# chromium for the browser tests when it is missing. Arguments go to pytest; PYTHON=/path/to/python3 picks
# the interpreter.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
venv_ready requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
      echo "warning: could not install chromium; browser tests will be skipped"
    fi
  else
    echo "note: chromium is not installed (sudo apt-get install chromium); browser tests will be skipped"
  fi
fi
exec "$VENV_PYTHON" -m pytest -q "$@"
