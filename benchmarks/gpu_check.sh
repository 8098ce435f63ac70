#!/usr/bin/env bash
# The GPU checks of lrcalc, in one run for a lent GPU (at most 10 minutes):
#   1. tests/test_cuda.py — CUDA equals CPU for every model kind and boundary condition; training on CUDA;
#   2. benchmarks/speed_sr.py --device cuda — lrcalc vs nequip per call and per training step.
# Results go to benchmarks/results/gpu_<card>.txt (or under $OUT when set, e.g. by the device tool).
#
#   bash benchmarks/gpu_check.sh            # from the repository root, with lrcalc installed
set -uo pipefail
cd "$(dirname "$0")/.."
python - <<'PY' || { echo "no CUDA device: nothing to check"; exit 1; }
import torch, sys
sys.exit(0 if torch.cuda.is_available() else 1)
PY
card=$(python -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '_'))")
out_dir="${OUT:-benchmarks/results}"
mkdir -p "$out_dir"
report="$out_dir/gpu_${card}.txt"
{
  echo "# lrcalc GPU check on ${card}, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
  echo "## tests/test_cuda.py"
  timeout 300 python -m pytest -q -rs tests/test_cuda.py 2>&1 | tail -15
  echo "## speed_sr.py --device cuda (calls alternated with nequip when importable)"
  (cd benchmarks && timeout 300 python speed_sr.py --device cuda --max-atoms 8000 2>&1 | grep -v Warning)
} | tee "$report"
echo "written: $report"
