#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# QEMU test harness for pcache.
#
#   Tests/vm/vm.sh run-suite Tests/kernel/NNN-name.sh   one VM, one guest suite
#   Tests/vm/vm.sh run-suite Tests/kernel/NNN-name.host.sh   a host-side suite
#   Tests/vm/vm.sh run-all                             every suite, in order
#   Tests/vm/vm.sh shell [guest command]               boot a VM and run a command
#   Tests/vm/vm.sh prepare                             build initramfs + pmem template
#
# Every VM boots Debian's 6.12 kernel under TCG (no KVM) from an initramfs that
# mounts the host's root read-only over 9p with a tmpfs overlay on top, so the
# guest sees the repository, bash, fio and the host-built pcachectl. pmem is a
# file-backed NVDIMM (it survives QEMU, for restart and power-cut tests), the
# backing disks are sparse raw files as virtio drives (/dev/vda, /dev/vdb;
# guest suites also get /dev/vdc, a 4Kn disk: 4096-byte logical blocks).
# A second, writable 9p share (the job directory) carries the job script in
# and the results out; the serial console is kept as console.log.
#
# Sourced by host-side suites (*.host.sh) it provides vm_files, vm_start,
# vm_wait_for, vm_kill, vm_wait and vm_run (see "Host-side API" below).
#
# Environment knobs: KVER, PCACHE_KO, PCACHECTL, VM_SMP (2), VM_MEM (2G),
# VM_TCG_THREAD (multi|single), VM_BOOT_TIMEOUT (300 s), SUITE_TIMEOUT (600 s,
# a suite may set TIMEOUT=<s> on a line of its own, and KERNEL_ARGS="..." for
# extra guest kernel command line options), VM_TIMEOUT_SCALE (1,
# multiplies suite timeouts on a slow host), RUN_ALL_TIMEOUT (4200 s),
# VM_SUITES=REGEX makes run-all run only the suites whose file names match,
# VM_TESTS=REGEX runs only the tests whose names match (extended regex),
# VM_KEEP_IMAGES=1 keeps per-suite images after a passing run, VERBOSE=1
# streams the guest console to the terminal, VM_PMEM_RAM=1 backs the
# emulated pmem with preallocated host RAM (/dev/shm; the benchmark uses it).

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
VM_CACHE=${VM_CACHE:-$REPO/vm-cache}
RESULTS_ROOT=${RESULTS_ROOT:-$REPO/results}

VM_SMP=${VM_SMP:-2}
VM_MEM=${VM_MEM:-2G}
VM_TCG_THREAD=${VM_TCG_THREAD:-multi}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-300}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
RUN_ALL_TIMEOUT=${RUN_ALL_TIMEOUT:-4200}
VM_PMEM_MB=${VM_PMEM_MB:-1024}
VM_DISK1_MB=${VM_DISK1_MB:-4096}
VM_DISK2_MB=${VM_DISK2_MB:-1024}
VM_DISK3_MB=${VM_DISK3_MB:-512}
# /dev/vdc: 4096-byte logical and physical blocks, and an I/O topology
# (minimum 8 KiB, optimal 256 KiB) that a stacked disk must inherit.
VM_DISK3_PROPS=${VM_DISK3_PROPS:-logical_block_size=4096,physical_block_size=4096,min_io_size=8192,opt_io_size=262144}

# Kernel log lines that fail a test (extended regex, shared with the guest
# runner through the environment).
VM_BAD_KMSG='BUG:|kernel BUG|Oops|WARNING:|general protection|hung task|blocked for more than|refcount_t|list_add corruption|list_del corruption|KASAN|UBSAN|Kernel panic|soft lockup|hard LOCKUP|stack-protector|stack segment|BUG [^ ]+ \(|Redzone overwritten|Poison overwritten|Freepointer corrupt|pagealloc: memory corruption'
export VM_BAD_KMSG

vm_log() { echo "vm: $*" >&2; }
vm_die() { echo "vm: error: $*" >&2; exit 1; }

vm_kver() {
	[[ -n "${KVER:-}" ]] || KVER=$("$VM_DIR/kver.sh") || vm_die "no usable kernel (run 'make deps')"
	export KVER
	echo "$KVER"
}

# The newest pcachectl built on the host (release), unless PCACHECTL is set.
vm_find_pcachectl() {
	if [[ -n "${PCACHECTL:-}" ]]; then
		echo "$PCACHECTL"
		return
	fi
	local best= f
	[[ -x "$REPO/.build/release/pcachectl" ]] && best="$REPO/.build/release/pcachectl"
	if [[ -z "$best" ]]; then
		for f in "$REPO"/.build*/release/pcachectl; do
			[[ -x "$f" ]] || continue
			[[ -z "$best" || "$f" -nt "$best" ]] && best=$f
		done
	fi
	echo "${best:-$REPO/.build/release/pcachectl}"
}

# ---------------------------------------------------------------- initramfs

