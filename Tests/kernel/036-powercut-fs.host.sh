# SPDX-License-Identifier: Apache-2.0
#
# 036-powercut-fs (host side): power cuts during fsync-heavy filesystem work,
# on ext4 and on xfs, each on /dev/pcache0 over a 64 MiB cache (so writeback
# and GC run under the filesystem). Boot 0 formats the cache and the
# filesystem; every boot registers the cache, starts the backing device
# (replay after the unclean end), mounts (journal recovery), checks that every
# file replacement and log append acknowledged by earlier boots is there and
# intact (cache_fsworker.py check), unmounts, requires a clean `e2fsck -fn` /
# `xfs_repair -n`, then mounts again and runs cache_fsworker.py write (each
# operation fsynced before its FACK line reaches the console) until QEMU is
# SIGKILLed at a random moment. The last boot also stops the cache with flush=1
# and checks the filesystem and the files on the backing disk alone.

TIMEOUT=1500
CUTS=${PCACHE_FS_POWERCUTS:-2}

# shellcheck source=powercut.bash
. "$REPO/Tests/kernel/powercut.bash"

# guest_script FS BOOT FIRST_SEQ
guest_script() {
	local fs=$1 boot=$2 seq=$3
	cat <<-EOS
		. "\$TESTS_DIR/cache_common.bash"
		fsck_clean() {
			case $fs in
			ext4) e2fsck -fn "\$1" >\$RESULTS/fsck.txt 2>&1 ;;
			xfs) xfs_repair -n "\$1" >\$RESULTS/fsck.txt 2>&1 ;;
			esac || { tail -n 20 \$RESULTS/fsck.txt >/dev/console; console_mark CHECK-FAILED fsck; exit 1; }
			echo "FSCK clean (\$1)" >/dev/console
		}
		files_check() {
			python3 "\$TESTS_DIR/cache_fsworker.py" check /mnt/t $ACKS >\$RESULTS/check.txt 2>&1 ||
				{ cat \$RESULTS/check.txt >/dev/console; console_mark CHECK-FAILED files; exit 1; }
			tail -n 1 \$RESULTS/check.txt >/dev/console
		}
		load_module key_seg_limit=65536
		$( ((boot == 0)) && echo cache_format)
		expect_write_ok \$BUS/cache_dev_register "path=\$PMEM"
		pc=\$(backing_start "\$BACKING" "cache_size=64,queues=2")
		[[ -b "\$pc" ]] || { console_mark CHECK-FAILED backing-start; exit 1; }
		mkdir -p /mnt/t
		$( ((boot == 0)) && echo "mkfs.$fs $([[ $fs == ext4 ]] && echo -F || echo -f) -q \$pc || { console_mark CHECK-FAILED mkfs; exit 1; }")
		mount -t $fs \$pc /mnt/t || { console_mark CHECK-FAILED mount; exit 1; }
		files_check
		umount /mnt/t || { console_mark CHECK-FAILED umount; exit 1; }
		fsck_clean \$pc
		console_mark checked
		if (($boot == $CUTS)); then
			backing_flush_stop 0
			fsck_clean \$BACKING
			mount -t $fs -o ro \$BACKING /mnt/t || { console_mark BACKING-CHECK-FAILED mount; exit 1; }
			files_check
			umount /mnt/t
			console_mark final-ok
			exit 0
		fi
		mount -t $fs \$pc /mnt/t || { console_mark CHECK-FAILED remount; exit 1; }
		printf '\n' >>/mnt/t/log && sync /mnt/t/log	# ends a torn, unacknowledged record
		fio --name=load --filename=/mnt/t/load --direct=1 --ioengine=libaio --rw=randwrite --bs=64k \\
			--size=96m --iodepth=4 --time_based --runtime=600 >/dev/null 2>&1 &
		python3 "\$TESTS_DIR/cache_fsworker.py" write /mnt/t $seq \$RANDOM
	EOS
}

powercut_guest() { guest_script "$POWERCUT_FS" "$1" $(($1 * 1000000000)); }

power_cuts_on() {
	local media=$SUITE_RESULTS/media-$1
	POWERCUT_FS=$1
	ACKS=$SUITE_RESULTS/facks-$1.txt
	: >"$ACKS"
	vm_files "$media" 1024 1024 64 || fail "cannot create VM media"
	powercut_loop "$1-" "$media" FACK "fsynced operations" '^FSCHECK|^FSCK' 2 5
	echo "$1: $POWERCUT_ACKED acknowledged fsynced operations checked over $CUTS power cuts, $1 clean after every one"
	echo "power_cuts_fs $CUTS" >>"$SUITE_RESULTS/tally.txt"
	rm -rf "$media"
}

test_ext4_power_cuts() { power_cuts_on ext4; }
test_xfs_power_cuts() { power_cuts_on xfs; }
