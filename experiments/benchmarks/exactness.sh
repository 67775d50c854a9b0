#!/usr/bin/env bash
# The five runs whose test/acc, test/loss and history.csv must not change when the code is
# reorganised (issue 31): run them at two commits and compare with exactness_compare.py.
#
#   bash experiments/benchmarks/exactness.sh OUT [DATA]
#
# OUT: a new folder for the five run folders. DATA: the folder holding fer2013/ and ckplus48/
# (default ../shared/data). Run from the checkout whose code is measured: `python -m` imports
# fer from the current folder first. Each run is deterministic (trainer.deterministic=true);
# the distillation teacher and the CK+48 init_from are this script's own earlier runs, so one
# call needs nothing but the data. A run whose metrics.json exists is kept, so a second call
# finishes what the first left; a run that fails is reported and the others still run.
set -uo pipefail
OUT=$(realpath -m "$1")
DATA=$(realpath "${2:-../shared/data}")
mkdir -p "$OUT"
run() {  # run NAME OVERRIDES...
  local name=$1
  shift
  if [ -f "$OUT/$name/metrics.json" ]; then
    echo "== $name: done before, kept"
    return
  fi
  echo "== $name: python -m fer.train $* trainer.deterministic=true"
  /usr/bin/time -f "$name %e s" python -m fer.train "$@" trainer.deterministic=true \
    hydra.run.dir="$OUT/$name" >"$OUT/$name.log" 2>&1
  tail -n 1 "$OUT/$name.log"
}
run main_job
run fer2013_cnn_3ep experiment=fer2013_cpu_budget_cnn data.root="$DATA/fer2013" trainer.max_epochs=3
run ckplus_fold0_init experiment=ckplus_10fold data.root="$DATA/ckplus48" data.fold=0 \
  backbone=shallow_cnn '+backbone.kwargs.widths=[16,32,128,256]' \
  init_from="$OUT/fer2013_cnn_3ep/checkpoints/best.ckpt"
run pathnet_2ep backbone=pathnet trainer.max_epochs=2
run distill_2ep loss.distill_from="$OUT/main_job/checkpoints/best.ckpt" trainer.max_epochs=2