# Builds (once per kernel version and init script) a gzip'ed initramfs with
# busybox-static and the kernel's own 9p and overlay modules; prints its path.
vm_initrd() {
	local kver sum out tmp m f
	kver=$(vm_kver)
	sum=$(cat "$VM_DIR/initramfs-init" /bin/busybox | sha256sum | cut -c1-12)
	out="$VM_CACHE/initrd-$kver-$sum.gz"
	if [[ -s "$out" ]]; then
		echo "$out"
		return
	fi
	[[ -x /bin/busybox ]] || vm_die "/bin/busybox missing (apt-get install busybox-static)"
	busybox --list >/dev/null 2>&1 || vm_die "/bin/busybox is not usable"
	mkdir -p "$VM_CACHE"
	tmp=$(mktemp -d "$VM_CACHE/initrd.XXXXXX")
	mkdir -p "$tmp/bin" "$tmp/lib/mod" "$tmp/proc" "$tmp/sys" "$tmp/dev"
	cp /bin/busybox "$tmp/bin/busybox"
	for m in netfs 9pnet 9pnet_virtio 9p overlay; do
		f=$(find "/lib/modules/$kver/kernel" -name "$m.ko*" | head -n 1)
		[[ -n "$f" ]] || vm_die "module $m not found for $kver"
		case "$f" in
		*.xz) xz -dc "$f" >"$tmp/lib/mod/$m.ko" ;;
		*.zst) zstd -dcq "$f" >"$tmp/lib/mod/$m.ko" ;;
		*.gz) gzip -dc "$f" >"$tmp/lib/mod/$m.ko" ;;
		*) cp "$f" "$tmp/lib/mod/$m.ko" ;;
		esac
	done
	install -m 0755 "$VM_DIR/initramfs-init" "$tmp/init"
	(cd "$tmp" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$tmp.gz"
	mv "$tmp.gz" "$out"
	rm -rf "$tmp"
	vm_log "built initramfs $out"
	echo "$out"
}

# ---------------------------------------------------------------- QEMU

