// SPDX-License-Identifier: Apache-2.0
import SystemPackage

/// Index of a cache device on the pcache bus: the N of /sys/bus/pcache/devices/cache_devN.
public struct CacheID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    /// Accepts "cache_dev3" or "3".
    public init?(parsing text: String) {
        let digits = text.hasPrefix("cache_dev") ? String(text.dropFirst("cache_dev".count)) : text
        guard let value = parseDecimal(digits), value <= UInt64(UInt32.max) else { return nil }
        rawValue = UInt32(value)
    }
    public var name: String { "cache_dev\(rawValue)" }
    public var description: String { name }
    public static func < (a: CacheID, b: CacheID) -> Bool { a.rawValue < b.rawValue }
}

/// Index of a backing record inside a cache device: the M of backing_devM, 0..<PCACHE_BACKING_MAX.
public struct BackingID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    /// Accepts "backing_dev2" or "2".
    public init?(parsing text: String) {
        let digits = text.hasPrefix("backing_dev") ? String(text.dropFirst("backing_dev".count)) : text
        guard let value = parseDecimal(digits), value < UInt64(Limits.backingMax) else { return nil }
        rawValue = UInt32(value)
    }
    public var name: String { "backing_dev\(rawValue)" }
    public var description: String { name }
    public static func < (a: BackingID, b: BackingID) -> Bool { a.rawValue < b.rawValue }
}

/// The places pcache lives in sysfs, /dev and /proc, all below one root so tests can use a fake tree.
///
/// On a live system the root is `/`; unit tests build a tree in a temporary directory and pass it.
/// Paths handed to the kernel (device paths in options) are never prefixed with the root.
public struct SysfsTree: Sendable {
    public var root: FilePath
    /// Where kernel log records are read from; nil disables reading the kernel's reasons.
    public var kernelLogPath: FilePath?

    public init(root: FilePath, kernelLogPath: FilePath? = nil) {
        self.root = root
        self.kernelLogPath = kernelLogPath ?? root.appending("dev/kmsg")
    }

    /// The running system.
    public static var system: SysfsTree { SysfsTree(root: "/") }

    /// /sys/bus/pcache. The corresponding kernel object is the `pcache` bus type.
    public var bus: FilePath { root.appending("sys/bus/pcache") }
    /// /sys/bus/pcache/cache_dev_register (0200).
    public var registerFile: FilePath { bus.appending("cache_dev_register") }
    /// /sys/bus/pcache/cache_dev_unregister (0200).
    public var unregisterFile: FilePath { bus.appending("cache_dev_unregister") }
    /// /sys/bus/pcache/devices.
    public var devices: FilePath { bus.appending("devices") }
    /// /sys/module/pcache.
    public var module: FilePath { root.appending("sys/module/pcache") }

    /// /sys/bus/pcache/devices/cache_devN.
    public func cacheDirectory(_ cache: CacheID) -> FilePath { devices.appending(cache.name) }
    /// /sys/bus/pcache/devices/cache_devN/ATTR.
    public func path(_ attribute: CacheAttribute, of cache: CacheID) -> FilePath {
        cacheDirectory(cache).appending(attribute.rawValue)
    }
    /// /sys/bus/pcache/devices/cache_devN/backing_devM.
    public func backingDirectory(_ backing: BackingID, of cache: CacheID) -> FilePath {
        cacheDirectory(cache).appending(backing.name)
    }
    /// /sys/bus/pcache/devices/cache_devN/backing_devM/ATTR.
    public func path(_ attribute: BackingAttribute, of backing: BackingID, in cache: CacheID) -> FilePath {
        backingDirectory(backing, of: cache).appending(attribute.rawValue)
    }
    /// /sys/block/pcacheN.
    public func blockDirectory(mappedID: UInt32) -> FilePath { root.appending("sys/block/pcache\(mappedID)") }
    /// /sys/block/NAME for any disk.
    public func blockDirectory(name: String) -> FilePath { root.appending("sys/block").appending(name) }
    /// /dev/pcacheN below the root (what to open or stat here).
    public func deviceNode(mappedID: UInt32) -> FilePath { root.appending("dev/pcache\(mappedID)") }
    /// /proc below the root.
    public var proc: FilePath { root.appending("proc") }

    /// True when /sys/bus/pcache exists, i.e. the module is loaded.
    public var isModuleLoaded: Bool { fileExists(bus) }

    /// Throws `.moduleNotLoaded` unless the bus exists.
    public func requireModule() throws {
        guard isModuleLoaded else {
            throw SysfsError(code: .moduleNotLoaded, path: bus,
                             message: "the pcache module is not loaded (try 'pcachectl module load')")
        }
    }
}
