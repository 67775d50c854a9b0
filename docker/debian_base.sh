#!/usr/bin/env bash
# A Debian base image for docker/Dockerfile.cpu where no image registry can be reached: made with
# debootstrap from Debian's package mirror, Python in a venv at /opt/venv (on PATH), imported as
# localhost/fer-base. Run as root:  docker/debian_base.sh [podman|docker]
set -euo pipefail
engine=${1:-podman}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/fer-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror"
chroot "$root" python3 -m venv /opt/venv
tar -C "$root" -c . | "$engine" import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - localhost/fer-base
