#!/usr/bin/env bash
# Installs what the tests need (pip requirements, Debian's chromium for the browser tests), then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements-test.txt -e . 2>&1 | grep -v "running pip as the 'root' user" || true
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium; browser tests will be skipped"
  else
    echo "note: chromium is not installed (sudo apt-get install chromium); browser tests will be skipped"
  fi
fi
exec python3 -m pytest -q "$@"
