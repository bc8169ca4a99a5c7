#!/usr/bin/env bash
# Train chapter 9's runs (every configs/ch9/*.toml, one after the other) into runs/ch9/, then
# summarize them into vae_tutorial/results/chapter9.json. A finished run is kept; an
# interrupted one continues from its checkpoint. About 70 minutes on a 2-core CPU.
# Usage: bash scripts/chapter9_sweep.sh [NAME ...]   (default: every config)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for config in configs/ch9/*.toml; do names+=("$(basename "$config" .toml)"); done
fi
for name in "${names[@]}"; do
  resume=()
  [ -f "runs/ch9/$name/checkpoint.pt" ] && resume=(--resume)
  "$bin/vae-tutorial" train --config "configs/ch9/$name.toml" --out "runs/ch9/$name" \
    --no-progress "${resume[@]}"
done
"$bin/python" scripts/chapter9_results.py --only "${names[@]}"
