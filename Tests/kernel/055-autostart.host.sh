# SPDX-License-Identifier: Apache-2.0
#
# 055-autostart (host side): a cached device comes back by itself after a power cut, through
# the real udev path: boot 1 formats the pmem, starts a backing device, writes data and records
# the configuration; QEMU is killed (dirty data may still sit in pmem). Boot 2 installs the
# configuration and 69-pcache.rules, starts a real systemd-udevd and triggers the block devices:
# probe marks the pmem as cache_dev, autostart names the entry to start, /dev/pcacheN and
# /dev/pcache/by-name/data appear without any pcachectl command, and the data reads back intact.
# (The module is preloaded in boot 2 as an installed module would be; depmod takes minutes
# under emulation. There is no systemd in the guest, so the rule applies from RUN.)

TIMEOUT=900

test_autostart_after_power_cut() {
	local media=$SUITE_RESULTS/media r1 conf sum
	vm_files "$media" || fail "cannot create VM media"
	vm_start writer "$media" '
		set -e
		load_module
		"$PCACHECTL" format --force --label auto "$PMEM"
		"$PCACHECTL" cache register "$PMEM"
		"$PCACHECTL" backing start --cache cache_dev0 "$BACKING" --cache-size 128M
		dd if=/dev/urandom of=/results/data bs=64k count=64 status=none
		dd if=/results/data of=/dev/pcache0 bs=64k oflag=direct conv=fsync status=none
		sha256sum </results/data | cut -d" " -f1 >/results/data.sha
		uuid=$("$PCACHECTL" list --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"caches\"][0][\"uuid\"])")
		printf "[cache fast]\nuuid = %s\n\n[backing data]\ncache = fast\ndevice = %s\n" "$uuid" "$BACKING" >/results/pcache.conf
		"$PCACHECTL" status >/results/status-before.txt
		console_mark written
		sleep 600' || fail "writer VM did not boot"
	vm_wait_for writer '^=== MARK written' 400 || fail "writer never reached its marker: $(tail -n 5 "$(vm_results writer)/script.out" 2>/dev/null | tr '\n' '|')"
	vm_kill writer
	r1=$(vm_results writer)
	conf=$(cat "$r1/pcache.conf") || fail "boot 1 wrote no configuration"
	sum=$(cat "$r1/data.sha")
	[[ -n "$sum" ]] || fail "boot 1 recorded no checksum"

	vm_run reader "$media" "
		load_module
		mkdir -p /etc/pcache /etc/udev/rules.d /run/sbin
		printf '%s\n' '$conf' >/etc/pcache/pcache.conf
		ln -sf \"\$PCACHECTL\" /run/sbin/pcachectl
		sed 's|@SBINDIR@|/run/sbin|g' \"\$REPO/udev/69-pcache.rules\" >/etc/udev/rules.d/69-pcache.rules
		[[ -b /dev/pcache0 ]] && { echo 'pcache0 exists before udev ran'; exit 3; }
		/lib/systemd/systemd-udevd --daemon || exit 4
		udevadm trigger --subsystem-match=block --action=add
		udevadm settle --timeout=120
		for i in \$(seq 300); do [[ -b /dev/pcache0 && -L /dev/pcache/by-name/data ]] && break; sleep 0.2; done
		udevadm settle --timeout=60
		udevadm info --query=property /dev/pmem0 >/results/pmem.props
		udevadm info --query=property /dev/pcache0 >/results/pcache0.props 2>&1
		\"\$PCACHECTL\" list >/results/list.txt 2>&1
		ls -l /dev/pcache/by-name/ >/results/by-name.txt 2>&1
		[[ -b /dev/pcache0 ]] || { echo '/dev/pcache0 did not come back'; exit 5; }
		head -c 4194304 /dev/pcache0 | sha256sum | cut -d' ' -f1 >/results/read.sha
		" 600 || fail "boot 2 failed (exit $?): $(tail -n 5 "$(vm_results reader)/script.out" | tr '\n' '|')"
	local r2
	r2=$(vm_results reader)
	grep -qx 'PCACHE_ROLE=cache_dev' "$r2/pmem.props" || fail "udev did not import PCACHE_ROLE=cache_dev for /dev/pmem0: $(tr '\n' '|' <"$r2/pmem.props")"
	grep -q 'backing_dev0 /dev/vda -> /dev/pcache0' "$r2/list.txt" || fail "list after autostart: $(tr '\n' '|' <"$r2/list.txt")"
	grep -q 'data -> ../../pcache0' "$r2/by-name.txt" || fail "/dev/pcache/by-name/data missing: $(tr '\n' '|' <"$r2/by-name.txt")"
	# The link is udev's (apply leaves it to udev when udevd runs).
	grep -q '^DEVLINKS=.*/dev/pcache/by-name/data' "$r2/pcache0.props" || fail "udev did not make the by-name link: $(tr '\n' '|' <"$r2/pcache0.props")"
	grep -qx 'PCACHE_ROLE=cached_dev' "$r2/pcache0.props" || fail "udev did not import PCACHE_ROLE=cached_dev for /dev/pcache0"
	[[ "$(cat "$r2/read.sha")" == "$sum" ]] || fail "data read back after autostart differs from what boot 1 wrote"
	rm -rf "$media"
}
