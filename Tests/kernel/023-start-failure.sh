# SPDX-License-Identifier: Apache-2.0
#
# 023-start-failure: a backing-start that fails after /dev/pcacheN appeared,
# while someone (udev, here the test) holds the new disk open. The module
# parameter fail_start_ms (testing) makes the start sleep after add_disk and
# then fail. Closing the disk afterwards must not touch freed memory: the
# guest runs with slub_debug, so a write into the freed backing_dev is
# reported ("Poison overwritten") when the slab caches are validated, and
# the runner fails the test on that line.

TIMEOUT=300
KERNEL_ARGS="slub_debug=FZPU"

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0
ADM=$CD0/adm
BD0=$CD0/backing_dev0
DISK=/dev/pcache0
KNOB=/sys/module/pcache/parameters/fail_start_ms

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	grep -q 'slub_debug=' /proc/cmdline || { echo "the guest did not boot with slub_debug"; return 1; }
}

setup() {
	load_module
	fresh_format
	expect_write_ok $BUS/cache_dev_register "path=$PMEM"
}

teardown() {
	exec 3<&- 2>/dev/null
	[[ -w $KNOB ]] && echo 0 >$KNOB
	[[ -d $BD0 ]] && pcache-rawwrite $ADM "op=backing-stop,backing_id=0" >/dev/null
	pcache-rawwrite $BUS/cache_dev_unregister cache_dev_id=0 >/dev/null
	unload_module
}

# Check every slab object now: a freed object written to reports "Poison overwritten".
validate_slabs() {
	local v
	for v in /sys/kernel/slab/*/validate; do
		echo 1 >"$v" 2>/dev/null
	done
}

# fail_once: a start that fails while fd 3 holds /dev/pcache0 open.
fail_once() {
	local i pid got
	echo 3000 >$KNOB || fail "no fail_start_ms parameter in this module"
	pcache-rawwrite $ADM "op=backing-start,path=$BACKING,cache_size=64" >/tmp/t023.start &
	pid=$!
	for i in $(seq 100); do [[ -b $DISK ]] && break; sleep 0.05; done
	[[ -b $DISK ]] || fail "$DISK did not appear during the start"
	exec 3<$DISK || fail "cannot open $DISK during the start"
	# a read while the start is still pending (udev's blkid does the same)
	dd of=/dev/null bs=4k count=4 status=none <&3 || echo "read during the start failed"
	wait $pid
	got=$(cat /tmp/t023.start)
	[[ "$got" == EIO ]] || fail "the start should fail with EIO, got $got"
	echo 0 >$KNOB
	[[ -e $BD0 ]] && fail "a failed start left backing_dev0 behind"
	# the opener closes the removed disk only now
	exec 3<&-
}

test_failed_start_while_open() {
	kmsg_mark
	fail_once
	expect_kmsg "fail_start_ms: failing the start of $DISK"
	validate_slabs
	kmsg_since_mark | grep -E 'Poison overwritten|BUG ' && fail "slub_debug found a write into freed memory"
	# the record and the segments are as before: a normal start works
	expect_write_ok $ADM "op=backing-start,path=$BACKING,cache_size=64"
	dd if=/dev/urandom of=$DISK bs=64k count=16 oflag=direct status=none || fail "write after a failed start"
	# flush=1 releases the chain: nothing may be left claimed
	expect_write_ok $ADM "op=backing-stop,backing_id=0,flush=1"
	[[ "$(sed -n 's/^seg_used: //p' $CD0/info)" == 0 ]] || fail "segments leaked: $(cat $CD0/info)"
}

test_failed_starts_repeated() {
	local i
	for i in 1 2 3; do
		fail_once
	done
	validate_slabs
	kmsg_since_mark | grep -E 'Poison overwritten|BUG ' && fail "slub_debug found a write into freed memory"
	return 0
}
