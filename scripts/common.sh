# Shared by scripts/serve and scripts/test: system packages, virtualenv, translations.
# Sourced, not run. Works from a fresh clone; repeats only what changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
cd "$ROOT"

# Debian packages a fresh machine may lack: venv support, WeasyPrint's Pango, a CJK font for PDFs.
SYSTEM_PACKAGES=(python3 python3-venv libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk)

ensure_system_packages() {
  local wanted=("${SYSTEM_PACKAGES[@]}" "$@") missing=()
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "Not a Debian system: make sure these are installed: ${wanted[*]}" >&2
    return 0
  fi
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing system packages. Run this once, then run this command again:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

python_bin() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is needed (Debian 12: apt-get install -y python3 python3-venv)." >&2
  exit 1
}

# Create .venv and install the given requirements file; reinstall only when it changed.
ensure_venv() {
  local requirements="$1" stamp
  if [ ! -x "$VENV/bin/python" ]; then
    "$(python_bin)" -m venv "$VENV"
  fi
  stamp="$VENV/.installed-$(basename "$requirements")"
  local digest
  digest="$(cat requirements*.txt constraints.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "Installing Python packages from $requirements (a few minutes on a fresh machine; one line per package) ..."
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # pip's own status decides; its output is thinned to one line per package as progress.
    "$VENV/bin/python" -m pip install --progress-bar off -r "$requirements" -c constraints.txt \
      > >(grep --line-buffered -E "^(Collecting|Successfully installed)" || true)
    echo "$digest" > "$stamp"
  fi
}

compile_translations() {
  "$VENV/bin/pybabel" compile -d "$ROOT/translations" >/dev/null
}

export FLASK_APP="server:create_app"
export PATH="$VENV/bin:$PATH"
