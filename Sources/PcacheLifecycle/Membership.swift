// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which backing records a disk belongs to, decided as the kernel decides at `backing start`: the disk started on
/// the record; else the ident when both sides have one; else the device last started on it; else its path.
public struct RecordMembership: Sendable, Equatable {
    public var record: BackingRecord
    /// Dirty bytes of a started record's cache; nil when not started.
    public var dirtyBytes: UInt64?
    /// /dev/pcacheN of a started record.
    public var deviceNode: String?

    public init(record: BackingRecord, dirtyBytes: UInt64? = nil, deviceNode: String? = nil) {
        self.record = record
        self.dirtyBytes = dirtyBytes
        self.deviceNode = deviceNode
    }

    /// Every record of every registered cache device, and what kept records from being listed: a cache
    /// device whose list cannot be read (not root: the attribute is 0400) or was cut short by the kernel.
    /// Empty when the module is not loaded.
    public static func allRecords(tree: SysfsTree) -> (records: [BackingRecord], problems: [String]) {
        guard tree.isModuleLoaded else { return ([], []) }
        let caches: [CacheID]
        do { caches = try tree.cacheIDs() } catch { return ([], ["cache devices cannot be listed: \(error)"]) }
        var records: [BackingRecord] = []
        var problems: [String] = []
        for cache in caches {
            do {
                guard let listing = try tree.backingRecordListing(of: cache) else {
                    problems.append("\(cache): this module does not list its backing records")
                    continue
                }
                records += listing.records
                if listing.truncated {
                    problems.append("\(cache): the kernel's list of backing records is truncated, records are missing")
                }
            } catch {
                problems.append("\(cache): backing records unreadable: \(error)")
            }
        }
        return (records, problems)
    }

    /// The records among `records` that belong to `disk`: those the kernel would relate to the disk at
    /// `backing start` (backing_record_relation()): the record the disk is started on; the same ident; when
    /// both have an ident and they differ, only a path naming the disk (a weaker claim the kernel still
    /// counts); else the device last started on it, or a path that names the disk (the same string, or a
    /// node that resolves to the disk's device number).
    public static func of(_ disk: DiskIdentity, records: [BackingRecord], tree: SysfsTree) -> [RecordMembership] {
        let devText = (try? tree.readLine(tree.blockDirectory(name: disk.name).appending("dev")))?
            .trimmingCharacters(in: " \n")
        let diskDev: dev_t? = devText.flatMap { text in
            let parts = text.split(separator: ":").compactMap { UInt32($0) }
            return parts.count == 2 ? deviceNumber(major: parts[0], minor: parts[1]) : nil
        }
        return records.filter { r in
            if r.started, let dev = r.dev { return dev == devText }
            let byName = r.path == disk.node ||
                (diskDev != nil && DeviceProbe.deviceNumber(r.path) == diskDev)
            if !r.ident.isEmpty, let ident = disk.ident?.string {
                return ident == r.ident || byName
            }
            if let dev = r.dev, dev == devText { return true }
            return byName
        }.map { r in
            var m = RecordMembership(record: r, dirtyBytes: nil, deviceNode: nil)
            if r.started, let b = try? tree.backingDevice(r.id, in: r.cache) {
                m.dirtyBytes = b.stats.dirtyBytes
                m.deviceNode = b.deviceName
            }
            return m
        }
    }

    /// "cache_dev0/backing_dev1 (running as /dev/pcache0, 4.0 MiB dirty)" and the like.
    public var summary: String {
        let r = record
        let what: String
        if r.started {
            what = "started as \(deviceNode ?? "?")" + (dirtyBytes.map { ", \(formatBytes($0)) dirty" } ?? "")
        } else if r.state == .cached && r.initDone {
            what = "stopped, cache kept (may hold dirty data): replayed at its next start; the disk alone is not current, 'backing stop --flush' hands it back"
        } else if r.mayHoldDirtyData {
            what = "not started, stopped uncleanly: may hold dirty data, replayed at its next start; the disk alone is not current"
        } else if r.state == .running {
            what = "not started, cache never initialised: no cached data"
        } else {
            what = "stopped with flush: no cached data, the disk is current"
        }
        return "\(r.name) (\(what))"
    }
}
