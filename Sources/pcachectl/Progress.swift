// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
#if canImport(Glibc)
import Glibc
#endif

/// Samples a backing device's dirty_bytes on a thread of its own while the main thread waits in the
/// kernel (a stop with flush=1 drains inside its sysfs write), drawing a progress bar on stderr or
/// printing one JSON line per sample on stdout. The thread never takes SIGINT or SIGTERM: a Ctrl-C
/// reaches the main thread's write, which the kernel then ends with EINTR.
final class ProgressSampler: @unchecked Sendable {
    let device: BackingDevice
    private let tree: SysfsTree
    private let interval: Double
    private let json: Bool
    private let bar: Bool
    private var lock = pthread_mutex_t()
    private var stopping = false
    private var last: UInt64?
    private var drawn = false
    private var thread: pthread_t?

    init(tree: SysfsTree, device: BackingDevice, interval: Double, json: Bool, bar: Bool) {
        self.tree = tree
        self.device = device
        self.interval = interval
        self.json = json
        self.bar = bar
        pthread_mutex_init(&lock, nil)
        last = device.stats.dirtyBytes

        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        sigaddset(&blocked, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)	// inherited by the new thread only
        var t = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        if pthread_create(&t, nil, { raw in
            let sampler = Unmanaged<ProgressSampler>.fromOpaque(raw!).takeRetainedValue()
            sampler.loop()
            return nil
        }, context) == 0 {
            thread = t
        } else {
            Unmanaged<ProgressSampler>.fromOpaque(context).release()
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    private var isStopping: Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return stopping
    }

    private func loop() {
        let start = last ?? 0
        let began = monotonic()
        while !isStopping {
            // the device directory goes away once the drain is over and the teardown begins
            guard let now = (try? tree.backingDevice(device.id, in: device.cache))?.stats.dirtyBytes else { break }
            pthread_mutex_lock(&lock)
            last = now
            let elapsed = monotonic() - began
            if bar {
                drawProgress(start: start, now: now, elapsed: elapsed)
                drawn = true
            } else if json {
                let written = start > now ? start - now : 0
                let eta = etaSeconds(start: start, now: now, elapsed: elapsed)
                print(JSON.document([("event", .string("progress")), ("device", .string(device.deviceName)),
                                     ("dirty_bytes", .int(now)), ("written_bytes", .int(written)),
                                     ("rate_bytes_per_second", .double(elapsed > 0 ? Double(written) / elapsed : 0)),
                                     ("eta_seconds", .optional(eta.map { UInt64($0) })),
                                     ("elapsed_seconds", .double(elapsed))]).render(pretty: false))
                fflush(nil)
            }
            pthread_mutex_unlock(&lock)
            var left = interval
            while left > 0, !isStopping {
                usleep(UInt32(min(left, 0.05) * 1_000_000))
                left -= 0.05
            }
        }
    }

    /// Ends the sampling and returns the last dirty_bytes seen.
    func finish() -> UInt64? {
        pthread_mutex_lock(&lock)
        stopping = true
        pthread_mutex_unlock(&lock)
        if let thread { pthread_join(thread, nil) }
        thread = nil
        if drawn { printError("") }
        drawn = false
        return last
    }
}