# vm_qemu_cmd CONSOLE JOBDIR PMEM_IMG [DISK...] -- prints nothing, fills the
# array VM_QEMU_ARGV. A DISK of the form FILE,PROP=V,... becomes a
# virtio-blk-pci device with those properties (e.g. logical_block_size=4096).
vm_qemu_argv() {
	local console=$1 jobdir=$2 pmem=$3
	shift 3
	local kver initrd size d file append n=0
	kver=$(vm_kver)
	initrd=$(vm_initrd) && [[ -s "$initrd" ]] || vm_die "no initramfs"
	# loglevel=5: warnings reach the console (and console.log). On a crowded
	# host a vCPU thread can starve for tens of seconds: no_timer_check stops
	# the boot-time timer check from panicking ("IO-APIC + timer doesn't
	# work"), watchdog_thresh=60 moves false soft-lockup reports to 120 s
	# (a real hang is still caught by the suite timeout, and named).
	append="console=ttyS0 loglevel=5 panic=-1 log_buf_len=4M no_timer_check watchdog_thresh=60 pcache_stage2=$VM_DIR/guest-init.sh"
	append+=" ${VM_APPEND:-}"
	VM_QEMU_ARGV=(qemu-system-x86_64
		-machine pc,nvdimm=on -accel "tcg,thread=$VM_TCG_THREAD" -cpu max
		-smp "$VM_SMP" -m "$VM_MEM,slots=2,maxmem=8G"
		-display none -monitor none -no-reboot
		-serial "file:$console"
		-kernel "/boot/vmlinuz-$kver" -initrd "$initrd" -append "$append"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$jobdir,mount_tag=results,security_model=none,multidevs=remap")
	if [[ -n "$pmem" ]]; then
		size=$(stat -L -c %s "$pmem")
		VM_QEMU_ARGV+=(-object "memory-backend-file,id=mem1,share=on,mem-path=$pmem,size=$size${VM_PMEM_RAM:+,prealloc=on}"
			-device nvdimm,id=nv1,memdev=mem1)
	fi
	# explicit devices in argument order: they are /dev/vda, /dev/vdb, ...
	# (QEMU places if=virtio drives after every -device)
	for d in "$@"; do
		n=$((n + 1))
		file=${d%%,*}
		VM_QEMU_ARGV+=(-drive "file=$file,if=none,id=disk$n,format=raw,cache=none"
			-device "virtio-blk-pci,drive=disk$n${d#"$file"}")
	done
}

# Scans a console log for a kernel oops/BUG/WARNING; prints the offending lines.
vm_console_bad_lines() {
	local console=$1 from=${2:-}
	[[ -r "$console" ]] || return 1
	if [[ -n "$from" ]]; then
		sed -n "/$from/,\$p" "$console"
	else
		cat "$console"
	fi | tr -d '\r' | grep -E -- "$VM_BAD_KMSG" | grep -v '^=== ' | head -n 20
}

# vm_boot NAME JOBDIR PMEM DISK... -- starts QEMU in the background and waits
# until the guest reached its second stage. Boots again once when the first
# boot dies early (the known TCG "Oops: int3" race) or does not come up in
# VM_BOOT_TIMEOUT seconds. Sets VM_PID[NAME], VM_CONSOLE[NAME], VM_T0[NAME].
declare -gA VM_PID=() VM_CONSOLE=() VM_JOBDIR=() VM_T0=() VM_BOOT_SECS=() VM_RETRIED=()
vm_boot() {
	local name=$1 jobdir=$2 pmem=$3
	shift 3
	local console="$jobdir/console.log" attempt pid t0 now bad
	for attempt in 1 2; do
		: >"$console"
		vm_qemu_argv "$console" "$jobdir" "$pmem" "$@"
		printf '%q ' "${VM_QEMU_ARGV[@]}" >"$jobdir/qemu.cmdline"
		t0=$(date +%s.%N)
		"${VM_QEMU_ARGV[@]}" </dev/null >"$jobdir/qemu.stderr" 2>&1 &
		pid=$!
		[[ -n "${HOST_TEST_PIDS_FILE:-}" ]] && echo "$pid" >>"$HOST_TEST_PIDS_FILE"
		VM_PID[$name]=$pid
		VM_CONSOLE[$name]=$console
		VM_JOBDIR[$name]=$jobdir
		VM_T0[$name]=$t0
		if [[ "${VERBOSE:-0}" == 1 ]]; then
			(tail -n +1 -F --pid="$pid" "$console" 2>/dev/null | sed "s/^/[$name] /" >&2) &
		fi
		while :; do
			if grep -q '^=== PCACHE-VM STAGE2' "$console" 2>/dev/null; then
				# An oops before the job started (a boot-time race) means the
				# kernel is not trustworthy: boot again rather than run on it.
				bad=$(sed '/^=== PCACHE-VM STAGE2/q' "$console" | tr -d '\r' | grep -E -- "$VM_BAD_KMSG" | head -n 3)
				[[ -z "$bad" ]] || break
				now=$(date +%s.%N)
				VM_BOOT_SECS[$name]=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
				VM_RETRIED[$name]=$((attempt - 1))
				return 0
			fi
			bad=$(vm_console_bad_lines "$console" | head -n 3)
			if ! kill -0 "$pid" 2>/dev/null || [[ -n "$bad" ]]; then
				break
			fi
			now=$(date +%s)
			if ((now - ${t0%.*} > VM_BOOT_TIMEOUT)); then
				bad="no guest after ${VM_BOOT_TIMEOUT}s"
				break
			fi
			sleep 0.3
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		[[ -n "$bad" ]] || bad="QEMU exited: $(tail -n 3 "$jobdir/qemu.stderr" "$console" 2>/dev/null | tr '\n' ' ')"
		cp "$console" "$jobdir/console.boot$attempt.log" 2>/dev/null
		vm_log "$name: boot attempt $attempt failed: $bad"
		if ((attempt == 1)); then
			vm_log "$name: booting again once (early boot failures under TCG: the int3 race, timer checks on a crowded host; first console kept as console.boot1.log)"
		fi
	done
	unset 'VM_PID[$name]'
	return 1
}

# Waits until VM NAME powers off, at most SECS seconds (then SIGKILL).
# Returns 0 if it powered off, 124 on timeout.
vm_wait() {
	local name=$1 secs=${2:-$SUITE_TIMEOUT} pid=${VM_PID[$1]:-} start now
	[[ -n "$pid" ]] || return 1
	start=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		now=$(date +%s)
		if ((now - start >= secs)); then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			unset 'VM_PID[$name]'
			return 124
		fi
		sleep 0.5
	done
	wait "$pid" 2>/dev/null
	unset 'VM_PID[$name]'
	return 0
}

# Power cut: SIGKILL QEMU for VM NAME now.
vm_kill() {
	local name=$1 pid=${VM_PID[$1]:-}
	[[ -n "$pid" ]] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset 'VM_PID[$name]'
	return 0
}

# Waits until the console of VM NAME matches the extended regex RE, at most
# SECS seconds. Returns 1 on timeout or when the VM went away first.
vm_wait_for() {
	local name=$1 re=$2 secs=${3:-120} console=${VM_CONSOLE[$1]:-} pid=${VM_PID[$1]:-} start
	local jobdir=${VM_JOBDIR[$1]:-}
	start=$(date +%s)
	while :; do
		grep -Eq -- "$re" "$console" 2>/dev/null && return 0
		if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
			# Say why here, so the test's output explains the failure.
			echo "vm_wait_for $name: the VM went away before /$re/ appeared" \
				"(guest script exit $(cat "$jobdir/script.rc" 2>/dev/null || echo '?'))"
			tail -n 5 "$jobdir/script.out" 2>/dev/null | sed 's/^/    script: /'
			return 1
		fi
		if (($(date +%s) - start >= secs)); then
			echo "vm_wait_for $name: /$re/ did not appear within ${secs}s"
			tail -n 5 "$jobdir/script.out" 2>/dev/null | sed 's/^/    script: /'
			return 1
		fi
		sleep 0.2
	done
}

vm_kill_all() {
	local n
	for n in "${!VM_PID[@]}"; do
		vm_kill "$n"
	done
}

# ---------------------------------------------------------------- pmem images

# The fsdax template for a pmem file of MB MiB: a sparse file on which a
# guest ran `ndctl create-namespace -m fsdax -M mem` once. Prints its path.
vm_pmem_template() {
	local mb=${1:-$VM_PMEM_MB} kver out jobdir tmp
	kver=$(vm_kver)
	out="$VM_CACHE/pmem-${mb}M-fsdax-$kver.img"
	if [[ -s "$out" ]]; then
		echo "$out"
		return
	fi
	mkdir -p "$VM_CACHE"
	exec 8>"$VM_CACHE/.pmem.lock"
	flock 8
	if [[ -s "$out" ]]; then
		exec 8>&-
		echo "$out"
		return
	fi
	vm_log "creating the fsdax pmem template ($mb MiB, once)"
	jobdir=$(mktemp -d "$VM_CACHE/pmem-job.XXXXXX")
	tmp="$jobdir/pmem.img"
	truncate -s "${mb}M" "$tmp"
	cat >"$jobdir/job.sh" <<-'EOS'
		set -x
		ndctl create-namespace -f -e namespace0.0 -m fsdax -M mem || exit 1
		for i in $(seq 50); do [ -b /dev/pmem0 ] && break; sleep 0.2; done
		test -b /dev/pmem0 || exit 2
		test "$(cat /sys/block/pmem0/queue/dax)" = 1 || exit 3
		blockdev --getsize64 /dev/pmem0 >/results/pmem-size
		echo done >/results/ok
	EOS
	vm_boot template "$jobdir" "$tmp" || vm_die "template VM did not boot (see $jobdir/console.log)"
	vm_wait template 300 || vm_die "template VM timed out (see $jobdir/console.log)"
	[[ -e "$jobdir/ok" ]] || vm_die "creating the fsdax namespace failed (see $jobdir/console.log)"
	mv "$tmp" "$out"
	vm_log "pmem template ready: $out ($(cat "$jobdir/pmem-size") bytes of /dev/pmem0)"
	rm -rf "$jobdir"
	exec 8>&-
	echo "$out"
}

vm_pmem_ram_path() { echo "/dev/shm/pcache-vm-$(echo "$1" | md5sum | cut -c1-12).img"; }

# vm_files_rm DIR: remove what vm_files made (including a VM_PMEM_RAM copy).
vm_files_rm() {
	[[ -L "$1/pmem.img" ]] && rm -f "$(readlink "$1/pmem.img")"
	rm -f "$1/pmem.img" "$1/vda.img" "$1/vdb.img" "$1/vdc.img"
}

# vm_files DIR [PMEM_MB] [DISK1_MB] [DISK2_MB]: fresh VM media in DIR:
# pmem.img (fsdax namespace, otherwise zero), vda.img and vdb.img (sparse zero).
# vm_files_4kn DIR adds vdc.img (VM_DISK3_MB, sparse zero) for the 4Kn disk.
# With VM_PMEM_RAM=1, pmem.img is a link to a fully allocated copy in /dev/shm.
vm_files() {
	local dir=$1 pmem_mb=${2:-$VM_PMEM_MB} d1=${3:-$VM_DISK1_MB} d2=${4:-$VM_DISK2_MB} tpl ram
	tpl=$(vm_pmem_template "$pmem_mb") || return 1
	mkdir -p "$dir"
	vm_files_rm "$dir"
	if [[ -n "${VM_PMEM_RAM:-}" ]]; then
		# Every page allocated in host RAM up front (no sparse file, no
		# host filesystem allocating blocks on a first write): pmem speed
		# is then the same for every write, first or not.
		ram=$(vm_pmem_ram_path "$dir")
		cp --sparse=never "$tpl" "$ram" && ln -s "$ram" "$dir/pmem.img" || return 1
	else
		cp --sparse=always "$tpl" "$dir/pmem.img"
	fi
	truncate -s "${d1}M" "$dir/vda.img"
	truncate -s "${d2}M" "$dir/vdb.img"
}

vm_files_4kn() { truncate -s "${VM_DISK3_MB}M" "$1/vdc.img"; }

# ---------------------------------------------------------------- jobs

# Guest helper programs, built on the host into $VM_CACHE/bin.
vm_helpers() {
	local src=$VM_DIR/rawwrite.c bin=$VM_CACHE/bin/pcache-rawwrite
	mkdir -p "$VM_CACHE/bin"
	if [[ ! -x "$bin" || "$src" -nt "$bin" ]]; then
		gcc -O2 -Wall -Wextra -o "$bin.tmp" "$src" && mv "$bin.tmp" "$bin" ||
			vm_die "cannot build $bin"
	fi
}

# Writes JOBDIR/job.sh: the standard test environment, then COMMAND.
vm_write_job() {
	local jobdir=$1 command=$2 ko ctl
	vm_helpers
	ko=${PCACHE_KO:-$REPO/KernelShim/pcache.ko}
	ctl=$(vm_find_pcachectl)
	cat >"$jobdir/job.sh" <<-EOS
		# Generated by Tests/vm/vm.sh; runs inside the guest.
		export REPO=$(printf %q "$REPO")
		export TESTS_DIR=$(printf %q "$REPO/Tests/kernel")
		export PCACHE_KO=$(printf %q "$ko")
		export PCACHECTL=$(printf %q "$ctl")
		export PMEM=/dev/pmem0 BACKING=/dev/vda BACKING2=/dev/vdb RESULTS=/results
		$([[ -n "${VM_WITH_4KN:-}" ]] && echo "export BACKING_4K=/dev/vdc")
		export VM_BAD_KMSG=$(printf %q "$VM_BAD_KMSG")
		$([[ -n "${VM_TESTS:-}" ]] && echo "export VM_TESTS=$(printf %q "$VM_TESTS")")
		export PATH=$(printf %q "$VM_CACHE/bin"):"\$PATH"
		$command
	EOS
}

# ---------------------------------------------------------------- Host-side API
#
# For *.host.sh suites (run on the host, one VM per vm_start):
#   vm_files DIR                 fresh pmem.img/vda.img/vdb.img in DIR
#   vm_files_rm DIR              remove them again
#   vm_start NAME DIR 'SCRIPT'   boot on DIR's media, run SCRIPT (bash, lib.sh
#                                sourced, test environment set) in the guest;
#                                returns once the guest is up
#   vm_wait_for NAME REGEX [S]   wait for REGEX on NAME's console
#   vm_kill NAME                 SIGKILL QEMU (power cut)
#   vm_wait NAME [S]             wait for poweroff (SIGKILL after S seconds)
#   vm_run NAME DIR 'SCRIPT' [S] vm_start + vm_wait; returns SCRIPT's status
#   vm_results NAME              the job dir: console.log, dmesg.log, files
#                                SCRIPT wrote under $RESULTS
# Each VM's job dir is $SUITE_RESULTS/<test>/<NAME>/. Kernel log lines matching
# VM_BAD_KMSG on any console of a test fail that test.

vm_start() {
	local name=$1 dir=$2 script=$3 jobdir
	jobdir="${SUITE_RESULTS:-$RESULTS_ROOT/adhoc}/${CURRENT_TEST:-adhoc}/$name"
	rm -rf "$jobdir"
	mkdir -p "$jobdir"
	printf '%s\n' "$script" >"$jobdir/script.sh"
	vm_write_job "$jobdir" "
		. \"\$TESTS_DIR/lib.sh\"
		lib_guest_prepare >/results/prepare.log 2>&1
		( . /results/script.sh ) >/results/script.out 2>&1
		rc=\$?
		echo \$rc >/results/script.rc
		dmesg >/results/dmesg.log 2>&1
		echo \"=== SCRIPT EXIT \$rc\""
	local disks=()
	[[ -e "$dir/vda.img" ]] && disks+=("$dir/vda.img")
	[[ -e "$dir/vdb.img" ]] && disks+=("$dir/vdb.img")
	[[ -n "${HOST_TEST_CONSOLES_FILE:-}" ]] && echo "$jobdir/console.log" >>"$HOST_TEST_CONSOLES_FILE"
	vm_boot "$name" "$jobdir" "$dir/pmem.img" "${disks[@]}" || return 1
}

vm_results() { echo "${VM_JOBDIR[$1]}"; }

vm_run() {
	local name=$1 dir=$2 script=$3 secs=${4:-$SUITE_TIMEOUT} jobdir
	vm_start "$name" "$dir" "$script" || return 1
	jobdir=${VM_JOBDIR[$name]}
	if ! vm_wait "$name" "$secs"; then
		echo "vm_run $name: timed out after ${secs}s (console: $jobdir/console.log)"
		return 124
	fi
	[[ -r "$jobdir/script.rc" ]] || {
		echo "vm_run $name: the guest script did not finish (console: $jobdir/console.log)"
		return 1
	}
	local rc
	rc=$(cat "$jobdir/script.rc")
	if ((rc != 0)); then
		echo "vm_run $name: the guest script exited $rc; its last output:"
		tail -n 8 "$jobdir/script.out" | sed 's/^/    script: /'
	fi
	return "$rc"
}

# ---------------------------------------------------------------- suites

# The suite's TIMEOUT=<s> line (or SUITE_TIMEOUT), times VM_TIMEOUT_SCALE
# (default 1; raise it on a slow or crowded host).
vm_suite_timeout() {
	local t
	t=$(sed -n 's/^TIMEOUT=\([0-9]\+\)[[:space:]]*\(#.*\)\?$/\1/p' "$1" | tail -n 1)
	awk -v t="${t:-$SUITE_TIMEOUT}" -v k="${VM_TIMEOUT_SCALE:-1}" 'BEGIN { printf "%d\n", t * k }'
}

# The suite's KERNEL_ARGS="..." line: extra guest kernel command line options
# (e.g. slub_debug=FZPU for a suite that looks for use-after-free).
vm_suite_kernel_args() {
	sed -n 's/^KERNEL_ARGS="\([^"]*\)"[[:space:]]*\(#.*\)\?$/\1/p' "$1" | tail -n 1
}

# Prints the per-test lines from a results.txt, with reasons and the
# offending kernel lines; counts into SUITE_PASS/SUITE_FAIL/SUITE_SKIP.
vm_report_results() {
	local suite=$1 dir=$2 status name secs reason
	SUITE_PASS=0 SUITE_FAIL=0 SUITE_SKIP=0
	[[ -r "$dir/results.txt" ]] || return 0
	while IFS=$'\t' read -r status name secs reason; do
		case "$status" in
		PASS | XFAIL)
			SUITE_PASS=$((SUITE_PASS + 1))
			if [[ "$status" == XFAIL ]]; then
				echo "PASS $suite/$name (${secs}s; harness self-test caught: $reason)"
			else
				echo "PASS $suite/$name (${secs}s)"
			fi
			;;
		SKIP)
			SUITE_SKIP=$((SUITE_SKIP + 1))
			echo "SKIP $suite/$name: $reason"
			;;
		*)
			SUITE_FAIL=$((SUITE_FAIL + 1))
			echo "FAIL $suite/$name (${secs}s): $reason"
			if [[ -s "$dir/$name.kmsg" ]]; then
				sed 's/^/    kernel: /' "$dir/$name.kmsg" | head -n 15
			fi
			if [[ -s "$dir/$name.out" ]]; then
				echo "    last output ($dir/$name.out):"
				tail -n 8 "$dir/$name.out" | sed 's/^/    | /'
			fi
			;;
		esac
	done <"$dir/results.txt"
}

