#!/usr/bin/env bash
# Set-up of mmfilter and its pinned OpenMMLab stack (requirements/), the first step of
# `make demo` (plain) and `make test` (--tests).
#
#   bash tools/install.sh           torch if missing, mmengine, mmcv with ops, mmdet, mmseg,
#                                   mmfilter (editable)
#   bash tools/install.sh --tests   the same, then the test tools (requirements/tests.txt, and
#                                   onnxruntime unless onnxruntime or onnxruntime-gpu is there)
#   bash tools/install.sh --help    this text
#
# An installed torch is kept, whatever its build (CPU or CUDA): no step may change it. An
# installed mmcv 2.1.0 with ops is kept. Safe to run again: finished steps are skipped.
# Environment: PYTHON (default python3), TORCH_VERSION (default 2.13.0, used only where no
# torch is installed). Into a GPU environment: see docs/get_started.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
TESTS=0
for arg in "$@"; do
  case "$arg" in
    --tests) TESTS=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tools/install.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
MMCV_VERSION=2.1.0
PIP=("$PY" -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt)
STACK=(requirements/runtime.txt requirements/openmmlab.txt requirements/mmdet.txt
       requirements/mmseg.txt requirements/constraints.txt)
[ "$TESTS" = 1 ] && STACK+=(requirements/tests.txt)

step() { printf '\n[mmfilter install] %s\n' "$*"; }
has() { "$PY" -c "$1" >/dev/null 2>&1; }

# 0. Everything already here: this checkout installed, mmcv with ops, every line of the
#    requirement files above satisfied (constraints: where installed) and, with --tests,
#    ONNX Runtime. Makes `make demo` / `make test` cheap to repeat. Checked from / so that
#    the checkout itself (the current folder) cannot stand in for the install.
REPO_DIR=$PWD
if (cd / && has "
import importlib.metadata as md, os
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
import mmcv, mmcv.ops, mmdet, mmseg, mmfilter
assert mmcv.__version__ == '$MMCV_VERSION'
assert os.path.samefile(os.path.dirname(os.path.dirname(mmfilter.__file__)), '$REPO_DIR')
if $TESTS:
    import onnxruntime

def lines(path):
    for line in open(os.path.join('$REPO_DIR', path)):
        line = line.split('#', 1)[0].strip()
        if line.startswith('-r '):
            yield from lines(os.path.join(os.path.dirname(path), line[3:].strip()))
        elif line:
            yield line

for path in '${STACK[*]}'.split():
    for req in map(Requirement, lines(path)):
        try:
            version = md.version(req.name)
        except md.PackageNotFoundError:
            assert path.endswith('constraints.txt'), req.name
            continue
        assert req.specifier.contains(version, prereleases=True), (req, version)
"); then
  step "already set up (torch, mmengine, mmcv with ops, mmdet, mmseg$([ "$TESTS" = 1 ] && echo ', test tools'), mmfilter from $PWD)"
  exit 0
fi

# 1. torch. An installed one (CPU or CUDA) is kept: the constraint written here pins it for
#    every later pip call, which then fails rather than replace it. Where none is installed,
#    torch==$TORCH_VERSION comes from the configured package index: the CPU build where that
#    index serves one (PyTorch's CPU index, `--index-url https://download.pytorch.org/whl/cpu`,
#    or a local CPU wheel); PyPI's Linux wheels are CUDA builds.
if has "import torch"; then
  step "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed: kept"
else
  step "installing torch==$TORCH_VERSION"
  "${PIP[@]}" "torch==$TORCH_VERSION"
fi
KEEP_TORCH=$(mktemp)
trap 'rm -f "$KEEP_TORCH"' EXIT
"$PY" -c 'import torch; print("torch==" + torch.__version__)' >"$KEEP_TORCH"
PIP+=(-c "$KEEP_TORCH")

# 2. mmcv's build helpers (numpy<2 and a setuptools with pkg_resources: requirements/constraints.txt).
step "build helpers"
"${PIP[@]}" setuptools numpy ninja wheel

# 3. mmfilter's own needs and the OpenMMLab stack. mmcv is built from source against the
#    installed torch, with its ops: CPU ops, plus CUDA ops where torch sees a GPU (or FORCE_CUDA=1
#    is set) and the CUDA toolkit is found (CUDA_HOME; TORCH_CUDA_ARCH_LIST picks the GPU
#    architectures). Where OpenMMLab built a wheel for this torch and CUDA, `mim install
#    mmcv==2.1.0` beforehand saves the build; an mmcv 2.1.0 with ops is then kept.
step "mmengine and mmfilter's runtime needs"
"${PIP[@]}" -r requirements/runtime.txt -r requirements/openmmlab.txt
if has "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'"; then
  step "mmcv $MMCV_VERSION with ops already installed: kept"
else
  step "building mmcv $MMCV_VERSION with ops (about 12 minutes on 2 CPU cores, cached afterwards)"
  MMCV_WITH_OPS=1 "${PIP[@]}" --no-build-isolation "mmcv==$MMCV_VERSION"
fi
step "mmdet and mmsegmentation"
"${PIP[@]}" -r requirements/mmdet.txt -r requirements/mmseg.txt

# 4. mmfilter itself, editable, without touching the pinned stack above.
step "mmfilter (editable)"
"${PIP[@]}" --no-build-isolation --no-deps -e .

# 5. The test tools, only when asked. ONNX Runtime: an installed onnxruntime or
#    onnxruntime-gpu is kept; otherwise the CPU package.
if [ "$TESTS" = 1 ]; then
  step "test tools"
  "${PIP[@]}" -r requirements/tests.txt
  has "import onnxruntime" || "${PIP[@]}" onnxruntime
fi

# 6. Fail loudly, naming what is missing.
step "checking imports"
modules=(torch mmengine mmcv.ops mmdet mmseg pycocotools mmfilter)
[ "$TESTS" = 1 ] && modules+=(pytest onnx onnxruntime transformers captum skimage safetensors)
missing=()
for mod in "${modules[@]}"; do
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
