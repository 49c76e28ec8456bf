#!/usr/bin/env bash
# One-command set-up of mmfilter on a CPU machine (Python 3.11).
#
#   bash tools/install.sh
#
# Installs, in order: torch (only if missing), build helpers, mmengine, mmcv with
# compiled ops, mmdet, mmsegmentation, their extra runtime needs, then mmfilter in
# editable mode. Safe to run again: finished steps are detected and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
PIP=("$PY" -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt)

step() { printf '\n[mmfilter install] %s\n' "$*"; }
has() { "$PY" -c "$1" >/dev/null 2>&1; }

# 0. Everything already here (this checkout installed, the pinned stack, the test
#    tools): nothing to do. Makes `make demo` / `make test` cheap to repeat. Checked
#    from / so that the checkout itself (the current folder) cannot stand in for the install.
REPO_DIR=$PWD
if (cd / && has "
import os, mmcv, mmcv.ops, mmdet, mmseg, mmengine, torch, pycocotools, matplotlib, pytest, onnx, onnxruntime, transformers, captum
import mmfilter
assert (mmcv.__version__, mmdet.__version__, mmseg.__version__, mmengine.__version__) == ('2.1.0', '3.3.0', '1.2.2', '0.10.7')
assert os.path.samefile(os.path.dirname(os.path.dirname(mmfilter.__file__)), '$REPO_DIR')
"); then
  step "already set up (torch, mmengine, mmcv with ops, mmdet, mmseg, test tools, mmfilter from $PWD)"
  exit 0
fi

# 1. torch: a plain requirement would pull CUDA packages, so pin the CPU build.
if has "import torch"; then
  step "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
else
  step "installing torch==$TORCH_VERSION"
  "${PIP[@]}" "torch==$TORCH_VERSION"
fi

# 2. build helpers (mmcv 2.1.0 needs numpy<2 and a setuptools that still has pkg_resources).
step "build helpers"
"${PIP[@]}" "setuptools<82" "numpy<2" ninja psutil wheel

# 3. OpenMMLab stack. mmcv must be built against the installed torch, with ops.
step "mmengine"
"${PIP[@]}" -r requirements/openmmlab.txt
if has "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'"; then
  step "mmcv 2.1.0 with ops already installed"
else
  step "building mmcv 2.1.0 with ops (about 12 minutes the first time, cached afterwards)"
  MMCV_WITH_OPS=1 "${PIP[@]}" --no-build-isolation "mmcv==2.1.0"
fi
step "mmdet, mmsegmentation and runtime extras"
"${PIP[@]}" -r requirements/runtime.txt

# 4. mmfilter itself, editable, without touching the pinned stack above.
step "mmfilter (editable) and test tools"
"${PIP[@]}" --no-build-isolation --no-deps -e .
"${PIP[@]}" -r requirements/tests.txt

# 5. Fail loudly, naming what is missing.
step "checking imports"
missing=()
for mod in torch mmengine mmcv.ops mmdet mmseg pycocotools mmfilter; do
  has "import $mod" || missing+=("$mod")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[mmfilter install] FAILED: cannot import: ${missing[*]}" >&2
  for mod in "${missing[@]}"; do "$PY" -c "import $mod" 2>&1 | tail -n 1 >&2 || true; done
  exit 1
fi
"$PY" - <<'PY'
import mmcv, mmdet, mmengine, mmseg, torch
import mmfilter
print(f'[mmfilter install] OK: torch {torch.__version__}, mmengine {mmengine.__version__}, '
      f'mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, '
      f'mmfilter {mmfilter.__version__}')
PY