# run-suite for a guest suite (runs inside one VM).
vm_run_guest_suite() {
	local file=$1 suite dir media timeout rc=0 t0 t1 running bad done_list test
	suite=$(basename "$file" .sh)
	dir="$RESULTS_ROOT/$suite"
	media="$VM_CACHE/run/$suite"
	timeout=$(vm_suite_timeout "$file")
	if [[ -n "${VM_DEADLINE:-}" ]]; then
		local left=$((VM_DEADLINE - $(date +%s)))
		((left < timeout)) && timeout=$left
		if ((timeout < 30)); then
			echo "FAIL $suite: not run, the global time budget (RUN_ALL_TIMEOUT=${RUN_ALL_TIMEOUT}s) is used up"
			SUITE_PASS=0 SUITE_FAIL=1 SUITE_SKIP=0
			return 1
		fi
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	{ vm_files "$media" && vm_files_4kn "$media"; } ||
		{ echo "FAIL $suite: could not create VM media"; SUITE_FAIL=1; return 1; }
	VM_WITH_4KN=1 vm_write_job "$dir" "exec bash \"\$REPO/Tests/vm/guest-runner.sh\" $(printf %q "$(realpath "$file")")"
	t0=$(date +%s)
	if ! VM_APPEND="${VM_APPEND:-} $(vm_suite_kernel_args "$file")" \
		vm_boot "$suite" "$dir" "$media/pmem.img" "$media/vda.img" "$media/vdb.img" \
		"$media/vdc.img,$VM_DISK3_PROPS"; then
		echo "FAIL $suite: the VM did not boot twice in a row (see $dir/console.boot1.log, $dir/console.boot2.log)"
		SUITE_PASS=0 SUITE_FAIL=1 SUITE_SKIP=0
		return 1
	fi
	[[ "${VM_RETRIED[$suite]}" == 0 ]] ||
		echo "NOTE $suite: first boot failed early and was retried once (console.boot1.log)"
	vm_wait "$suite" "$timeout" || rc=$?
	t1=$(date +%s)
	tr -d '\r' <"$dir/console.log" >"$dir/console.tmp" && mv "$dir/console.tmp" "$dir/console.log"
	vm_report_results "$suite" "$dir"
	if [[ ! -s "$dir/results.txt" ]] && ((rc != 124)) && grep -q '^=== SUITE END' "$dir/console.log"; then
		echo "FAIL $suite: the suite ran no test (no test_* function found?)"
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
	if ((rc == 124)); then
		running=$(sed -n 's/^=== RUN \(.*\)$/\1/p' "$dir/console.log" | tail -n 1)
		done_list=$(cut -f2 "$dir/results.txt" 2>/dev/null)
		if [[ -n "$running" ]] && ! grep -qx -- "$running" <<<"$done_list"; then
			echo "FAIL $suite/$running: hung, QEMU killed after the suite timeout of ${timeout}s"
		else
			echo "FAIL $suite: hung outside any test, QEMU killed after ${timeout}s"
		fi
		vm_console_bad_lines "$dir/console.log" 'PCACHE-VM STAGE2' | sed 's/^/    console: /'
		SUITE_FAIL=$((SUITE_FAIL + 1))
	elif ! grep -q '^=== SUITE END' "$dir/console.log"; then
		running=$(sed -n 's/^=== RUN \(.*\)$/\1/p' "$dir/console.log" | tail -n 1)
		echo "FAIL $suite${running:+/$running}: the guest died before the suite ended (kernel panic?)"
		vm_console_bad_lines "$dir/console.log" 'PCACHE-VM STAGE2' | sed 's/^/    console: /'
		grep -E 'Kernel panic|end Kernel panic' "$dir/console.log" | head -n 3 | sed 's/^/    console: /'
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
	# Tests that never ran (after a hang or crash) are not passes.
	if ((rc == 124)) || ! grep -q '^=== SUITE END' "$dir/console.log"; then
		for test in $(grep -oE '^(function[[:space:]]+)?test_[A-Za-z0-9_]+[[:space:]]*\(\)' "$file" |
			sed -E 's/^(function[[:space:]]+)?//; s/[[:space:]]*\(\)$//'); do
			if ! cut -f2 "$dir/results.txt" 2>/dev/null | grep -qx -- "$test" &&
				! grep -qx -- "=== RUN $test" "$dir/console.log"; then
				echo "FAIL $suite/$test: not run (the VM went away earlier)"
				SUITE_FAIL=$((SUITE_FAIL + 1))
			fi
		done
	fi
	echo "---- $suite: $SUITE_PASS passed, $SUITE_FAIL failed, $SUITE_SKIP skipped" \
		"(boot ${VM_BOOT_SECS[$suite]}s, total $((t1 - t0))s; logs in ${dir#"$REPO"/}/)"
	if ((SUITE_FAIL == 0)) && [[ "${VM_KEEP_IMAGES:-0}" != 1 ]]; then
		rm -rf "$media"
	fi
	((SUITE_FAIL == 0))
}

