#!/usr/bin/env bash
# Issue 20's GPU figures in one command of under 10 minutes on one GPU:
#   1. training images/s, worker path against device path, for efficientnet_lite0 @224, resnet18 @48
#      and the shallow CNN @48, and for the preset fer2013_gpu_sota's own network, with the GPU's busy
#      share and the seconds of one FER2013 epoch (experiments/benchmarks/gpu_throughput.py);
#   2. experiment=fer2013_gpu_sota, three seeds side by side, trainer.max_epochs sized from step 1's
#      speed to fill TRAIN_MINUTES (default 5), without their own test;
#   3. the seed study (experiments/seed_study.py): test-time augmentation chosen on PublicTest, then
#      PrivateTest once: each seed, their mean ± std, and the three averaged.
# Prepare here with gpu_pack.sh (wheels and FER2013 in .device/), then with the device tool:
#   run(command="bash experiments/benchmarks/gpu_suite.sh", carry=[".device"], timeout_s=600)
# $OUT gets suite.log, throughput.json, seed_study.json and runs.tar.gz (each seed's history, curves
# and logs). On a CPU, in a few minutes on synthetic faces, as the tests run it:
#   FER_SUITE_SMOKE=1 bash experiments/benchmarks/gpu_suite.sh
set -euo pipefail
out=${OUT:-$(mktemp -d)}
work=${FER_SUITE_WORK:-/tmp/fer_suite}
minutes=${TRAIN_MINUTES:-5}
seeds=(1 2 3)
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled PYTHONUNBUFFERED=1
mkdir -p "$out" "$work"
exec > >(tee "$out/suite.log") 2>&1
stamp() { echo "== [${SECONDS} s] $*"; }

if [ -n "${FER_SUITE_SMOKE:-}" ]; then  # the whole path on a CPU: synthetic faces, tiny steps
    data=(data=synthetic data.num_train=128 data.num_val=64 data.num_test=64)
    bench=(--models shallow_cnn:48 --steps 2 --warmup 1 --batch-size 32 --num-workers 1)
    train=(trainer=cpu optim.fused=false data.batch_size=32)
    study=()
    faces=128
    minutes=0.2
else
    [ -f .device/fer2013.tar.xz ] || { echo ".device/fer2013.tar.xz is missing: run gpu_pack.sh first" >&2; exit 1; }
    stamp "installing the carried wheels and fer; unpacking FER2013"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .device/wheels/*.whl
    ln -sfn ../conf fer/conf  # fer.conf as pyproject.toml maps it, with no build backend needed there
    export PYTHONPATH=/tmp/site:$PWD
    tar -C "$work" -xJf .device/fer2013.tar.xz
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    data=(data.root="$work/fer2013" paths.cache_dir="$work/cache")
    bench=(--root "$work/fer2013" --cache-dir "$work/cache" --num-workers 14 --precision bf16-mixed --steps 60)
    train=()
    study=(--cache-dir "$work/cache")
    faces=28709  # FER2013's Training split
fi

stamp "1. images/s: worker path against device path"
(cd experiments/benchmarks && python3 gpu_throughput.py "${bench[@]}" --preset fer2013_gpu_sota \
    --json "$out/throughput.json")
epochs=$(python3 - "$out/throughput.json" "$minutes" "${#seeds[@]}" "$faces" <<'EOF'
import json, sys
figures, minutes, runs, faces = json.load(open(sys.argv[1])), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rate = figures["rows"][-1]["device"] / runs  # the preset's images/s, shared by the runs side by side
print(max(1, min(400, int(0.85 * minutes * 60 * rate / faces))))  # 15% for validation and start-up
EOF
)

stamp "2. fer2013_gpu_sota, seeds ${seeds[*]} side by side, ${epochs} epochs each (${minutes} min at that speed)"
pids=()
for seed in "${seeds[@]}"; do
    python3 -m fer.train experiment=fer2013_gpu_sota "${data[@]}" "${train[@]}" seed="$seed" \
        trainer.max_epochs="$epochs" test=false logger=none callbacks.progress=plain \
        hydra.run.dir="$work/runs/seed$seed" >"$work/seed$seed.log" 2>&1 &
    pids+=($!)
done
trained=()
for i in "${!seeds[@]}"; do
    if wait "${pids[$i]}"; then
        trained+=("$work/runs/seed${seeds[$i]}")
    else
        echo "seed ${seeds[$i]} failed; the end of its log:"
        tail -20 "$work/seed${seeds[$i]}.log"
    fi
done
stamp "trained: ${#trained[@]} of ${#seeds[@]}"
for run in "${trained[@]}"; do  # without their own test, runs leave history.csv (metrics.json needs a test)
    python3 - "$run" <<'EOF'
import csv, sys
history = list(csv.DictReader(open(sys.argv[1] + "/history.csv")))
best = max(100 * float(row["val/acc"]) for row in history)
print(f"{sys.argv[1]}: {len(history)} epochs, best PublicTest {best:.2f}% (no TTA)")
EOF
done
tar -C "$work" -czf "$out/runs.tar.gz" \
    $(cd "$work" && ls runs/*/history.csv runs/*/learning_curves.png runs/*/train.log seed*.log)

stamp "3. seed study: TTA chosen on PublicTest, then PrivateTest once"
python3 experiments/seed_study.py "${trained[@]}" "${study[@]}" --json "$out/seed_study.json"
stamp "done; figures in $out"
