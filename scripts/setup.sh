#!/usr/bin/env bash
# Installs what a fresh machine lacks for WebGPU without a GPU: Mesa's Vulkan
# software driver (lavapipe), and Open MPI for data-parallel training. Deno itself
# comes from npm via `npx deno@...`.
set -euo pipefail
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && ! ls /usr/share/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing mesa-vulkan-drivers (software WebGPU adapter)" >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  else
    echo "setup: no Vulkan driver found; install your GPU's driver or Mesa's lavapipe" >&2
  fi
fi
# MPI for data-parallel training (docs/scale-out.md) and its tests.
if ! command -v mpirun >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing openmpi-bin libopenmpi-dev (MPI for multi-process training)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
fi