# run-suite for a host-side suite: its test_ functions run on the host, one
# subshell each, and boot VMs through the host-side API.
vm_run_host_suite() {
	local file=$1 suite dir tests test rc t0 t1 reason bad c st pid limit timeout qpid
	suite=$(basename "$file" .sh)
	dir="$RESULTS_ROOT/$suite"
	rm -rf "$dir"
	mkdir -p "$dir"
	: >"$dir/results.txt"
	SUITE_PASS=0 SUITE_FAIL=0 SUITE_SKIP=0
	timeout=$(vm_suite_timeout "$file")
	tests=$(grep -oE '^(function[[:space:]]+)?test_[A-Za-z0-9_]+[[:space:]]*\(\)' "$file" |
		sed -E 's/^(function[[:space:]]+)?//; s/[[:space:]]*\(\)$//')
	[[ -z "${VM_TESTS:-}" ]] || tests=$(grep -E -- "$VM_TESTS" <<<"$tests")
	export SUITE_RESULTS=$dir
	for test in $tests; do
		t0=$(date +%s)
		# Each test gets the suite's TIMEOUT (default SUITE_TIMEOUT), capped by
		# the run-all deadline; a test over its time is killed with its VMs.
		limit=$timeout
		if [[ -n "${VM_DEADLINE:-}" ]] && ((VM_DEADLINE - t0 < limit)); then
			limit=$((VM_DEADLINE - t0))
		fi
		if ((limit < 30)); then
			printf 'FAIL\t%s\t0\t%s\n' "$test" "not run, the global time budget (RUN_ALL_TIMEOUT=${RUN_ALL_TIMEOUT}s) is used up" >>"$dir/results.txt"
			continue
		fi
		: >"$dir/$test.consoles"
		: >"$dir/$test.pids"
		(
			export CURRENT_TEST=$test
			export HOST_TEST_CONSOLES_FILE=$dir/$test.consoles HOST_TEST_PIDS_FILE=$dir/$test.pids
			trap 'vm_kill_all' EXIT
			trap 'echo "FAIL: killed after the test timeout of ${limit}s"; exit 124' TERM
			fail() { echo "FAIL: $*"; exit 1; }
			skip() { echo "SKIP: $*"; exit 77; }
			# shellcheck disable=SC1090
			. "$file"
			rc=0
			if declare -F setup >/dev/null; then
				setup || { echo "FAIL: setup failed"; exit 1; }
			fi
			"$test" || rc=$?
			if declare -F teardown >/dev/null; then
				teardown || echo "teardown failed (ignored)"
			fi
			exit "$rc"
		) >"$dir/$test.out" 2>&1 &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			if (($(date +%s) - t0 >= limit)); then
				kill -TERM "$pid" 2>/dev/null
				sleep 3
				kill -KILL "$pid" 2>/dev/null
				break
			fi
			sleep 0.5
		done
		wait "$pid"
		rc=$?
		# Whatever the test left running (killed, or forgot to wait for).
		while read -r qpid; do
			kill -KILL "$qpid" 2>/dev/null
		done <"$dir/$test.pids"
		t1=$(date +%s)
		bad=
		while read -r c; do
			[[ -n "$c" ]] || continue
			bad+=$(vm_console_bad_lines "$c" 'PCACHE-VM STAGE2' | sed "s|^|${c#"$dir"/}: |")
		done <"$dir/$test.consoles"
		[[ -n "$bad" ]] && echo "$bad" >"$dir/$test.kmsg"
		if ((rc == 0)) && [[ -z "$bad" ]]; then
			st=PASS reason=
		elif ((rc == 77)) && [[ -z "$bad" ]]; then
			st=SKIP reason=$(grep -m1 '^SKIP: ' "$dir/$test.out" | cut -c7-)
		else
			st=FAIL reason=$(grep -m1 '^FAIL: ' "$dir/$test.out" | cut -c7-)
			((rc == 0 || rc == 77)) && reason=
			[[ -n "$reason" || $rc == 0 || $rc == 77 ]] || reason="returned $rc: $(tail -n 1 "$dir/$test.out")"
			if [[ -n "$bad" ]]; then
				reason="kernel log: $(head -n 1 <<<"$bad" | cut -c1-200)${reason:+; test also failed: $reason}"
			fi
		fi
		printf '%s\t%s\t%s\t%s\n' "$st" "$test" "$((t1 - t0))" "$reason" >>"$dir/results.txt"
	done
	vm_report_results "$suite" "$dir"
	echo "---- $suite: $SUITE_PASS passed, $SUITE_FAIL failed, $SUITE_SKIP skipped (host-side suite; logs in ${dir#"$REPO"/}/)"
	((SUITE_FAIL == 0))
}

