#!/usr/bin/env bash
# Sets up what tests/test_tfjs.py needs to run TF.js models for real:
#   - the tensorflowjs converter in a venv of its own that sees the project
#     venv's packages (tensorflowjs 4.22.0 pins an older TF through
#     tensorflow-decision-forests; docs/deployment.md says why --no-deps),
#   - @tensorflow/tfjs and playwright-core (npm) in a runner folder,
#   - Debian's Chromium, driven headless by playwright-core.
# Usage: . .ci/setup_tfjs.sh TOOLS_DIR   (sourced: it exports the variables
# tests/test_tfjs.py reads: TFJS_CONVERTER_PYTHON, TFJS_NODE_RUNNER_DIR,
# TFJS_CHROMIUM). Run it with the project venv active.
# Each step is retried: registries on CI machines are sometimes slow to answer.
set -euo pipefail
tools="$(mkdir -p "$1" && cd "$1" && pwd)"

_retry() {
  local n
  for n in 1 2 3; do
    if "$@"; then return 0; fi
    echo "setup_tfjs: attempt $n of: $* failed" >&2
    sleep $((n * 5))
  done
  return 1
}

project_site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
base_python="$(python -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
if [ ! -x "$tools/venv/bin/python" ]; then
  "$base_python" -m venv "$tools/venv"
fi
tfjs_site="$("$tools/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# addsitedir (not a bare path) so the project venv's .pth files apply too.
echo "import site; site.addsitedir('$project_site')" > "$tfjs_site/_project_venv.pth"
_retry "$tools/venv/bin/python" -m pip install -q tf-keras==2.21.0 tensorflow-hub==0.16.1
_retry "$tools/venv/bin/python" -m pip install -q --no-deps tensorflowjs==4.22.0

mkdir -p "$tools/runner"
if [ ! -f "$tools/runner/package.json" ]; then
  (cd "$tools/runner" && npm init -y >/dev/null)
fi
(cd "$tools/runner" && _retry npm install --silent --no-audit --no-fund \
    @tensorflow/tfjs@4.22.0 playwright-core@1.64.1)

if ! command -v chromium >/dev/null 2>&1; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  _retry $sudo_cmd apt-get update -qq
  _retry $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

export TFJS_CONVERTER_PYTHON="$tools/venv/bin/python"
export TFJS_NODE_RUNNER_DIR="$tools/runner"
export TFJS_CHROMIUM="$(command -v chromium)"
echo "setup_tfjs: converter $TFJS_CONVERTER_PYTHON, runner $TFJS_NODE_RUNNER_DIR, browser $TFJS_CHROMIUM ($("$TFJS_CHROMIUM" --version 2>/dev/null | head -1))"
