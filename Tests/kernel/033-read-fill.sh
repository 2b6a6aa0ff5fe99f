# SPDX-License-Identifier: Apache-2.0
#
# 033-read-fill: what a read miss puts into the cache comes from the backing
# disk, never from the reader's memory. A reader keeps overwriting its own
# O_DIRECT buffer (a second thread) while its reads of uncached blocks are in
# flight (Tests/reliability/racing-read.c); afterwards every block, read again
# through the cache into a fresh buffer, must equal the backing disk's data
# (read directly from $BACKING). With data_crc the fills' crcs must match what
# was stored (the second reads are hits and would fail with EIO otherwise).

TIMEOUT=600

. "$TESTS_DIR/cache_common.bash"
. "$REPO/Tests/reliability/common.bash"

REF_MB=32
LEN=65536

requires() {
	[[ -r "$PCACHE_KO" ]] || { echo "module not built: $PCACHE_KO"; return 1; }
	[[ -b "$PMEM" && -b "$BACKING" ]] || { echo "pmem or backing disk missing"; return 1; }
	command -v gcc >/dev/null || { echo "gcc missing (helper build)"; return 1; }
}

setup() {
	rel_tool racing-read >/dev/null || fail "cannot build racing-read"
	load_module
	cache_register
	# reference data on the backing disk before the cache exists
	dd if=/dev/urandom of="$BACKING" bs=1M count=$REF_MB oflag=direct status=none ||
		fail "cannot write $BACKING"
}

teardown() {
	cache_teardown
}

racing_read() {
	local pc=$1 crc=$2 out rc fills
	kmsg_mark
	out=$("$(rel_tool racing-read)" "$pc" "$BACKING" 0 $((REF_MB * 1048576 / LEN)) $LEN 2>&1)
	rc=$?
	echo "$out"
	fills=$(backing_stat 0 fills)
	echo "fills: $fills, data_crc_errors: $(backing_stat 0 data_crc_errors)"
	((rc != 2)) || fail "racing-read could not read: $out"
	((rc == 0)) || fail "the cache serves data that is on no disk: ${out##*$'\n'}"
	((fills > 0)) || fail "no read fill happened (the test did not exercise the fill path)"
	[[ "$crc" == 0 ]] || (($(backing_stat 0 data_crc_errors) == 0)) ||
		fail "fills failed their own data_crc"
}

test_racing_reader_cannot_change_the_cache() {
	local pc
	pc=$(backing_start "$BACKING" "cache_size=256") || exit 1
	racing_read "$pc" 0
	backing_stop 0
}

test_racing_reader_with_data_crc() {
	local pc
	# a fresh cache: the blocks are uncached again
	cache_teardown
	load_module
	cache_register
	pc=$(backing_start "$BACKING" "cache_size=256,data_crc=1") || exit 1
	racing_read "$pc" 1
	backing_stop 0
}
