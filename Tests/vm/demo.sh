#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make demo`: pcache end to end in QEMU. Boot 1 (1 GiB file-backed pmem,
# 4 GiB backing disk): load the module, format and register the cache, start a
# cached disk, put ext4 on /dev/pcache0, write and read files, show status,
# stop cleanly, restart and verify. Boot 2 on the same pmem and disk files:
# register, start, verify the files again. Every stage runs only what exists
# and says what is missing (Tests/vm/demo-guest.sh); the summary at the end is
# the list of stages with OK / FAIL / SKIP and why.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=vm.sh
. "$here/vm.sh"
trap 'vm_kill_all' EXIT
trap 'exit 130' INT TERM

export SUITE_RESULTS=$RESULTS_ROOT/demo CURRENT_TEST=.
media=$VM_CACHE/run/demo
rm -rf "$SUITE_RESULTS"
mkdir -p "$SUITE_RESULTS"
t_start=$(date +%s)

[[ -r "${PCACHE_KO:-$REPO/KernelShim/pcache.ko}" ]] || echo "demo: the module is not built (make module); the stages that need it will fail"
ctl=$(vm_find_pcachectl)
[[ -x "$ctl" ]] || echo "demo: pcachectl is not built ($ctl); stages fall back to sysfs where the kernel ABI allows"

echo "demo: preparing the VM (initramfs, 1 GiB fsdax pmem image, 4 GiB backing disk)"
vm_files "$media" 1024 4096 1024 || { echo "demo: cannot create the VM media"; exit 1; }

# boot NAME PHASE: one VM running demo-guest.sh, its output shown live.
boot() {
	local name=$1 phase=$2 t0 rc tailpid
	t0=$(date +%s)
	echo
	echo "================ boot $name: $phase"
	vm_start "$name" "$media" "DEMO_PHASE=$phase DEMO_MANIFEST=$SUITE_RESULTS/first/manifest.sha256 . $here/demo-guest.sh" ||
		{ echo "demo: VM $name did not boot"; return 1; }
	echo "(booted in ${VM_BOOT_SECS[$name]}s)"
	tail -n +1 -F --pid="${VM_PID[$name]}" "$(vm_results "$name")/script.out" 2>/dev/null &
	tailpid=$!
	vm_wait "$name" 900
	rc=$?
	sleep 0.5
	kill "$tailpid" 2>/dev/null
	wait "$tailpid" 2>/dev/null
	((rc == 124)) && echo "demo: VM $name timed out after 900s and was killed"
	bad=$(vm_console_bad_lines "$(vm_results "$name")/console.log" 'PCACHE-VM STAGE2')
	if [[ -n "$bad" ]]; then
		echo "demo: the kernel log of boot $name shows problems:"
		sed 's/^/    /' <<<"$bad"
		KERNEL_BAD=1
	fi
	echo "(boot $name took $(($(date +%s) - t0))s)"
	return $rc
}

KERNEL_BAD=0
boot first first
if [[ -s "$SUITE_RESULTS/first/manifest.sha256" ]]; then
	boot reboot reboot
else
	echo
	echo "demo: boot 1 wrote no files, so there is nothing to verify after a reboot: boot 2 skipped"
	printf 'SKIP\treboot\tnot run: boot 1 wrote no files\n' >"$SUITE_RESULTS/reboot.stages.txt"
fi

echo
echo "================ pcache demo summary"
ok=0 failed=0 skipped=0
second=$SUITE_RESULTS/reboot/stages.txt
[[ -d "$SUITE_RESULTS/reboot" ]] || second=$SUITE_RESULTS/reboot.stages.txt
for f in "$SUITE_RESULTS/first/stages.txt" "$second"; do
	[[ -r "$f" ]] || { echo "  (no stage results from ${f%/stages.txt})"; failed=$((failed + 1)); continue; }
	while IFS=$'\t' read -r st name note; do
		printf '  %-4s  %-24s %s\n' "$st" "$name" "$note"
		case $st in
		OK) ok=$((ok + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	done <"$f"
done
((KERNEL_BAD)) && { echo "  FAIL  kernel log               BUG/Oops/WARNING seen (see results/demo/*/console.log)"; failed=$((failed + 1)); }
echo
echo "demo: $ok stages OK, $failed failed, $skipped skipped in $(($(date +%s) - t_start))s; logs in results/demo/"
if ((failed == 0 && skipped == 0)); then
	echo "demo: the whole lifecycle works: data written through pmem survived a clean stop, a module reload and a reboot."
	rm -rf "$media"
fi
((failed == 0))
