# SPDX-License-Identifier: Apache-2.0
#
# 000-harness: the test harness checks itself before any real suite runs.
#
# test_* cases check the environment every suite relies on. selftest_* cases
# are deliberately broken tests: the runner judges them with exactly the rules
# it applies to every test and records them XFAIL when it catches them (the
# host counts that as a pass) or FAIL when it does not. SELFTEST_EXPECT_<name>
# is the reason the verdict has to carry, so a test failing for some other
# reason does not count as caught.

TIMEOUT=300

test_pmem_is_dax() {
	[[ -b "$PMEM" ]] || fail "$PMEM is not a block device"
	[[ "$(cat /sys/block/pmem0/queue/dax)" == 1 ]] || fail "$PMEM does not support DAX"
	local size
	size=$(blockdev --getsize64 "$PMEM")
	((size >= 512 * 1024 * 1024)) || fail "$PMEM is only $size bytes"
	# fsdax with struct pages in RAM (-M mem): the namespace reports mode fsdax.
	ndctl list -N 2>/dev/null | grep -q '"mode":"fsdax"' || fail "namespace is not in fsdax mode: $(ndctl list -N 2>&1 | tr -d '\n')"
}

test_backing_disks() {
	[[ -b "$BACKING" ]] || fail "$BACKING missing"
	[[ -b "$BACKING2" ]] || fail "$BACKING2 missing"
	(($(blockdev --getsize64 "$BACKING") == 4096 * 1024 * 1024)) || fail "$BACKING is not 4 GiB"
	(($(blockdev --getsize64 "$BACKING2") == 1024 * 1024 * 1024)) || fail "$BACKING2 is not 1 GiB"
	dd if=/dev/urandom of="$BACKING2" bs=4k count=4 oflag=direct status=none || fail "write to $BACKING2"
	dd if="$BACKING2" bs=4k count=4 iflag=direct status=none | cmp -s - <(dd if="$BACKING2" bs=4k count=4 status=none) ||
		fail "read back from $BACKING2 differs"
}

test_4kn_disk() {
	[[ -n "${BACKING_4K:-}" ]] || fail "BACKING_4K is not set"
	[[ -b "$BACKING_4K" ]] || fail "$BACKING_4K missing"
	(($(blockdev --getsize64 "$BACKING_4K") == 512 * 1024 * 1024)) || fail "$BACKING_4K is not 512 MiB"
	[[ "$(blockdev --getss "$BACKING_4K")" == 4096 ]] || fail "$BACKING_4K has $(blockdev --getss "$BACKING_4K")-byte logical blocks, want 4096"
	[[ "$(blockdev --getss "$BACKING")" == 512 && "$(blockdev --getss "$BACKING2")" == 512 ]] ||
		fail "$BACKING and $BACKING2 must keep 512-byte logical blocks"
	dd if=/dev/zero of="$BACKING_4K" bs=512 count=1 oflag=direct status=none 2>/dev/null &&
		fail "a 512-byte O_DIRECT write to $BACKING_4K was accepted"
	return 0
}

test_results_share_is_writable() {
	echo "written by the guest" >"$RESULTS/harness-probe" || fail "cannot write to $RESULTS"
	[[ "$(cat "$RESULTS/harness-probe")" == "written by the guest" ]] || fail "read back from $RESULTS differs"
}

test_kmsg_since_mark_sees_new_lines() {
	kmsg_mark
	echo "<5>pcache-harness: marker $$" >/dev/kmsg
	expect_kmsg "pcache-harness: marker $$"
	kmsg_mark
	kmsg_since_mark | grep -q "marker $$" && fail "kmsg_since_mark returned lines from before the mark"
	return 0
}

test_raw_write_reports_errno() {
	# drop_caches only accepts 1..4: a raw write of 9 must come back as EINVAL.
	expect_write_errno EINVAL /proc/sys/vm/drop_caches 9
	expect_write_ok /proc/sys/vm/drop_caches 1
	expect_write_errno ENOENT /sys/bus/no-such-bus/attr 1
}

test_as_unprivileged_drops_cap_sys_admin() {
	local bnd
	bnd=$(as_unprivileged awk '/^CapBnd/ { print $2 }' /proc/self/status) || fail "setpriv failed"
	# CAP_SYS_ADMIN is capability 21.
	(((0x$bnd >> 21) & 1)) && fail "CAP_SYS_ADMIN still in the bounding set ($bnd)"
	return 0
}

test_tools_visible() {
	command -v fio >/dev/null || fail "fio missing in the guest"
	command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 missing in the guest"
	command -v pcache-rawwrite >/dev/null || fail "pcache-rawwrite helper missing"
	[[ -d "$TESTS_DIR" ]] || fail "TESTS_DIR $TESTS_DIR missing"
}

# Deliberately broken cases: each must be reported as failed by the runner.
SELFTEST_EXPECT_kmsg_bug='kernel log: .*BUG: harness self-test'
selftest_kmsg_bug() {
	echo "<5>BUG: harness self-test (deliberate)" >/dev/kmsg
	return 0
}

SELFTEST_EXPECT_kmsg_warning='kernel log: .*WARNING: CPU: 0 PID: 1 at harness'
selftest_kmsg_warning() {
	echo "<5>WARNING: CPU: 0 PID: 1 at harness self-test (deliberate)" >/dev/kmsg
	return 0
}

SELFTEST_EXPECT_kmsg_oops='kernel log: .*Oops: general protection fault'
selftest_kmsg_oops() {
	echo "<5>Oops: general protection fault, harness self-test (deliberate)" >/dev/kmsg
	return 0
}

SELFTEST_EXPECT_fail_reason='^deliberate failure with a reason$'
selftest_fail_reason() {
	fail "deliberate failure with a reason"
	echo "not reached"
}

SELFTEST_EXPECT_nonzero_return='returned 3'
selftest_nonzero_return() {
	echo "about to return 3"
	return 3
}

SELFTEST_EXPECT_errno_mismatch='expected EBUSY, got EINVAL'
selftest_errno_mismatch() {
	expect_write_errno EBUSY /proc/sys/vm/drop_caches 9
}