# Runs one suite file. Two runs of the same suite (two people, one tree)
# would share results/<suite> and the VM media: the second waits its turn.
vm_run_suite() {
	local file=$1 suite lockfd rc
	[[ -r "$file" ]] || vm_die "no such suite: $file"
	suite=$(basename "$file" .sh)
	mkdir -p "$VM_CACHE/run"
	exec {lockfd}>"$VM_CACHE/run/.$suite.lock"
	if ! flock -n "$lockfd"; then
		vm_log "$suite is being run by someone else in this tree; waiting for it"
		flock -w 1800 "$lockfd" || { echo "FAIL $suite: waited 30 min for another run of it"; SUITE_FAIL=1; return 1; }
	fi
	case "$file" in
	*.host.sh) vm_run_host_suite "$file" ;;
	*) vm_run_guest_suite "$file" ;;
	esac
	rc=$?
	exec {lockfd}>&-
	return $rc
}

vm_run_all() {
	local f total_pass=0 total_fail=0 total_skip=0 failed=()
	export VM_DEADLINE=$(($(date +%s) + RUN_ALL_TIMEOUT))
	mkdir -p "$RESULTS_ROOT"
	local table=() t0
	for f in $(ls "$REPO"/Tests/kernel/[0-9]*.sh 2>/dev/null | LC_ALL=C sort); do
		[[ -z "${VM_SUITES:-}" || "$(basename "$f")" =~ ${VM_SUITES} ]] || continue
		echo "==== $(basename "$f")"
		SUITE_PASS=0 SUITE_FAIL=0 SUITE_SKIP=0
		t0=$(date +%s)
		vm_run_suite "$f" || failed+=("$(basename "$f" .sh)")
		table+=("$(printf '%-28s %4d passed %4d failed %4d skipped %6ds' "$(basename "$f" .sh)" \
			"$SUITE_PASS" "$SUITE_FAIL" "$SUITE_SKIP" "$(($(date +%s) - t0))")")
		total_pass=$((total_pass + SUITE_PASS))
		total_fail=$((total_fail + SUITE_FAIL))
		total_skip=$((total_skip + SUITE_SKIP))
	done
	echo "==== kernel suites"
	printf '  %s\n' "${table[@]}"
	printf 'kernel_passed=%d\nkernel_failed=%d\nkernel_skipped=%d\n' \
		"$total_pass" "$total_fail" "$total_skip" >"$RESULTS_ROOT/summary.env"
	echo "==== kernel suites: $total_pass passed, $total_fail failed, $total_skip skipped${failed:+ (failing: ${failed[*]})}"
	((total_fail == 0))
}

