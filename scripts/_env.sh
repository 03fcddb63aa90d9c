# Sourced by start.sh and test.sh. `venv_ready REQUIREMENTS` leaves the checkout's .venv holding REQUIREMENTS and
# the project (editable) and sets VENV_PYTHON. The venv is made when absent and pip runs only when a requirement
# file or pyproject.toml changed since the last install (a hash stamp inside .venv). PYTHON picks the interpreter
# (default python3). Installing into a venv is what makes the scripts work on externally managed Pythons
# (PEP 668: Debian, Ubuntu, Fedora, Homebrew), which refuse system-wide pip installs.
# pip's output is never filtered or ignored: a swallowed pip error resurfaces later as "No module named ...".

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
VENV_PYTHON=$VENV/bin/python

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Resolved before the cd below, so that a relative PYTHON names what the caller meant.
PY=$(command -v -- "${PYTHON:-python3}") || PY=
case $PY in /* | '') ;; *) PY=$PWD/$PY ;; esac
cd "$ROOT"

# The prefix and version of the Python a venv is based on: two venvs of one interpreter print the same line.
python_base() {
  "$1" -c 'import sys; print(sys.base_prefix, *sys.version_info[:2])'
}

# Stops unless PY is a Python new enough for pyproject.toml's requires-python that can make a venv.
check_python() {
  if [ -z "$PY" ]; then
    die "PYTHON=${PYTHON:-python3}: no such interpreter." \
      "Name an installed Python ${MIN_PYTHON}+, e.g. PYTHON=/usr/bin/python3 $0"
  fi
  local have
  if ! have=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); then
    die "$PY did not run as Python (its error is above)"
  fi
  if [ "$(printf '%s\n' "$MIN_PYTHON" "$have" | sort -V | head -n1)" != "$MIN_PYTHON" ]; then
    die "$PY is Python $have; Clockwork Lab needs Python $MIN_PYTHON or newer. Pick one with PYTHON=/path/to/python3 $0"
  fi
  "$PY" -c 'import venv, ensurepip' 2>/dev/null && return
  # Debian and Ubuntu ship venv's pip bootstrap in a separate package, for their own /usr Python only.
  local pkg=python$have-venv
  if [ "$("$PY" -c 'import sys; print(sys.base_prefix)')" != /usr ] || ! command -v apt-get >/dev/null; then
    die "$PY cannot make a virtual environment (no venv/ensurepip module)." \
      "Use a Python that can: PYTHON=/path/to/python3 $0"
  fi
  if [ "$(id -u)" != 0 ]; then
    die "$PY cannot make a virtual environment: Debian's $pkg is missing. Install it with: sudo apt-get install $pkg"
  fi
  echo "installing $pkg (apt-get), which $PY needs to make a virtual environment"
  { apt-get update -qq && apt-get install -y -qq "$pkg"; } || die "apt-get could not install $pkg (its error is above)"
}

MIN_PYTHON=$(sed -n 's/^requires-python = ">=\([0-9.]*\)"$/\1/p' pyproject.toml)
[ -n "$MIN_PYTHON" ] || die 'pyproject.toml has no requires-python = ">=X.Y" line'

venv_ready() {
  local req=$1 renew= base
  if [ ! -e "$VENV" ]; then
    renew=1
  elif ! base=$(python_base "$VENV_PYTHON" 2>/dev/null); then
    echo "note: .venv does not run (moved, or its Python is gone); making a new one"
    renew=1
  elif [ -n "${PYTHON:-}" ]; then
    check_python
    if [ "$base" != "$(python_base "$PY")" ]; then
      echo "note: .venv was made with another Python; remaking it with $PY"
      renew=1
    fi
  fi
  if [ -n "$renew" ]; then
    check_python
    rm -rf "$VENV"
    echo "making .venv with $PY"
    "$PY" -m venv "$VENV" || { rm -rf "$VENV"; die "$PY -m venv .venv failed (its error is above)"; }
  fi
  local stamp=$VENV/.installed-$req want
  want=$(cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return
  echo "installing $req and the project into .venv (first run, or the requirements changed)"
  "$VENV_PYTHON" -m pip install -q -r "$req" -e . || die "pip could not install $req into .venv (its error is above)"
  kernels_ready
  echo "$want" >"$stamp"
}

# The CPU scans' C++ kernels (cwrnn/models/kernels.py) need a C++ compiler; without one training still works,
# through torch ops, several times slower. Built here so that a compiler's error shows at install.
kernels_ready() {
  if ! command -v g++ >/dev/null && ! command -v c++ >/dev/null && [ -z "${CXX:-}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing g++ (apt-get) for the scan kernels"
      { apt-get update -qq && apt-get install -y -qq g++ >/dev/null; } || echo "warning: could not install g++"
    else
      echo "note: no C++ compiler (sudo apt-get install g++); training will use the slower torch ops"
    fi
  fi
  "$VENV_PYTHON" -m cwrnn.models.kernels || true
}
