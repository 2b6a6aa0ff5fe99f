# SPDX-License-Identifier: Apache-2.0
#
# Helpers of the data_crc staleness tests (034-crc-stale, 037-crc-replay.host),
# sourced in the guest after cache_common.bash. Blocks are 4 KiB of TOKEN
# repeated; the cache is backing_dev0.
#   block_of TOKEN               the block, on stdout
#   read_block DEV OFF           O_DIRECT read of the block at byte OFF
#   write_block DEV OFF TOKEN    O_DIRECT write of TOKEN's block at byte OFF
#   holds DEV OFF TOKEN          DEV holds TOKEN's block at OFF
#   wait_for SECS CMD...         poll CMD every 0.5 s, for up to SECS
#   write_back_all               let writeback run until nothing is dirty

PARAMS=/sys/module/pcache/parameters

block_of() { python3 -c "import sys; t=sys.argv[1]; sys.stdout.write((t*(4096//len(t)+1))[:4096])" "$1"; }
read_block() { dd if="$1" bs=4096 skip=$(($2 / 4096)) count=1 iflag=direct status=none; }
write_block() { block_of "$3" | dd of="$1" bs=4096 seek=$(($2 / 4096)) count=1 oflag=direct conv=notrunc status=none; }
holds() { [[ "$(read_block "$1" "$2" | sha256sum)" == "$(block_of "$3" | sha256sum)" ]]; }

wait_for() {
	local n=$(($1 * 2))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}
clean_now() { (($(backing_stat 0 dirty_bytes) == 0)); }
dirty_now() { (($(backing_stat 0 dirty_bytes) > 0)); }

# Dirty bytes are counted once their kset is in the log (up to a second
# after the write); the module is loaded with writeback_idle_ms=600000, so
# nothing is written back until this sets it to 0 (and back afterwards).
write_back_all() {
	wait_for 10 dirty_now || fail "the write was never counted as dirty"
	echo 0 >$PARAMS/writeback_idle_ms
	wait_for 60 clean_now || fail "writeback did not finish (dirty_bytes $(backing_stat 0 dirty_bytes))"
	echo 600000 >$PARAMS/writeback_idle_ms
}
