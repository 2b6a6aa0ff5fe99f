# SPDX-License-Identifier: Apache-2.0
#
# 034-crc-stale: with data_crc, cached dirty data that fails its crc at run
# time never turns into older data (replay: 037-crc-replay.host).
#  - block X is written (C, dirty) and flipped in pmem while the
#    cache runs, then writeback and GC are let loose (idle time 0, gc_percent
#    0, 20 MiB more written so X's segment is complete). Reads of X must keep
#    failing with EIO, never return the older backing data, and writeback
#    must not pass it (dirty data stays); once X is overwritten, writeback
#    completes and reads return the new data, on the cache and on the disk.

TIMEOUT=600

. "$TESTS_DIR/cache_common.bash"
. "$TESTS_DIR/crc_stale.bash"

X=$((8 << 20))

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
}

setup() {
	load_module writeback_idle_ms=600000
	cache_register
}

teardown() {
	cache_teardown
}

# first data segment of the first chain on a fresh device (see 032)
first_data_off() { echo $((1048576 + $1 * 16777216)); }

test_runtime_bad_dirty_extent_stays_eio() {
	local c=BAD-C-$RANDOM$RANDOM- d=DISK-E-$RANDOM$RANDOM- n=NEW-N-$RANDOM$RANDOM- pc out i
	write_block "$BACKING" $X "$d" || fail "cannot write $BACKING"
	pc=$(backing_start "$BACKING" "cache_size=256,data_crc=1") || exit 1
	kmsg_mark
	python3 "$TESTS_DIR/cache_flip.py" $pc $X "$PMEM" "$(first_data_off 1)" "$c" >/dev/null ||
		fail "the written block was not found in pmem"
	out=$(read_block $pc $X 2>&1 >/dev/null) && fail "read of the corrupted block succeeded"
	# fill the rest of X's segment so that GC could reclaim it, then let writeback and GC run
	dd if=/dev/urandom of=$pc bs=1M seek=64 count=20 oflag=direct status=none || fail "filler writes failed"
	echo 0 >"$CD0/backing_dev0/cache_gc_percent" || fail "cannot set cache_gc_percent"
	echo 0 >$PARAMS/writeback_idle_ms
	for i in $(seq 20); do
		sleep 1
		if out=$(read_block $pc $X 2>&1 >/dev/null); then
			holds $pc $X "$d" && fail "after writeback/GC, reads of the bad block return the older backing data (after ${i}s)"
			fail "after writeback/GC, the bad block reads without error (after ${i}s)"
		fi
	done
	grep -q "Input/output error" <<<"$out" || fail "read failed but not with EIO: $out"
	(($(backing_stat 0 dirty_bytes) > 0)) || fail "writeback passed the bad dirty key"
	(($(backing_stat 0 data_crc_errors) > 0)) || fail "data_crc_errors not counted"
	expect_kmsg "writeback: data_crc mismatch at backing offset $X .*writeback stops before it"
	holds "$BACKING" $X "$c" && fail "the corrupted block reached the backing disk"
	echo "blocked: dirty_bytes $(backing_stat 0 dirty_bytes), writeback_errors $(backing_stat 0 writeback_errors)"

	write_block $pc $X "$n" || fail "overwrite of the bad block failed"
	wait_for 60 clean_now || fail "writeback did not complete after the overwrite (dirty_bytes $(backing_stat 0 dirty_bytes))"
	holds $pc $X "$n" || fail "reads do not return the new data after the overwrite"
	holds "$BACKING" $X "$n" || fail "the new data did not reach the backing disk"
	echo 600000 >$PARAMS/writeback_idle_ms
	backing_stop 0
}
