#!/usr/bin/env bash
# Create the seqfm environment in $1 (default .venv): PyTorch first, chosen for this machine,
# then seqfm and its dependencies. Idempotent; safe to re-run.
#
# Without an NVIDIA GPU the CPU build of torch is installed (torch==X+cpu, found in a local wheel
# directory when pip is configured with one, else from PyTorch's CPU wheel index) so that no
# multi-GB CUDA build is ever downloaded. With a GPU (nvidia-smi lists one) torch comes from
# PyPI, whose Linux wheels are CUDA builds. Override with SEQFM_TORCH=cpu|cuda and
# TORCH_VERSION=2.x.y; extra pip arguments for the CUDA route go in TORCH_CUDA_PIP_ARGS
# (e.g. "--index-url https://download.pytorch.org/whl/cu128" for a specific CUDA).
set -euo pipefail
venv=${1:-.venv}
extras=${2:-workflow,dev}
torch_version=${TORCH_VERSION:-2.13.0}
cpu_index=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip="$venv/bin/python -m pip"

want=${SEQFM_TORCH:-}
if [ -z "$want" ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
        want=cuda
    else
        want=cpu
    fi
fi

have=$($venv/bin/python -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ "$want" = cpu ]; then
    if [ "${have%%+*}" != "$torch_version" ] || [[ "$have" != *+cpu ]]; then
        echo "seqfm setup: installing the CPU build of torch $torch_version (no NVIDIA GPU found)"
        $pip install -q "torch==${torch_version}+cpu" 2>/dev/null \
            || $pip install -q "torch==${torch_version}+cpu" --index-url "$cpu_index"
    fi
else
    if [ "${have%%+*}" != "$torch_version" ] || [[ "$have" == *+cpu ]]; then
        echo "seqfm setup: installing torch $torch_version with CUDA (NVIDIA GPU found)"
        # shellcheck disable=SC2086
        $pip install -q "torch==${torch_version}" ${TORCH_CUDA_PIP_ARGS:-}
    fi
fi

$pip install -q -e ".[$extras]"
# compile the numba kernels once (about a minute), not in the first run of each command
$venv/bin/seqfm warm-up --quiet
$venv/bin/python -c 'import torch, seqfm; print(f"seqfm {seqfm.__version__} with torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")'
