#!/usr/bin/env bash
# Gateway benchmark at two commits, side by side in one session: old, new, old, new.
#
#   benchmarks/gateway/compare_commits.sh [OLD [NEW]] [-- bench_gateway.py options]
#   (defaults: OLD=e3aaf1d NEW=HEAD; e.g. `... e3aaf1d HEAD -- --duration 3`)
#
# Each commit gets a static git worktree under $WORK (default /tmp/bench_cmp) and runs with
# PYTHONPATH=<tree>/src, so neither side uses the editable install (the live working tree).
# bench_gateway.py sets the gateway child's PYTHONPATH to its own folder, which would drop that
# and load the editable install again; the worktree copies are patched (the same way on both
# sides) to prepend the folder instead, and the child's import is checked before any run.
# Logs: $WORK/run<N>_<old|new>.log. Runs one at a time, never two at once.
set -euo pipefail

OLD=e3aaf1d NEW=HEAD
[[ $# -gt 0 && $1 != -- ]] && { OLD=$1; shift; }
[[ $# -gt 0 && $1 != -- ]] && { NEW=$1; shift; }
[[ ${1:-} == -- ]] && shift
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=${WORK:-/tmp/bench_cmp}
export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-/work/shared/tiktoken}
mkdir -p "$WORK"

cleanup() { for side in old new; do git -C "$REPO" worktree remove --force "$WORK/$side" 2>/dev/null || true; done; }
trap cleanup EXIT

for side in old new; do
    [[ $side == old ]] && rev=$OLD || rev=$NEW
    tree=$WORK/$side
    git -C "$REPO" worktree add --detach "$tree" "$rev" >/dev/null
    bench=$tree/benchmarks/gateway/bench_gateway.py
    sed -i 's|"PYTHONPATH": str(HERE)}|"PYTHONPATH": os.pathsep.join([str(HERE), os.environ["PYTHONPATH"]])}|' "$bench"
    # the child env, built as the patched benchmark builds it, must import inferopt from this tree
    got=$(cd "$tree" && PYTHONPATH=$tree/src python3 -c "
import os, subprocess, sys
HERE = '$tree/benchmarks/gateway'
env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(HERE), os.environ['PYTHONPATH']])}
assert 'os.environ[\"PYTHONPATH\"]' in open('$bench').read(), 'patch did not apply'
print(subprocess.run([sys.executable, '-c', 'import inferopt; print(inferopt.__file__)'],
                     env=env, capture_output=True, text=True, check=True).stdout.strip())")
    [[ $got == "$tree/src/"* ]] || { echo "$side ($rev): child imports $got, not $tree/src" >&2; exit 1; }
    echo "$side = $rev ($(git -C "$tree" rev-parse --short HEAD)): inferopt from $got"
done

n=0
for side in old new old new; do
    n=$((n + 1)); log=$WORK/run${n}_$side.log
    echo; echo "=== run $n: $side ($(git -C "$WORK/$side" rev-parse --short HEAD)) -> $log"
    (cd "$WORK/$side" && PYTHONPATH=$WORK/$side/src python3 benchmarks/gateway/bench_gateway.py "$@") >"$log" 2>&1 \
        || { tail -20 "$log"; exit 1; }
    sed -n '/^Gateway overhead/,$p' "$log"
done
