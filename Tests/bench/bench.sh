#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make bench: one VM run measuring raw pmem, the raw backing disk,
# dm-writecache, bcache, an empty blk-mq disk (null_blk) and pcache on the
# same pmem and backing files, then
# Docs/benchmarks.md, Docs/benchmarks.png and results/bench/bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Tests/vm/vm.sh

export SUITE_RESULTS=$RESULTS_ROOT/bench CURRENT_TEST=run
# The emulated pmem lives in preallocated host RAM: with a sparse image file
# on the host's disk, the first write to each pmem page cost a host block
# allocation, which charged the cache that touched the most fresh pmem
# (a log-structured one) for the host's filesystem rather than its own code.
export VM_PMEM_RAM=1
rm -rf "$SUITE_RESULTS"
mkdir -p "$SUITE_RESULTS"
media=$VM_CACHE/bench-media
vm_files "$media"
# Backing disk of 4 GiB: the read-miss job reads 2 GiB beyond the cache.
start=$(date +%s)
rc=0
guest="BENCH_RUNTIME=${BENCH_RUNTIME:-15} BENCH_CONFIGS='${BENCH_CONFIGS:-pmem backing writecache bcache nullmq pcache}'"
guest+=' bash "$TESTS_DIR/../bench/bench-guest.sh"'
vm_run bench "$media" "$guest" "${BENCH_TIMEOUT:-1800}" || rc=$?
jobdir=$(vm_results bench)
echo "bench: VM finished after $(( $(date +%s) - start )) s with status $rc (console: $jobdir/console.log)"

# Cost figures (index memory, replay after a power cut, writeback speed):
# fill a cache with dirty 4 KiB extents, cut the power, boot again and time
# the replay and the clean stop (Tests/bench/bench-cost-guest.sh).
if [[ " ${BENCH_CONFIGS:-pcache} " == *" pcache "* && "${BENCH_COST:-1}" == 1 ]]; then
	cost_start=$(date +%s)
	vm_files "$media"
	if vm_start cost-fill "$media" 'bash "$TESTS_DIR/../bench/bench-cost-guest.sh" fill' &&
		vm_wait_for cost-fill '^=== MARK filled' 900; then
		vm_kill cost-fill || true	# the power cut (wait reports QEMU's SIGKILL; set -e)
		vm_run cost-replay "$media" 'bash "$TESTS_DIR/../bench/bench-cost-guest.sh" replay' 1200 || rc=1
	else
		vm_kill cost-fill 2>/dev/null || true
		echo "bench: the cost fill did not finish (console: $(vm_results cost-fill)/console.log)"
		rc=1
	fi
	cat "$(vm_results cost-fill)/cost.env" "$(vm_results cost-replay)/cost.env" >"$jobdir/cost.env" 2>/dev/null
	echo "bench: cost phase took $(( $(date +%s) - cost_start )) s"
fi
mkdir -p Docs
python3 Tests/bench/report.py "$jobdir" Docs "$(vm_kver)"
cp "$jobdir/bench-results.json" "$SUITE_RESULTS/" 2>/dev/null || true
vm_files_rm "$media"
rm -rf "$media"
exit "$rc"