vm_main() {
	set -uo pipefail
	trap 'vm_kill_all' EXIT
	trap 'exit 130' INT TERM
	local cmd=${1:-}
	shift || true
	case "$cmd" in
	run-suite)
		(($#)) || vm_die "usage: vm.sh run-suite Tests/kernel/NNN-name.sh..."
		local f rc=0
		for f in "$@"; do vm_run_suite "$f" || rc=1; done
		return $rc
		;;
	run-all) vm_run_all ;;
	prepare)
		vm_initrd >/dev/null && vm_pmem_template >/dev/null && echo "vm: ready"
		;;
	shell)
		local dir="$RESULTS_ROOT/shell" media="$VM_CACHE/run/shell"
		rm -rf "$dir"
		mkdir -p "$dir"
		vm_files "$media" && vm_files_4kn "$media"
		VM_WITH_4KN=1 vm_write_job "$dir" ". \"\$TESTS_DIR/lib.sh\"; lib_guest_prepare; ${*:-echo no command given}"
		vm_boot shell "$dir" "$media/pmem.img" "$media/vda.img" "$media/vdb.img" \
			"$media/vdc.img,$VM_DISK3_PROPS" || return 1
		echo "vm: booted in ${VM_BOOT_SECS[shell]}s; console: $dir/console.log"
		vm_wait shell "$SUITE_TIMEOUT"
		cat "$dir/console.log"
		;;
	*)
		sed -n '3,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		[[ -z "$cmd" || "$cmd" == help || "$cmd" == -h ]] || return 64
		;;
	esac
}

# Run as a command: the whole if-block is parsed before it runs and exits
# inside it, so editing this file during a run cannot derail the run.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	vm_main "$@"
	exit $?
fi
