# SPDX-License-Identifier: Apache-2.0
#
# 037-crc-replay (host side): at replay, a clean key whose data fails its
# data_crc must not let an older key of the same blocks be served. The
# writer VM writes block X (A) and lets writeback write it back, then writes
# X again (B) and lets it be written back too: after the power cut both keys
# are clean in the key log (behind dirty_tail), B the newer. B's data is then
# flipped in the NVDIMM file while the VM is down. The reader VM replays:
# the mismatch is logged, and reads of X must return the backing disk's data
# (B), never the older cached A.

TIMEOUT=900

X=$((8 << 20))

test_replay_bad_clean_key_is_not_older_data() {
	local media=$SUITE_RESULTS/media a=OLDA$RANDOM$RANDOM- b=NEWB$RANDOM$RANDOM- off con
	vm_files "$media" 1024 256 64 || fail "cannot create VM media"
	vm_start writer "$media" "
		. \"\$TESTS_DIR/cache_common.bash\"
		. \"\$TESTS_DIR/crc_stale.bash\"
		load_module writeback_idle_ms=600000
		cache_register
		write_block \$BACKING $X DISKD-\$RANDOM- || exit 1
		pc=\$(backing_start \$BACKING cache_size=256,data_crc=1) || exit 1
		write_block \$pc $X $a || exit 1
		write_back_all
		write_block \$pc $X $b || exit 1
		write_back_all
		holds \$BACKING $X $b || { console_mark BAD-BACKING; exit 1; }
		console_mark written
		sleep 600" || fail "writer VM did not boot"
	vm_wait_for writer '^=== MARK (written|BAD-BACKING)' 300 || fail "the writer never finished its writes"
	vm_kill writer
	grep -qa '^=== MARK written' "$(vm_results writer)/console.log" || fail "B did not reach the backing disk"
	python3 "$REPO/Tests/kernel/pmem_find.py" "$a" "$media/pmem.img" >/dev/null || fail "A's cached block is not in the NVDIMM file (the test is broken)"
	off=$(python3 "$REPO/Tests/kernel/pmem_find.py" "$b" "$media/pmem.img")
	[[ -n "$off" ]] || fail "B's cached block is not in the NVDIMM file"
	python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])+1000); c=f.read(1); f.seek(-1,1); f.write(bytes([c[0]^0x5a]))" \
		"$media/pmem.img" "$off" || fail "cannot flip the byte"
	vm_run reader "$media" "
		. \"\$TESTS_DIR/cache_common.bash\"
		. \"\$TESTS_DIR/crc_stale.bash\"
		load_module
		expect_write_ok \$BUS/cache_dev_register \"path=\$PMEM\"
		kmsg_mark
		pc=\$(backing_start \$BACKING '')
		expect_kmsg 'cache replayed after an unclean stop'
		expect_kmsg 'replay: data_crc mismatch at backing offset $X '
		read_block \$pc $X >/dev/null || fail 'read of X failed after the replay'
		holds \$pc $X $a && fail 'reads of X return the older cached data A'
		holds \$pc $X $b || fail 'reads of X do not return the backing disk data B'
		backing_stop 0
		echo reader-ok" 400
	con=$(vm_results reader)
	grep -q reader-ok "$con/script.out" || {
		tail -n 5 "$con/script.out"
		grep -a 'pcache' "$con/dmesg.log" | tail -n 8
		fail "after replay, reads of the block with the bad clean key are wrong"
	}
	grep -a 'data_crc' "$con/dmesg.log"
	rm -rf "$media"
}
