#!/usr/bin/env bash
# Packs what gpu_suite.sh needs on a GPU machine that has Python 3.12, torch, lightning, timm,
# torchmetrics and OpenCV but no internet: wheels of the other packages fer imports, and FER2013 in
# one archive, into .device/ (ignored by git; the device tool carries it).
#
#   bash experiments/benchmarks/gpu_pack.sh ../shared/data/fer2013
set -euo pipefail
root=${1:?usage: gpu_pack.sh <FER2013 folder holding train/ and test/>}
for split in train test; do
    [ -d "$root/$split" ] || { echo "$root: no $split/ folder (expected FER2013's image-folder layout)" >&2; exit 1; }
done
dest=.device
limit=$((60 * 1024 * 1024))  # the device tool carries 64 MiB a call; the repository takes the rest

mkdir -p "$dest"
wheels=$(mktemp -d)
# the versions this repository is tested with (pip show here), for CPython 3.12 on x86-64 Linux
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$wheels" hydra-core==1.3.8 omegaconf==2.3.1 albumentations==2.0.8 albucore==0.0.24 \
    kornia==0.9.0 kornia_rs==0.2.0 pydantic==2.13.4 pydantic_core==2.46.4 annotated-types==0.7.0 \
    typing-inspection==0.4.2 typing_extensions==4.16.0 stringzilla==5.3.2 simsimd==6.5.16
python3 -m pip wheel -q --no-deps -w "$wheels" antlr4-python3-runtime==4.9.3  # published as source only
rm -rf "$dest/wheels" && mv "$wheels" "$dest/wheels"
tar -C "$(dirname "$root")" -cJf "$dest/fer2013.tar.xz" "$(basename "$root")"

size=$(du -sb "$dest" | cut -f1)
echo "$dest: $((size / 1024 / 1024)) MiB ($(ls "$dest/wheels" | wc -l) wheels, FER2013 $(du -h "$dest/fer2013.tar.xz" | cut -f1))"
if [ "$size" -gt "$limit" ]; then
    echo "$dest is over $((limit / 1024 / 1024)) MiB: the device tool would refuse to carry it" >&2
    exit 1
fi
