// SPDX-License-Identifier: Apache-2.0
import Foundation
import PcacheFormat
import Testing

/// Measurements recorded in Docs/format.md. They only run when asked, in a release build:
///   PCACHE_BENCH=1 swift test -c release --filter Benchmarks
///   PCACHE_BENCH_IMAGE=/tmp/full-4g.img swift test -c release --filter Benchmarks   (writes the image)
@Suite("Benchmarks") struct Benchmarks {
    static var enabled: Bool { ProcessInfo.processInfo.environment["PCACHE_BENCH"] == "1" }
    static var imagePath: String? { ProcessInfo.processInfo.environment["PCACHE_BENCH_IMAGE"] }

    /// Wall-clock seconds of `body`.
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// CPU seconds of this thread in `body` (the build machine is shared: wall time overstates).
    func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    @Test("CRC32C throughput of both implementations", .enabled(if: enabled))
    func crcThroughput() throws {
        var g = SplitMix(seed: 1)
        let buffer = (0..<(64 << 20)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        for impl in CRC32C.Implementation.allCases where impl == .table || CRC32C.hardwareAvailable {
            var crc: UInt32 = 0
            let rounds = impl == .hardware ? 16 : 4
            let t = cpuSeconds {
                buffer.withUnsafeBytes { b in
                    for _ in 0..<rounds { crc = CRC32C.checksum(b, seed: crc, implementation: impl) }
                }
            }
            let rate = Double(buffer.count * rounds) / t
            print("crc32c \(impl.rawValue): \(String(format: "%.0f", rate / 1e6)) MB/s (\(rounds) x 64 MiB in \(String(format: "%.3f", t)) s of CPU, crc \(crc))")
        }
    }

    @Test("synthesize a fully used 4 GiB cache image", .enabled(if: imagePath != nil))
    func fullImage() throws {
        let path = try #require(Self.imagePath)
        let size: UInt64 = 4 << 30
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.truncate(atOffset: size)
        try h.close()
        let image = try FileImage(path: path, writable: true)
        try Formatter(label: "bench-4g").format(image)
        var writer = try CacheWriter(image: image)
        let segs = writer.superblock.segmentCount
        var log = try writer.startCache(id: 0, path: "/dev/vda", deviceSectors: 64 << 21, cacheSegments: segs,
                                        flags: BackingRecord.dataCRCFlag)
        var g = SplitMix(seed: 4)
        let pool = (0..<(1 << 20) + 4096).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        var keys = 0
        let t = try seconds {
            try pool.withUnsafeBytes { p in
                while true {
                    let start = (keys * 4096 + keys * 8) % (1 << 20)
                    let ok = try log.cache(UnsafeRawBufferPointer(rebasing: p[start..<start + 4096]), at: UInt64(keys) * 4096)
                    if !ok { break }
                    keys += 1
                }
            }
            try log.flush()
            try image.sync()
        }
        print("synthesized \(path): \(segs) segments, \(keys) keys of 4 KiB, \(log.ksetPositions.count) ksets in \(String(format: "%.1f", t)) s")
        let c = seconds { _ = try? Checker().inspect(try FileImage(path: path)) }
        print("in-process check: \(String(format: "%.2f", c)) s")
    }
}
