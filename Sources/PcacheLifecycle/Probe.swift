// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// What a block device is to pcache, for udev (`pcachectl probe --udev`) and autostart.
/// Fast and side-effect free: reads one superblock, sysfs and the configuration.
public struct DeviceProbe {
    public enum Role: String, Sendable {
        /// A pmem device with a valid pcache superblock.
        case cacheDev = "cache_dev"
        /// The pcache magic is present but no superblock copy is valid.
        case damagedCacheDev = "damaged_cache_dev"
        /// A disk named by a [backing] section of the configuration.
        case backingDev = "backing_dev"
        /// /dev/pcacheN.
        case cachedDev = "cached_dev"
    }

    public var node: String
    public var role: Role?
    /// udev properties to import, in order.
    public var properties: [(String, String)] = []
    /// Configuration sections this device takes part in (autostart applies them).
    public var sections: [String] = []

    /// - Parameters:
    ///   - node: the device node udev passes ($devnode).
    ///   - config: the configuration, nil when there is none.
    ///   - environment: the udev event's properties (ID_FS_TYPE tells whether blkid found something).
    public init(node: String, config: PcacheConfig?, tree: SysfsTree = .system, environment: [String: String] = [:]) throws {
        self.node = node
        let name = FilePath(node).lastComponent?.string ?? node
        if name.hasPrefix("pcache"), let n = UInt32(name.dropFirst("pcache".count)) {
            guard tree.isModuleLoaded,
                  let backing = try? tree.snapshot().flatMap(\.backing).first(where: { $0.mappedID == n }) else { return }
            role = .cachedDev
            properties.append(("PCACHE_ROLE", Role.cachedDev.rawValue))
            properties.append(("PCACHE_BACKING", backing.path))
            properties.append(("PCACHE_CACHE_DEV", backing.cache.name))
            if let entry = config?.backings.first(where: { $0.device.string == backing.path }) {
                properties.append(("PCACHE_NAME", entry.name))
                sections.append(entry.name)
            }
            return
        }
        switch try SuperblockReader.read(node) {
        case .pcache(let sb):
            role = .cacheDev
            properties.append(("PCACHE_ROLE", Role.cacheDev.rawValue))
            properties.append(("PCACHE_CACHE_UUID", sb.uuid))
            if !sb.label.isEmpty { properties.append(("PCACHE_CACHE_LABEL", sb.label)) }
            if (environment["ID_FS_TYPE"] ?? "").isEmpty {
                // Nothing else claimed the device: tell blkid-driven tools it is in use, as probe-bcache does.
                properties.append(("ID_FS_TYPE", "pcache"))
                properties.append(("ID_FS_USAGE", "other"))
                properties.append(("ID_FS_UUID", sb.uuid))
                properties.append(("ID_FS_UUID_ENC", sb.uuid))
            }
            if let cache = config?.caches.first(where: { $0.uuid == sb.uuid.lowercased() }) {
                properties.append(("PCACHE_NAME", cache.name))
                sections.append(cache.name)
                sections += config!.backings.filter { $0.cache == cache.name }.map(\.name)
            }
            return
        case .damaged(let reason):
            role = .damagedCacheDev
            properties.append(("PCACHE_ROLE", Role.damagedCacheDev.rawValue))
            properties.append(("PCACHE_REASON", reason))
            return
        case .foreign:
            break
        }
        let identity = try? DeviceInventory.identity(of: node)
        // A disk whose record keeps a cache it is not started on: the disk alone is not current (it lacks the
        // dirty data). PCACHE_MEMBER lets the rule keep systemd and automounters off it (SYSTEMD_READY=0).
        if let identity, tree.isModuleLoaded {
            let held = RecordMembership.of(identity, records: RecordMembership.allRecords(tree: tree).records, tree: tree)
                .filter { $0.record.mayHoldDirtyData }
            if let member = held.first {
                role = .backingDev
                properties.append(("PCACHE_ROLE", Role.backingDev.rawValue))
                properties.append(("PCACHE_MEMBER", member.record.name))
                properties.append(("PCACHE_MEMBER_STATE", member.record.state.rawValue))
            }
        }
        guard let config else { return }
        let rdev = Self.deviceNumber(node)
        for entry in config.backings {
            let samePath = entry.device.string == node || (rdev != nil && Self.deviceNumber(entry.device.string) == rdev)
            let sameIdent = entry.ident != nil && identity?.ident == entry.ident
            if samePath || sameIdent {
                if role != .backingDev {
                    role = .backingDev
                    properties.append(("PCACHE_ROLE", Role.backingDev.rawValue))
                }
                properties.append(("PCACHE_NAME", entry.name))
                properties.append(("PCACHE_CACHE", entry.cache))
                sections.append(entry.name)
                return
            }
        }
    }

    static func deviceNumber(_ path: String) -> dev_t? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFBLK else { return nil }
        return st.st_rdev
    }

    /// Backing sections whose cache (by superblock uuid) and disk are both present: what autostart may apply.
    public static func readySections(_ config: PcacheConfig, among names: [String], tree: SysfsTree = .system) -> [String] {
        let applier = Applier(tree: tree)
        var ready: [String] = []
        for backing in config.backings where names.contains(backing.name) || names.contains(backing.cache) {
            guard let cache = config.cache(named: backing.cache) else { continue }
            let cachePresent = (tree.isModuleLoaded && (try? tree.findCache(cache.uuid)) != nil)
                || applier.locate(cache: cache) != nil
            if cachePresent, deviceNumber(backing.device.string) != nil { ready.append(backing.name) }
        }
        return ready
    }
}
