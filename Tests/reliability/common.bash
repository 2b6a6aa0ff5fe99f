# SPDX-License-Identifier: Apache-2.0
#
# Helpers shared by the reliability suites (Tests/kernel/06x-*.sh), sourced
# inside the guest after Tests/kernel/lib.sh.
#
#   SOAK                         multiplier for loop counts: 1 in `make test`,
#                                N under `make soak` (kernel command line
#                                pcache_soak=N, set by Tests/soak/run.sh)
#   rel_tool NAME                path of a helper built on the host
#                                (pcache-corrupt) or in the guest (C helpers)
#   rel_kmsg_seq                 newest kernel log sequence number
#   rel_kmsg_problems SEQ        pcache lines at level warning or worse after SEQ
#   rel_write FILE VALUE [SECS]  pcache-rawwrite bounded by a timeout; prints
#                                OK, the errno name, or TIMEOUT
#   rel_teardown                 stop every backing device, unregister every
#                                cache device (errors ignored)
#   rel_snapshot                 every readable pcache sysfs attribute, as
#                                "path<TAB>value" lines (state comparisons)
#   rel_tally NAME N             adds N to counter NAME in $RESULTS/tally.txt

BUS=/sys/bus/pcache
CD0=$BUS/devices/cache_dev0

SOAK=$(sed -n 's/.*pcache_soak=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
SOAK=${SOAK:-1}

rel_tool() {
	local name=$1 f best=
	case "$name" in
	pcache-corrupt)
		for f in "$(dirname "$PCACHECTL")/$name" "$REPO"/.build*/release/"$name"; do
			[[ -x "$f" ]] || continue
			[[ -z "$best" || "$f" -nt "$best" ]] && best=$f
		done
		[[ -n "$best" ]] || for f in "$REPO"/.build*/debug/"$name"; do
			[[ -x "$f" ]] || continue
			[[ -z "$best" || "$f" -nt "$best" ]] && best=$f
		done
		;;
	*)
		# C helpers from Tests/reliability/*.c, compiled once per VM into the overlay.
		best=/tmp/rel-bin/$name
		if [[ ! -x "$best" ]]; then
			mkdir -p /tmp/rel-bin
			gcc -O1 -Wall -o "$best" "$REPO/Tests/reliability/$name.c" -lpthread >&2 || return 1
		fi
		;;
	esac
	[[ -n "$best" ]] || return 1
	echo "$best"
}

rel_kmsg_seq() { kmsg_last_seq; }

# rel_kmsg_problems SEQ: kernel log records after SEQ at level warning (4) or
# more severe that mention pcache, one message per line.
rel_kmsg_problems() {
	dd if=/dev/kmsg iflag=nonblock bs=65536 status=none 2>/dev/null |
		awk -v after="$1" '
			/^ / { next }
			{
				semi = index($0, ";")
				if (semi == 0) next
				split(substr($0, 1, semi - 1), h, ",")
				if (h[2] + 0 <= after + 0) next
				msg = substr($0, semi + 1)
				if ((h[1] % 8) <= 4 && msg ~ /pcache/) print msg
			}'
}

rel_write() {
	local file=$1 value=$2 secs=${3:-60} out
	out=$(timeout -k 5 "$secs" pcache-rawwrite "$file" "$value")
	case $? in
	0) echo "$out" ;;
	124 | 137) echo TIMEOUT ;;
	*) echo "${out:-ERROR}" ;;
	esac
}

rel_teardown() {
	local cd b
	for cd in $BUS/devices/cache_dev*; do
		[[ -d "$cd" ]] || continue
		for b in "$cd"/backing_dev*; do
			[[ -d "$b" ]] || continue
			[[ -n "$(cat "$b/mapped_id" 2>/dev/null)" ]] || continue
			timeout -k 5 120 pcache-rawwrite "$cd/adm" "op=backing-stop,backing_id=${b##*backing_dev}" >/dev/null
		done
		timeout -k 5 60 pcache-rawwrite $BUS/cache_dev_unregister "cache_dev_id=${cd##*cache_dev}" >/dev/null
	done
}

rel_snapshot() {
	local f
	[[ -d $BUS ]] || return 0
	find -L $BUS/devices/ -maxdepth 3 -type f -perm -0400 2>/dev/null | LC_ALL=C sort | while read -r f; do
		case "$f" in
		*/uevent | */stats | */cache_used_segs) continue ;; # change on their own
		esac
		printf '%s\t%s\n' "$f" "$(tr '\n' '|' <"$f" 2>/dev/null)"
	done
}

rel_tally() {
	local name=$1 n=$2
	echo "$name $n" >>"$RESULTS/tally.txt"
}

# dm_backing_table KIND [ARGS]: a device-mapper table over the whole of
# $BACKING: linear | error | flakey UP DOWN (seconds) | delay MS (every I/O)
# | wdelay MS (writes only, reads undelayed).
dm_backing_table() {
	local sectors
	sectors=$(blockdev --getsz "$BACKING")
	case $1 in
	linear) echo "0 $sectors linear $BACKING 0" ;;
	error) echo "0 $sectors error" ;;
	flakey) echo "0 $sectors flakey $BACKING 0 $2 $3" ;;
	delay) echo "0 $sectors delay $BACKING 0 $2" ;;
	wdelay) echo "0 $sectors delay $BACKING 0 0 $BACKING 0 $2" ;;
	esac
}

# dm_backing_switch NAME KIND [ARGS]: load dm_backing_table KIND into the
# device NAME and resume it (no udev: --noudevsync).
dm_backing_switch() {
	local name=$1
	shift
	dmsetup reload --noudevsync "$name" --table "$(dm_backing_table "$@")" || fail "dmsetup reload $* failed"
	timeout 60 dmsetup resume --noudevsync "$name" || fail "dmsetup resume ($*) failed or hung"
}
