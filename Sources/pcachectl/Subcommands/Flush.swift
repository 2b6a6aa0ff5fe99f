// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheLifecycle
import PcacheSysfs
#if canImport(Glibc)
import Glibc
#endif

extension PcacheCtl {
    struct Flush: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until a backing device has no dirty data left in the cache.",
            discussion: """
                Writeback runs in the kernel; this verb watches dirty_bytes in the device's stats and shows a \
                progress bar with an ETA on a terminal. Ctrl-C stops waiting (exit 75) and changes nothing: \
                writeback goes on in the kernel.

                EXAMPLES:
                  pcachectl flush /dev/pcache0 --wait
                  pcachectl flush /dev/pcache0 --wait --timeout 600
                  pcachectl flush /dev/pcache0          # just report dirty bytes
                """)

        @Argument(help: "/dev/pcacheN, pcacheN, cache_devN/backing_devM or the backing disk's path.") var device: String
        @Flag(help: "Wait until dirty_bytes reaches 0.") var wait = false
        @Option(help: "Give up after this many seconds (0 = no limit).") var timeout: Double = 0
        @Option(help: "Seconds between samples.") var interval: Double = 0.5
        @OptionGroup var output: JSONOption

        func validate() throws {
            guard interval >= 0.05, interval <= 60 else { throw ValidationError("--interval must be 0.05...60 seconds") }
            guard timeout >= 0 else { throw ValidationError("--timeout must not be negative") }
        }

        func run() throws {
            try runControl("flush") {
                let tree = controlTree
                let first = try tree.findBacking(device)
                guard let startDirty = first.stats.dirtyBytes else {
                    throw LifecycleError(.notFound, "the kernel reports no dirty_bytes for \(first.deviceName) (stats is empty)")
                }
                guard wait else {
                    report(dirty: startDirty, device: first, waited: 0, done: startDirty == 0)
                    return
                }
                catchInterrupts()
                let started = monotonic()
                var dirty = startDirty
                let bar = stderrIsTerminal && !output.json && startDirty > 0
                while dirty > 0 {
                    if interruptRequested != 0 {
                        if bar { printError("") }
                        throw LifecycleError(.timeout, "interrupted with \(formatBytes(dirty)) still dirty on \(first.deviceName); writeback continues in the kernel")
                    }
                    let elapsed = monotonic() - started
                    if timeout > 0, elapsed >= timeout {
                        if bar { printError("") }
                        throw LifecycleError(.timeout, "\(formatBytes(dirty)) still dirty on \(first.deviceName) after \(Int(timeout)) s")
                    }
                    if bar { progress(start: startDirty, now: dirty, elapsed: elapsed) }
                    interruptibleSleep(interval)
                    let now = try tree.backingDevice(first.id, in: first.cache)
                    dirty = now.stats.dirtyBytes ?? 0
                }
                if bar { progress(start: startDirty, now: 0, elapsed: monotonic() - started); printError("") }
                report(dirty: 0, device: first, waited: monotonic() - started, done: true)
            }
        }

        func report(dirty: UInt64, device: BackingDevice, waited: Double, done: Bool) {
            if output.json {
                print(JSON.document([("device", .string(device.deviceName)), ("dirty_bytes", .int(dirty)),
                                     ("clean", .bool(done)), ("waited_seconds", .double(waited))]).render())
            } else if done {
                print("\(device.deviceName): clean")
            } else {
                print("\(device.deviceName): \(formatBytes(dirty)) dirty (\(dirty) bytes); use --wait to wait for writeback")
            }
        }

        func progress(start: UInt64, now: UInt64, elapsed: Double) {
            drawProgress(start: start, now: now, elapsed: elapsed)
        }
    }
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// "[#####-----] 50% 1.0 GiB dirty, ETA 2:05" on stderr, redrawn in place.
func drawProgress(start: UInt64, now: UInt64, elapsed: Double) {
    let doneBytes = start > now ? start - now : 0
    let fraction = start == 0 ? 1 : Double(doneBytes) / Double(start)
    let width = 30
    let filled = Int((fraction * Double(width)).rounded(.down))
    var eta = "--:--"
    if let seconds = etaSeconds(start: start, now: now, elapsed: elapsed) {
        eta = "\(seconds / 60):" + (seconds % 60 < 10 ? "0" : "") + "\(seconds % 60)"
    }
    let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
    let line = Array("\r[\(bar)] \(Int(fraction * 100))% \(formatBytes(now)) dirty, ETA \(eta)   ".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Seconds until `now` bytes are written at the rate seen so far; nil before anything was written.
func etaSeconds(start: UInt64, now: UInt64, elapsed: Double) -> Int? {
    guard start > now, elapsed > 0 else { return nil }
    let rate = Double(start - now) / elapsed
    return Int((Double(now) / rate).rounded())
}
