# SPDX-License-Identifier: Apache-2.0
#
# 035-powercut (host side): repeated power cuts during synced writes.
# Each boot on the same file-backed NVDIMM and backing disk registers the
# cache device, starts the backing device (boot 0: new cache; later boots:
# replay after the unclean end), checks that every block acknowledged by an
# earlier boot holds its last acknowledged content or a later one
# (cache_ackcheck.py), then writes blocks with O_DIRECT|O_DSYNC or
# O_DIRECT+fsync (cache_ackwriter.py prints "ACK <block> <seq> <crc>" on the
# console only after completion) while fio keeps a working set larger than
# the 64 MiB cache busy so that writeback and GC run, and QEMU is SIGKILLed
# at a random moment. The module's testing knob key_seg_limit=65536 makes the
# key log move to a new key segment every 64 KiB of ksets, so replay crosses
# LAST ksets and GC reclaims key segments between the cuts. The last boot checks, stops the cache with flush=1 and
# checks the backing disk alone.

TIMEOUT=1800
CUTS=${PCACHE_POWERCUTS:-4}

# shellcheck source=powercut.bash
. "$REPO/Tests/kernel/powercut.bash"

# guest_script BOOT FIRST_SEQ
guest_script() {
	cat <<-EOS

		. "\$TESTS_DIR/cache_common.bash"
		load_module key_seg_limit=65536
		$( (($1 == 0)) && echo cache_format)
		expect_write_ok \$BUS/cache_dev_register "path=\$PMEM"
		pc=\$(backing_start "\$BACKING" "cache_size=64,queues=2")
		[[ -b "\$pc" ]] || { console_mark CHECK-FAILED backing-start; exit 1; }
		dmesg | grep 'pcache:' | tail -n 5 >/dev/console
		python3 "\$TESTS_DIR/cache_ackcheck.py" \$pc $ACKS >\$RESULTS/check.txt || { cat \$RESULTS/check.txt >/dev/console; console_mark CHECK-FAILED; exit 1; }
		tail -n 1 \$RESULTS/check.txt >/dev/console
		console_mark checked
		if (($1 == $CUTS)); then
			backing_flush_stop 0
			python3 "\$TESTS_DIR/cache_ackcheck.py" \$BACKING $ACKS >\$RESULTS/check-backing.txt || { cat \$RESULTS/check-backing.txt >/dev/console; console_mark BACKING-CHECK-FAILED; exit 1; }
			console_mark final-ok
			exit 0
		fi
		fio --name=load --filename=\$pc --direct=1 --ioengine=libaio --rw=randwrite --bs=64k \\
			--offset=256m --size=256m --iodepth=4 --time_based --runtime=600 >/dev/null 2>&1 &
		python3 "\$TESTS_DIR/cache_ackwriter.py" \$pc $2 4096 $((RANDOM))
	EOS
}

# data_crc at replay: a dirty block (its writeback held back by a suspended
# dm-linear backing device) is corrupted in the NVDIMM file while the VM is
# down; replay must report it, reads of it must fail with EIO, and (writeback
# stops before it until it is overwritten) after an overwrite the clean stop
# must not write it to the backing disk.
test_replay_catches_flipped_data() {
	local media=$SUITE_RESULTS/media-crc token=CRCREPLAY-$RANDOM$RANDOM- off con
	vm_files "$media" 1024 256 64 || fail "cannot create VM media"
	vm_start writer "$media" "
		. \"\$TESTS_DIR/cache_common.bash\"
		load_module
		cache_register
		dmsetup create --noudevsync pcwb --table \"0 \$(blockdev --getsz \$BACKING) linear \$BACKING 0\" && dmsetup mknodes pcwb || exit 1
		pc=\$(backing_start /dev/mapper/pcwb cache_size=64,data_crc=1)
		dmsetup suspend pcwb || exit 1
		python3 -c 'import sys; t=sys.argv[1]; sys.stdout.write((t*(4096//len(t)+1))[:4096])' $token |
			dd of=\$pc bs=4096 seek=2048 oflag=direct,sync status=none || exit 1
		console_mark written
		sleep 600" || fail "writer VM did not boot"
	vm_wait_for writer '^=== MARK written' 300 || fail "writer never wrote its block"
	vm_kill writer
	off=$(python3 "$REPO/Tests/kernel/pmem_find.py" "$token" "$media/pmem.img")
	[[ -n "$off" ]] || fail "the dirty block is not in the NVDIMM file"
	python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])+1000); b=f.read(1); f.seek(-1,1); f.write(bytes([b[0]^0x5a]))" \
		"$media/pmem.img" "$off" || fail "cannot flip the byte"
	vm_run reader "$media" "
		. \"\$TESTS_DIR/cache_common.bash\"
		load_module
		expect_write_ok \$BUS/cache_dev_register \"path=\$PMEM\"
		dmsetup create --noudevsync pcwb --table \"0 \$(blockdev --getsz \$BACKING) linear \$BACKING 0\" && dmsetup mknodes pcwb || exit 1
		kmsg_mark
		pc=\$(backing_start /dev/mapper/pcwb '')
		expect_kmsg 'replay: data_crc mismatch at backing offset 8388608 .*reads of it fail'
		dd if=\$pc bs=4096 skip=2048 count=1 iflag=direct status=none >/dev/null 2>\$RESULTS/dd.err && fail 'the corrupted block was read without error'
		grep -q 'Input/output error' \$RESULTS/dd.err || fail \"not EIO: \$(cat \$RESULTS/dd.err)\"
		dd if=/dev/zero of=\$pc bs=4096 seek=2048 count=1 oflag=direct status=none || fail 'overwrite failed'
		backing_flush_stop 0
		expect_kmsg 'data_crc mismatch at backing offset 8388608 .*overwritten since, not written back'
		dd if=\$BACKING bs=4096 skip=2048 count=1 iflag=direct status=none | grep -q CRCREPLAY && fail 'the corrupted block reached the backing disk'
		echo reader-ok" 400
	con=$(vm_results reader)
	grep -q reader-ok "$con/script.out" || {
		tail -n 5 "$con/script.out"
		grep -a 'pcache' "$con/dmesg.log" | tail -n 8
		fail "replay did not catch the flipped byte as expected"
	}
	grep -a 'data_crc' "$con/dmesg.log"
	rm -rf "$media"
}

powercut_guest() { guest_script "$1" $(($1 * 1000000000)); }

test_acked_writes_survive_power_cuts() {
	local media=$SUITE_RESULTS/media
	ACKS=$SUITE_RESULTS/acks.txt
	: >"$ACKS"
	vm_files "$media" 1024 1024 64 || fail "cannot create VM media"
	powercut_loop "" "$media" ACK "block writes" '^CHECK ' 1 4
	echo "total acknowledged block writes checked: $POWERCUT_ACKED over $CUTS power cuts"
	rm -rf "$media"
}
