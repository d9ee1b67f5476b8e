#!/usr/bin/env bash
# The GPU check, for a machine that has PyTorch and a GPU but neither TensorFlow, this
# project, nor a network:
#
#   1. every family's quick torch throughput on the device, batch 64 and 256 where a family
#      sweeps batches; each row also records the device's matmul peak in float32 (MFU's
#      denominator, 8192 x 8192, timed to a device sync) and in bfloat16, and cuDNN autotuning;
#   2. torch's device path against its CPU path, parity checks 1 to 3 for every family
#      (`gan-bench parity --frameworks torch,torch --devices cpu,cuda`): the CPU path is the
#      one checked against TensorFlow, so together they tie the device to both frameworks;
#   3. where the image has JAX with Flax and Optax, the same throughput rows for jax (its
#      default mode, jit); where it has not, versions.txt says that they were not run.
#
# Here, online, first:   scripts/gpu_check.sh --wheels
#   writes build/gpu-wheels/: gan-bench's wheel and the pure-Python dependencies a bare
#   PyTorch image lacks (about 2 MB); carry that folder to the machine.
# There:                 OUT=<folder> scripts/gpu_check.sh [cuda|cpu] [models]
#   installs them into a folder beside the image's packages, writes the run folder, the
#   parity table and nvidia-smi's view into OUT. `cpu` tries it here (throughput only).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=build/gpu-wheels
# Pure Python; markupsafe, compiled, comes once per Python the image may have.
EXTRAS=(jinja2 tabulate pytest-benchmark py-cpuinfo threadpoolctl rich markdown-it-py mdurl
        pygments)

if [[ "${1:-}" == "--wheels" ]]; then
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    uv build --quiet --wheel --out-dir "$WHEELS"
    pip download --quiet --only-binary :all: --no-deps --dest "$WHEELS" "${EXTRAS[@]}"
    for py in 310 311 312 313; do
        pip download --quiet --only-binary :all: --no-deps --dest "$WHEELS" \
            --python-version "$py" --platform manylinux2014_x86_64 markupsafe
    done
    ls "$WHEELS"
    exit 0
fi

DEVICE=${1:-cuda}
MODELS=${2:-}
OUT=${OUT:?set OUT to the folder the results go to}
start=$(date +%s)
site=$(mktemp -d)  # beside the image's packages, which stay as they are
python -m pip install --quiet --no-index --no-deps --find-links "$WHEELS" --target "$site" \
    gan-bench "${EXTRAS[@]}"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"  # the harness's workers inherit it
mkdir -p "$OUT" && cd "$OUT"  # outside the tree: the installed wheel is what runs
models=(${MODELS:+--models "$MODELS"})

nvidia-smi > nvidia-smi.txt 2>&1 || echo "no nvidia-smi" > nvidia-smi.txt
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
    | tee versions.txt
# A failed job or a parity mismatch is a finding, recorded in the files: keep going.
python -m bench.cli run throughput --frameworks torch "${models[@]}" --device "$DEVICE" \
    --batch-sizes 64,256 --out throughput 2>&1 | tee throughput.log || true
if python -c "import jax, flax, optax; print('jax', jax.__version__, jax.devices())" \
        >> versions.txt 2>/dev/null; then
    python -m bench.cli run throughput --frameworks jax "${models[@]}" --device "$DEVICE" \
        --batch-sizes 64,256 --out throughput-jax 2>&1 | tee throughput-jax.log || true
else
    echo "no jax, flax and optax in this image: the jax rows were not run" | tee -a versions.txt
fi
if [[ "$DEVICE" != cpu ]]; then
    python -m bench.cli parity --frameworks torch,torch "${models[@]}" --devices "cpu,$DEVICE" \
        2>&1 | tee parity.txt || true
fi
echo "gpu check: $(( $(date +%s) - start )) s" | tee -a versions.txt
