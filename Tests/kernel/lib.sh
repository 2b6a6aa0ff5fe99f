# SPDX-License-Identifier: Apache-2.0
#
# Helpers for kernel test suites (Tests/kernel/NNN-name.sh). Sourced inside the
# guest by Tests/vm/guest-runner.sh before the suite itself.
#
# Environment: PCACHE_KO, PCACHECTL, PMEM (/dev/pmem0, fsdax), BACKING and
# BACKING2 (/dev/vda, /dev/vdb), TESTS_DIR, RESULTS (shared with the host),
# REPO. Each test runs in its own subshell: `fail` and `skip` end the test.
#
#   fail "why"                       the test fails with this reason
#   skip "why"                       the test is skipped (missing feature)
#   load_module / unload_module      modprobe the deps, insmod $PCACHE_KO / rmmod
#   expect_write_errno EINVAL FILE VALUE   raw write(2), compare the errno
#   expect_write_ok FILE VALUE       same, expecting success
#   as_unprivileged CMD...           run CMD as root without CAP_SYS_ADMIN
#   fresh_format [ARGS...]           "$PCACHECTL" format --force ARGS "$PMEM"
#   kmsg_mark / kmsg_since_mark      kernel log lines logged since the mark
#   expect_kmsg REGEX                the kernel log since the mark matches REGEX
#   require_pcachectl_verb VERB      skip unless pcachectl knows VERB

# In-tree modules pcache.ko needs (loaded with modprobe; pcache.ko itself is
# insmod'ed: depmod takes minutes under emulation).
PCACHE_DEPS=${PCACHE_DEPS:-"libcrc32c"}

fail() {
	echo "FAIL: $*" >&2
	[[ -n "${TEST_REASON_FILE:-}" ]] && printf '%s\n' "$*" >"$TEST_REASON_FILE"
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	[[ -n "${TEST_REASON_FILE:-}" ]] && printf '%s\n' "$*" >"$TEST_REASON_FILE"
	exit 77
}

# ------------------------------------------------------------------ kernel log

# Prints the kernel log records with a sequence number above $1 as
# "<seq> [<seconds>] <message>", reading /dev/kmsg without blocking.
kmsg_after_seq() {
	local after=${1:--1}
	dd if=/dev/kmsg iflag=nonblock bs=65536 status=none 2>/dev/null |
		awk -v after="$after" '
			/^ / { next }    # continuation lines (device dictionary)
			{
				semi = index($0, ";")
				if (semi == 0) next
				split(substr($0, 1, semi - 1), h, ",")
				if (h[2] + 0 <= after + 0) next
				printf "%d [%.6f] %s\n", h[2], h[3] / 1000000, substr($0, semi + 1)
			}'
}

# The newest kernel log sequence number.
kmsg_last_seq() {
	local last
	last=$(kmsg_after_seq -1 | tail -n 1 | cut -d' ' -f1)
	echo "${last:--1}"
}

kmsg_mark() { KMSG_MARK=$(kmsg_last_seq); }

# Kernel log lines since the last kmsg_mark (or the start of the test), as
# "[seconds] message".
kmsg_since_mark() { kmsg_after_seq "${KMSG_MARK:--1}" | cut -d' ' -f2-; }

# expect_kmsg REGEX: the kernel log since the mark has a line matching REGEX.
expect_kmsg() {
	local log
	log=$(kmsg_since_mark)
	grep -Eq -- "$1" <<<"$log" || fail "no kernel log line matching '$1' (log since mark: $(tail -n 3 <<<"$log" | tr '\n' '|'))"
}

# ------------------------------------------------------------------ module

load_module() {
	local m
	for m in $PCACHE_DEPS; do
		modprobe "$m" || fail "modprobe $m failed"
	done
	[[ -r "$PCACHE_KO" ]] || fail "module not built: $PCACHE_KO (run 'make module')"
	if grep -q '^pcache ' /proc/modules; then
		return 0
	fi
	insmod "$PCACHE_KO" "$@" || fail "insmod $PCACHE_KO failed"
}

unload_module() {
	grep -q '^pcache ' /proc/modules || return 0
	rmmod pcache || fail "rmmod pcache failed"
}

module_loaded() { grep -q '^pcache ' /proc/modules; }

# ------------------------------------------------------------------ writes

# expect_write_errno ERRNO FILE VALUE: one write(2) of exactly VALUE (no
# newline added) to FILE must fail with ERRNO (a name: EINVAL, EBUSY, ...).
expect_write_errno() {
	local want=$1 file=$2 value=$3 got
	got=$(pcache-rawwrite "$file" "$value")
	[[ "$got" == "$want" ]] || fail "write '$value' to $file: expected $want, got $got"
}

# expect_write_ok FILE VALUE: the write must succeed.
expect_write_ok() {
	local file=$1 value=$2 got
	got=$(pcache-rawwrite "$file" "$value")
	[[ "$got" == OK ]] || fail "write '$value' to $file: expected success, got $got"
}

# as_unprivileged CMD...: CMD runs as uid 0 but without CAP_SYS_ADMIN, so a
# write to a 0200 sysfs file reaches the store and must be refused with EPERM.
as_unprivileged() { setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin -- "$@"; }

# ------------------------------------------------------------------ pcachectl

pcachectl_has_verb() {
	[[ -x "$PCACHECTL" ]] || return 1
	"$PCACHECTL" --help 2>&1 | grep -Eq "^[[:space:]]+$1([[:space:]]|$)"
}

require_pcachectl_verb() {
	[[ -x "$PCACHECTL" ]] || skip "pcachectl not built ($PCACHECTL; run 'make tool')"
	pcachectl_has_verb "$1" || skip "pcachectl has no '$1' verb yet"
}

# fresh_format [ARGS...]: format $PMEM for pcache, discarding what was there.
fresh_format() {
	require_pcachectl_verb format
	"$PCACHECTL" format --force "$@" "$PMEM" || fail "pcachectl format --force $* $PMEM failed"
}

# ------------------------------------------------------------------ guest setup

# Waits for the standard devices (called by the runner before the suite).
lib_guest_prepare() {
	local i
	for i in $(seq 100); do
		[[ -b /dev/pmem0 && -b /dev/vda && -b /dev/vdb ]] && break
		sleep 0.1
	done
	[[ -b /dev/pmem0 ]] || echo "lib: /dev/pmem0 did not appear" >&2
	[[ -b /dev/vda ]] || echo "lib: /dev/vda did not appear" >&2
	[[ -b /dev/vdb ]] || echo "lib: /dev/vdb did not appear" >&2
	[[ -b /dev/pmem0 && -b /dev/vda && -b /dev/vdb ]]
}

# console_mark TEXT: prints "=== MARK TEXT" on the serial console, where a
# host-side suite can wait for it (vm_wait_for NAME '^=== MARK TEXT'), e.g.
# to cut the power at a chosen moment.
console_mark() { echo "=== MARK $*" >/dev/console; }
