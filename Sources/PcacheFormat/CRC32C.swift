// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) with the kernel's raw semantics: the register
/// starts at the seed and is not inverted at the end, so `CRC32C.checksum(bytes, seed: s)` equals the
/// kernel's `crc32c(s, bytes, n)`. Every on-media CRC uses seed `PCACHE_CRC_SEED`.
///
/// Uses the SSE4.2 `crc32` instruction when the CPU has it and a slicing-by-8 table otherwise.
public enum CRC32C {
    /// The seed of every on-media CRC. The corresponding C macro is `PCACHE_CRC_SEED`.
    public static let mediaSeed = UInt32(PCACHE_CRC_SEED)

    /// Whether this CPU computes CRC32C with the SSE4.2 instruction.
    public static let hardwareAvailable: Bool = pcache_crc32c_hw_available() != 0

    /// Which implementation `checksum` uses.
    public enum Implementation: String, Sendable, CaseIterable { case hardware, table }

    /// The implementation `checksum` picks on this CPU.
    public static var preferred: Implementation { hardwareAvailable ? .hardware : .table }

    /// Updates `crc` over `bytes`.
    /// - Parameters:
    ///   - bytes: the data.
    ///   - seed: the starting register, `PCACHE_CRC_SEED` for on-media structures.
    ///   - implementation: force one implementation (tests and benchmarks); nil picks the fastest.
    /// - Returns: the register after the last byte, not inverted.
    public static func checksum(
        _ bytes: UnsafeRawBufferPointer, seed: UInt32 = mediaSeed, implementation: Implementation? = nil
    ) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return seed }
        switch implementation ?? preferred {
        case .hardware where hardwareAvailable:
            return pcache_crc32c_hw(seed, base, bytes.count)
        case .hardware, .table:
            return tableChecksum(seed, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
    }

    /// Updates `crc` over a byte collection; see `checksum(_:seed:implementation:)`.
    public static func checksum<C: Collection<UInt8>>(
        _ bytes: C, seed: UInt32 = mediaSeed, implementation: Implementation? = nil
    ) -> UInt32 {
        if let crc = bytes.withContiguousStorageIfAvailable({
            checksum(UnsafeRawBufferPointer($0), seed: seed, implementation: implementation)
        }) {
            return crc
        }
        return Array(bytes).withUnsafeBytes { checksum($0, seed: seed, implementation: implementation) }
    }

    /// 8 tables of 256 entries: table k maps a byte to its contribution k bytes further on.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c >> 1) ^ ((c & 1) != 0 ? 0x82F6_3B78 : 0) }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    private static func tableChecksum(_ seed: UInt32, _ p: UnsafePointer<UInt8>, _ count: Int) -> UInt32 {
        tables.withUnsafeBufferPointer { t in
            var crc = seed
            var i = 0
            while count - i >= 8 {
                let lo = UInt32(p[i]) | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2]) << 16 | UInt32(p[i + 3]) << 24
                let hi = UInt32(p[i + 4]) | UInt32(p[i + 5]) << 8 | UInt32(p[i + 6]) << 16 | UInt32(p[i + 7]) << 24
                let x = crc ^ lo
                crc = t[7 * 256 + Int(x & 0xFF)] ^ t[6 * 256 + Int((x >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((x >> 16) & 0xFF)] ^ t[4 * 256 + Int(x >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < count {
                crc = (crc >> 8) ^ t[Int((crc ^ UInt32(p[i])) & 0xFF)]
                i += 1
            }
            return crc
        }
    }
}
