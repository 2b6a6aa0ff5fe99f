#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Coverage-guided fuzzing of the on-media decoder and checker with libFuzzer.
#   Tests/fuzz/run.sh [seconds]     (default 60; `make fuzz` runs it, `make test` a short run)
# Builds Sources/PcacheFormat + Tests/fuzz/FuzzDecoder.swift with swiftc -sanitize=fuzzer,address into
# .build-fuzz/, keeps the growing corpus in .build-fuzz/corpus (seeded from Tests/fuzz/seeds) and writes
# crash reproducers to .build-fuzz/crash-*. Exit status 0 = no crash in the time given.
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.build-fuzz
inc=$root/Sources/CPcacheFormat/include
mkdir -p "$out/corpus" "$out/module"

# A module map for the C target, as SwiftPM would generate it.
cat > "$out/module/module.modulemap" <<MAP
module CPcacheFormat {
    header "$inc/pcache_format.h"
    header "$inc/pcache_crc32c.h"
    export *
}
MAP

srcs=("$root"/Sources/PcacheFormat/*.swift "$root/Tests/fuzz/FuzzDecoder.swift")
bin=$out/fuzz-decoder
if [ ! -x "$bin" ] || [ -n "$(find "${srcs[@]}" "$inc" "$root/Sources/CPcacheFormat/crc32c_hw.c" -newer "$bin" 2>/dev/null)" ]; then
    echo "fuzz: building $bin" >&2
    if ! { clang -O1 -g -fsanitize=fuzzer-no-link,address -I "$inc" -c "$root/Sources/CPcacheFormat/crc32c_hw.c" \
               -o "$out/crc32c_hw.o" &&
           swiftc -O -g -parse-as-library -sanitize=fuzzer,address -module-name PcacheFuzz \
               -I "$out/module" "${srcs[@]}" "$out/crc32c_hw.o" -o "$bin"; } >"$out/build.log" 2>&1; then
        grep -v 'ld.gold: warning: Cannot export local symbol' "$out/build.log" >&2
        echo "fuzz: build FAILED" >&2
        exit 1
    fi
fi
cp -n "$root"/Tests/fuzz/seeds/* "$out/corpus/" 2>/dev/null || true
echo "fuzz: running for ${seconds}s" >&2
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus" 2>&1 | grep -v '^#[0-9]*\s*\(NEW\|REDUCE\|pulse\)' | tail -n 20
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "fuzz: FAILED (status $status); reproducers: $(ls "$out"/crash-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | tr '\n' ' ')" >&2
    exit 1
fi
echo "fuzz: passed, no crash in ${seconds}s" >&2
