# SPDX-License-Identifier: Apache-2.0
#
# 067-warm-reboot (host side): the cache kept by a stop survives the end of
# the VM. Each case writes known data ($SUITE_RESULTS/data.bin, made on the
# host, read by the guests over the 9p root) through /dev/pcache0, ends the
# first VM in some way, and a second VM on the same NVDIMM file and disks
# registers the cache, starts the backing disk without cache_size (the record
# says everything) and reads the data back: it must be intact and, where the
# cache was kept, at least 95 % hits.
#  - reboot: stop, unregister, rmmod, the VM ends normally;
#  - power cut right after a fast stop: QEMU is SIGKILLed once the stop
#    returned;
#  - power cut right after an interrupted flush (SIGINT to
#    'pcachectl backing stop --flush' behind a slow disk): the disk kept
#    running, so the second VM replays an unclean cache; a flush then leaves
#    the bare disk holding everything.

TIMEOUT=1500

MB=128

# the second VM: register, start, read back, print "HITS <percent>"
reader_script() { # $1: backing device expression, $2: extra checks after the read
	cat <<-EOS
		. "\$TESTS_DIR/cache_common.bash"
		load_module
		expect_write_ok \$BUS/cache_dev_register "path=\$PMEM"
		cat \$CD0/backing_records
		$1
		kmsg_mark
		pc=\$(backing_start "\$DEV" "")
		dmesg | grep 'pcache:' | tail -n 3
		h0=\$(backing_stat 0 hit_bytes) m0=\$(backing_stat 0 miss_bytes)
		cmp <(dd if=\$pc bs=1M count=$MB iflag=direct status=none) $DATA || fail "/dev/pcache0 does not hold the data"
		h=\$((\$(backing_stat 0 hit_bytes) - h0)) m=\$((\$(backing_stat 0 miss_bytes) - m0))
		echo "HITS \$((h * 100 / (h + m > 0 ? h + m : 1))) (\$h hit bytes, \$m miss bytes)"
		$2
		echo reader-ok
	EOS
}

# reader MEDIA NAME [BACKING-SETUP] [CHECKS]: run the second VM, print its hit percent
reader() {
	local media=$1 name=$2 out hits
	vm_run "$name" "$media" "$(reader_script "${3:-DEV=\$BACKING}" "${4:-}")" 600 >&2
	out=$(vm_results "$name")/script.out
	grep -q reader-ok "$out" || {
		tail -n 8 "$out" >&2
		fail "$name: the data did not come back intact"
	}
	hits=$(sed -n 's/^HITS \([0-9]*\) .*/\1/p' "$out")
	grep '^HITS' "$out" >&2
	echo "$hits"
}

setup() {
	DATA=$SUITE_RESULTS/data.bin
	head -c $((MB * 1048576)) /dev/urandom >"$DATA" || fail "cannot make test data"
}

teardown() { rm -f "$DATA"; }

writer_head() {
	cat <<-EOS
		. "\$TESTS_DIR/cache_common.bash"
		load_module ${1:-}
		cache_register
		pc=\$(backing_start "\$BACKING" "cache_size=512")
		dd if=$DATA of=\$pc bs=1M oflag=direct status=none || fail "write failed"
	EOS
}

test_reboot_is_warm() {
	local media=$SUITE_RESULTS/media-reboot hits
	vm_files "$media" 1024 1024 64 || fail "cannot create VM media"
	vm_run writer "$media" "$(writer_head)
		t0=\$(date +%s%N)
		backing_stop 0
		echo \"stop: \$(((\$(date +%s%N) - t0) / 1000000)) ms\"
		expect_write_ok \$BUS/cache_dev_unregister cache_dev_id=0
		unload_module" 600 || fail "writer VM failed"
	grep '^stop:' "$(vm_results writer)/script.out"
	hits=$(reader "$media" reader) || exit 1
	echo "after a reboot: ${hits}% hits"
	((hits >= 95)) || fail "only ${hits}% hits after a reboot (want >= 95)"
	rm -rf "$media"
}

test_power_cut_right_after_a_fast_stop() {
	local media=$SUITE_RESULTS/media-cut hits
	vm_files "$media" 1024 1024 64 || fail "cannot create VM media"
	vm_start writer "$media" "$(writer_head writeback_idle_ms=600000)
		d=\$(backing_stat 0 dirty_bytes)
		echo dirty \$d >/dev/console
		((d > 64 * 1048576)) || { console_mark CHECK-FAILED only \$d bytes dirty; exit 1; }
		backing_stop 0
		console_mark stopped
		sleep 600" || fail "writer VM did not boot"
	vm_wait_for writer '^=== MARK (stopped|CHECK-FAILED)' 400 || fail "the writer never stopped"
	vm_kill writer
	grep -a '^dirty ' "$(vm_results writer)/console.log"
	grep -aq '^=== MARK CHECK-FAILED' "$(vm_results writer)/console.log" && fail "the cache held too little dirty data to test"
	hits=$(reader "$media" reader) || exit 1
	echo "after a power cut right after the stop: ${hits}% hits"
	((hits >= 95)) || fail "only ${hits}% hits (want >= 95)"
	rm -rf "$media"
}

test_power_cut_right_after_an_interrupted_flush() {
	local media=$SUITE_RESULTS/media-flush
	vm_files "$media" 1024 1024 64 || fail "cannot create VM media"
	vm_start writer "$media" "
		. \"\$TESTS_DIR/cache_common.bash\"
		load_module writeback_idle_ms=600000
		cache_register
		dmsetup create --noudevsync pc067 --table \"0 \$(blockdev --getsz \$BACKING) delay \$BACKING 0 0 \$BACKING 0 2000\" && dmsetup mknodes pc067 || exit 1
		pc=\$(backing_start /dev/mapper/pc067 cache_size=256)
		dd if=$DATA of=\$pc bs=1M oflag=direct status=none || fail 'write failed'
		\"\$PCACHECTL\" backing stop --flush \$pc >/results/flush.out 2>&1 &
		pid=\$!
		sleep 1.5
		kill -INT \$pid
		wait \$pid
		echo \"flush exit \$? dirty \$(backing_stat 0 dirty_bytes)\" >/dev/console
		console_mark interrupted
		sleep 600" || fail "writer VM did not boot"
	vm_wait_for writer '^=== MARK interrupted' 400 || fail "the flush was never interrupted"
	vm_kill writer
	grep -a '^flush exit' "$(vm_results writer)/console.log"
	grep -aq '^flush exit 75 dirty [1-9]' "$(vm_results writer)/console.log" ||
		fail "the flush did not end with exit 75 and dirty data left"
	reader "$media" reader \
		"dmsetup create --noudevsync pc067 --table \"0 \$(blockdev --getsz \$BACKING) linear \$BACKING 0\" && dmsetup mknodes pc067 || exit 1; DEV=/dev/mapper/pc067" \
		"\"\$PCACHECTL\" backing stop --flush \$pc || fail 'flush failed'
		cmp <(dd if=\$BACKING bs=1M count=$MB iflag=direct status=none) $DATA || fail 'the bare disk does not hold the data'
		echo 'the bare disk holds everything after the flush'" >/dev/null || exit 1
	grep -a 'bare disk holds' "$(vm_results reader)/script.out" || fail "no bare-disk check"
	rm -rf "$media"
}
