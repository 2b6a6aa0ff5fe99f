# SPDX-License-Identifier: Apache-2.0
#
# 000-harness (host side): the harness's own checks that need control over
# QEMU: a hung test is killed and named, a power cut (SIGKILL of QEMU) keeps
# what reached pmem and the backing disk, and a second boot sees it.
# Runs on the host with Tests/vm/vm.sh sourced.

test_hung_test_is_killed_and_named() {
	local tmp=$SUITE_RESULTS/hang out
	mkdir -p "$tmp"
	cat >"$tmp/900-hang.sh" <<-'EOS'
		TIMEOUT=20
		test_sleeps_forever() { sleep 3600; }
		test_never_reached() { true; }
	EOS
	out=$(RESULTS_ROOT=$tmp/results VM_DEADLINE= vm_run_guest_suite "$tmp/900-hang.sh" 2>&1) &&
		fail "a suite with a hung test passed: $out"
	echo "$out"
	grep -q '^FAIL 900-hang/test_sleeps_forever: hung' <<<"$out" || fail "the hung test was not named"
	grep -q '^FAIL 900-hang/test_never_reached: not run' <<<"$out" || fail "the test after the hang was not reported"
	return 0
}

test_power_cut_keeps_pmem_and_disk() {
	local media=$SUITE_RESULTS/media token
	token="harness-powercut-$RANDOM$RANDOM"
	vm_files "$media" || fail "cannot create VM media"
	vm_start writer "$media" "
		printf '%-4096s' $token | dd of=\$PMEM bs=4096 seek=100 oflag=direct,sync status=none
		printf '%-4096s' $token | dd of=\$BACKING bs=4096 seek=7 oflag=direct,sync status=none
		console_mark written
		sleep 600" || fail "writer VM did not boot"
	vm_wait_for writer '^=== MARK written' 120 || fail "writer never reached its marker"
	vm_kill writer
	vm_run reader "$media" "
		dd if=\$PMEM bs=4096 skip=100 count=1 iflag=direct status=none | tr -d ' ' >\$RESULTS/pmem.txt
		dd if=\$BACKING bs=4096 skip=7 count=1 iflag=direct status=none | tr -d ' ' >\$RESULTS/disk.txt
		test \"\$(cat /sys/block/pmem0/queue/dax)\" = 1" 120 || fail "reader VM failed (exit $?)"
	[[ "$(cat "$(vm_results reader)/pmem.txt")" == "$token" ]] || fail "pmem lost the data written before the power cut"
	[[ "$(cat "$(vm_results reader)/disk.txt")" == "$token" ]] || fail "the backing disk lost the data written before the power cut"
	rm -rf "$media"
}
