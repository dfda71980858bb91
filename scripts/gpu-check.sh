#!/usr/bin/env bash
# One command for a machine with a GPU and no network: does Deno's WebGPU see the GPU
# (over Vulkan, and which driver files it found), do the kernels pass their float64
# checks there, what does `deno task tune` pick for the paper-scale graph, and how fast
# is a quick paper-scale bench. Everything goes into one file; each step has a time
# limit so that the whole stays within about 8 minutes.
#
#   bash scripts/gpu-check.sh [OUT_FILE]          (default runs/gpu-check.txt)
#
# Offline, it needs the Deno binary (DENO=path, `deno` on PATH, or ./deno.xz next to the
# repository, unpacked here) and the npm packages the library uses in DENO_DIR (default
# .cache/deno if present; `bash scripts/gpu-check.sh --pack` fills it on a machine with
# network, a few MB to carry along with the working tree).
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
[ -d .cache/deno ] && export DENO_DIR="${DENO_DIR:-$PWD/.cache/deno}"

deno_bin() {
  if [ -n "${DENO:-}" ]; then echo "$DENO"; return; fi
  if command -v deno >/dev/null 2>&1; then command -v deno; return; fi
  if [ -f deno.xz ]; then
    mkdir -p .cache/bin && xz -dc deno.xz > .cache/bin/deno && chmod +x .cache/bin/deno
    echo "$PWD/.cache/bin/deno"; return
  fi
  echo "gpu-check: no Deno (set DENO=path, put deno on PATH, or bring deno.xz)" >&2
  exit 1
}
D=$(deno_bin)

if [ "${1:-}" = "--pack" ]; then
  # The library's packages into .cache/deno, for a machine without network.
  export DENO_DIR="$PWD/.cache/deno"
  "$D" cache mod.ts src/cli/*.ts scripts/adapter.ts bench/main.ts $(ls tests/ops/*.ts tests/engine/*.ts)
  du -sh .cache/deno
  exit 0
fi

out="${1:-runs/gpu-check.txt}"
mkdir -p "$(dirname "$out")"
: > "$out"
say() { echo "$@" | tee -a "$out"; }
step() { # step SECONDS TITLE CMD...: runs CMD with a time limit, output into the report
  local limit=$1 title=$2; shift 2
  say ""; say "== $title (limit ${limit}s): $*"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | tee -a "$out" | tail -n 5
  local rc=${PIPESTATUS[0]}
  say "-- $title: exit $rc after $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo " (time limit)")"
  return "$rc"
}

say "gpu-check $(date -u +%FT%TZ) on $(hostname); deno $("$D" --version | head -1)"
say "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
step 20 "GPU driver" bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"'
step 10 "Vulkan driver files" bash -c 'ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1; ls /usr/lib/x86_64-linux-gnu/libvulkan* /usr/lib/x86_64-linux-gnu/libnvidia-gl* 2>&1 | head'
R="--allow-read --allow-write --allow-env --allow-run"
if ! step 60 "adapter" "$D" run --cached-only $R scripts/adapter.ts; then
  say ""; say "gpu-check: Deno's WebGPU found no usable adapter; stopping here"
  exit 1
fi
software=$("$D" run --cached-only $R scripts/adapter.ts 2>/dev/null | grep -c '"software": true')
step 180 "kernel tests (float64 references, finite differences)" "$D" test --cached-only $R tests/ops tests/engine
if [ "$software" = "0" ]; then
  step 150 "tune the paper graph's conv kernels" "$D" run --cached-only $R src/cli/tune.ts graphs/drgan.yaml
  step 150 "quick paper-scale bench" "$D" run --cached-only $R bench/main.ts --quick --only train,infer --variants paper --out "$(dirname "$out")/gpu-check-bench"
else
  say ""; say "(a software adapter: the paper-scale tune and bench are skipped; they take hours here)"
fi
say ""; say "gpu-check: report in $out"
