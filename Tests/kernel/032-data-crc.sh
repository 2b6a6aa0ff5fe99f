# SPDX-License-Identifier: Apache-2.0
#
# 032-data-crc: a byte flipped in the cached data in pmem (written through
# /dev/pmem0 while the cache runs) is caught by data_crc: the read fails with
# EIO, the kernel log names the device and the offset, data_crc_errors
# counts it, and writeback does not write the bad data to the backing disk
# (it stops before it until the block is overwritten).
# A control cache without data_crc returns the flipped data silently, which
# shows that the flip really hit the cached block.

TIMEOUT=600

. "$TESTS_DIR/cache_common.bash"

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" ]] || { echo "no pmem device $PMEM"; return 1; }
}

setup() {
	# writeback only on stop: the flip must happen before writeback reads the block
	load_module writeback_idle_ms=600000
	cache_register
}

teardown() {
	cache_teardown
}

# The first data of a new cache goes to its chain's segment 1; on a freshly
# formatted device the chain of the first backing device is physical segments
# 0..N-1, so cache_flip.py looks there first (then anywhere).
first_data_off() { echo $((1048576 + $1 * 16777216)); }

read_block() { dd if="$1" bs=4096 skip=$(($2 / 4096)) count=1 iflag=direct status=none; }

test_flip_caught() {
	local token=CRC-TOKEN-$RANDOM$RANDOM- flip out
	backing_start "$BACKING" "cache_size=64,data_crc=1" >/dev/null
	[[ "$(cat $CD0/backing_dev0/data_crc)" == 1 ]] || fail "data_crc attribute is not 1"
	kmsg_mark
	flip=$(python3 "$TESTS_DIR/cache_flip.py" /dev/pcache0 $((8 << 20)) "$PMEM" "$(first_data_off 1)" "$token") ||
		fail "the written block was not found in pmem"
	echo "flipped pmem byte $flip"
	out=$(read_block /dev/pcache0 $((8 << 20)) 2>&1 >/dev/null) && fail "read of the corrupted block succeeded"
	grep -q "Input/output error" <<<"$out" || fail "read failed but not with EIO: $out"
	expect_kmsg "pcache: backing_dev0: data_crc mismatch reading backing offset $((8 << 20))"
	(($(backing_stat 0 data_crc_errors) > 0)) || fail "data_crc_errors not counted"
	# a neighbouring block still reads fine
	read_block /dev/pcache0 $((9 << 20)) >/dev/null || fail "an unrelated block fails too"
}

# Writeback stops before the bad dirty block (it is still in use) until it
# is overwritten; then it is skipped and the stop writes everything back.
test_bad_data_not_written_back() {
	local i
	KMSG_MARK=-1	# the whole log of this boot
	echo 0 >/sys/module/pcache/parameters/writeback_idle_ms
	for i in $(seq 40); do
		kmsg_since_mark | grep -q "writeback: data_crc mismatch at backing offset $((8 << 20)).*writeback stops before it" && break
		sleep 0.5
	done
	expect_kmsg "backing_dev0: writeback: data_crc mismatch at backing offset $((8 << 20)).*writeback stops before it until it is overwritten"
	read_block /dev/pcache0 $((8 << 20)) >/dev/null 2>&1 && fail "the bad block reads without error while writeback is blocked"
	dd if=/dev/zero of=/dev/pcache0 bs=4096 seek=2048 count=1 oflag=direct status=none || fail "overwrite failed"
	backing_flush_stop 0
	expect_kmsg "backing_dev0: writeback: data_crc mismatch at backing offset $((8 << 20)).*overwritten since, not written back"
	echo 600000 >/sys/module/pcache/parameters/writeback_idle_ms
	read_block "$BACKING" $((8 << 20)) | grep -q CRC-TOKEN && fail "the corrupted block reached the backing disk"
	return 0
}

test_control_without_data_crc() {
	local token=CTL-TOKEN-$RANDOM$RANDOM- want got pc
	pc=$(backing_start "$BACKING2" "cache_size=64") || exit 1
	python3 "$TESTS_DIR/cache_flip.py" $pc $((8 << 20)) "$PMEM" search "$token" >/dev/null ||
		fail "the written block was not found in pmem"
	want=$(python3 -c "import sys; t=sys.argv[1]; print((t*(4096//len(t)+1))[:4096], end='')" "$token" | sha256sum)
	got=$(read_block $pc $((8 << 20)) | sha256sum) || fail "read without data_crc failed"
	[[ "$got" != "$want" ]] || fail "the flip did not change the cached block (the test is broken)"
	backing_stop "$(backing_id_of "$BACKING2")"
}
