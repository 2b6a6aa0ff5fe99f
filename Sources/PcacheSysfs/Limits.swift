// SPDX-License-Identifier: Apache-2.0
import CPcacheFormat

/// Limits the kernel enforces, taken from pcache_format.h so both sides share one number.
public enum Limits {
    /// Backing records per cache device. The corresponding constant is `PCACHE_BACKING_MAX`.
    public static let backingMax = UInt32(PCACHE_BACKING_MAX)
    /// Segment size in bytes. The corresponding constant is `PCACHE_SEG_SIZE`.
    public static let segmentSize = UInt64(PCACHE_SEG_SIZE)
    /// Segment size in MiB (cache_size is rounded up to whole segments).
    public static let segmentMiB = UInt64(PCACHE_SEG_SIZE) >> 20
    /// The fewest segments a backing device's cache may have.
    public static let minCacheSegments: UInt64 = 4
    /// The most segments a cache device can have. The corresponding constant is `PCACHE_SEG_MAX`.
    public static let maxSegments = UInt64(PCACHE_SEG_MAX)
    /// Path buffer including its NUL. The corresponding constant is `PCACHE_PATH_LEN`.
    public static let pathLength = Int(PCACHE_PATH_LEN)
    /// Identity buffer including its NUL. The corresponding constant is `PCACHE_IDENT_LEN`.
    public static let identLength = Int(PCACHE_IDENT_LEN)
    /// Valid `cache_gc_percent` values. The corresponding constants are `PCACHE_GC_PERCENT_MIN/MAX`.
    public static let gcPercent = UInt64(PCACHE_GC_PERCENT_MIN)...UInt64(PCACHE_GC_PERCENT_MAX)
    /// Default `cache_gc_percent`.
    public static let gcPercentDefault = UInt64(PCACHE_GC_PERCENT_DEFAULT)
    /// Valid `queues` values. The corresponding constant is `PCACHE_QUEUES_MAX`.
    public static let queues = UInt64(1)...UInt64(PCACHE_QUEUES_MAX)
    /// Valid `cache_size` values in MiB: at least 4 segments after rounding up, at most PCACHE_SEG_MAX.
    public static let cacheSizeMiB = (minCacheSegments - 1) * segmentMiB + 1 ... maxSegments * segmentMiB
}

/// Parses a plain unsigned decimal ("0", "42"); nil for signs, spaces, hex or overflow.
func parseDecimal<S: StringProtocol>(_ text: S) -> UInt64? {
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return UInt64(text)
}
