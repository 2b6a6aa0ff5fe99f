// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheFormat

extension PcacheCtl {
    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show everything on a cache device or image in human form (read-only).",
            discussion: """
                Prints the superblock (both copies), every backing record that is not zero (both slots with \
                their seq and crc status), and for each running or cached (stopped, cache kept) cache its \
                segment chain, generations, key_tail and dirty_tail, and a summary of its kset log, followed \
                by any problems found. \
                --json prints the same with a schema_version; --json also lists every chain segment.

                Exit status: 0 dumped (even with problems: run check to classify them), 65 no usable \
                superblock, 69 no such device, or not a block device or regular file (a FIFO is refused \
                before it is opened), 74 I/O error, 77 permission denied.

                EXAMPLES:
                  pcachectl dump /dev/pmem0
                  pcachectl dump --json cache.img | jq '.backings[0].log'
                """)

        @OptionGroup var output: OutputOptions

        @Argument(help: "A pmem block device such as /dev/pmem0, or an image file.")
        var device: String

        func run() throws {
            var usable = true
            try runVerb("dump") {
                let inspection = try Checker(verifyData: false).inspect(try FileImage(path: device))
                try output.render(DumpReport(device: device, inspection: inspection))
                usable = inspection.superblock != nil
            }
            if !usable { throw ExitCode(ExitStatus.dataError.rawValue) }
        }
    }
}

/// Everything on the device.
struct DumpReport: Report {
    var device: String
    var deviceSizeBytes: UInt64
    var superblock: SuperblockJSON
    var backings: [BackingJSON]
    var summary: InspectionSummary
    var problems: [ProblemJSON]
    private var inspection: Inspection

    enum CodingKeys: String, CodingKey { case device, deviceSizeBytes, superblock, backings, summary, problems }

    init(device: String, inspection i: Inspection) {
        self.device = device
        deviceSizeBytes = i.deviceSize
        superblock = SuperblockJSON(i)
        backings = i.backings.map { BackingJSON($0, full: true) }
        summary = InspectionSummary(i)
        problems = i.problems.map(ProblemJSON.init)
        inspection = i
    }

    var text: String {
        let i = inspection
        var out = ["device \(device): \(i.deviceSize) bytes (\(formatBytes(i.deviceSize)))", "", "superblock:"]
        for (n, s) in i.superblockCopies.enumerated() {
            var line = "  copy \(n) @\(Layout.superblockOffset(copy: n)): \(s.name)"
            if let r = s.record { line += " crc \(hexString(r.storedCRC))" }
            if let e = s.error { line += " (\(e.reason))" }
            if i.superblockSlot == n { line += " (in use)" }
            out.append(line)
        }
        if let sb = i.superblock {
            var f = Fields(indent: "  ")
            f.add("version", sb.version)
            f.add("flags", hexString(sb.flags))
            f.add("features", "compat \(hexString(sb.featureCompat)) ro_compat \(hexString(sb.featureRoCompat)) "
                  + "incompat \(hexString(sb.featureIncompat))")
            f.add("uuid", sb.uuidString)
            f.add("label", sb.label.isEmpty ? "(none)" : sb.label)
            f.add("seg_num", "\(sb.segmentCount) x \(formatBytes(UInt64(sb.segmentSize))) from byte \(sb.segmentsOffset)")
            f.add("backing_max", sb.backingMax)
            f.add("dev_size", "\(sb.deviceSize) bytes (\(formatBytes(sb.deviceSize)))")
            f.add("usable", "\(sb.usableBytes) bytes (\(formatBytes(sb.usableBytes)))")
            f.add("format_time", sb.formatTime)
            out.append(f.text)
            out.append("")
            let inUse = i.backings.filter { $0.record.map { $0.state != .free } ?? true }.count
            out.append("backing records: \(i.backings.count) written, \(inUse) in use")
            for b in i.backings { out += backingLines(b) }
        }
        out.append("")
        out.append("problems: \(i.summaryLine)")
        out += i.problems.map { "  " + $0.description }
        return out.joined(separator: "\n")
    }

    private func backingLines(_ b: BackingInspection) -> [String] {
        var out = ["  backing \(b.id): " + (b.record.map { ($0.state?.phrase ?? "state \($0.stateValue)") + " " + ($0.path ?? "?") }
                                             ?? "no valid copy")]
        for n in b.copies.slots.indices { out.append("    " + copyLine(b.copies, n)) }
        guard let r = b.record else { return out }
        var f = Fields(indent: "    ")
        f.add("ident", (r.ident ?? "?").isEmpty ? "(none)" : r.ident ?? "?")
        f.add("dev_sectors", "\(r.deviceSectors) (\(formatBytes(r.deviceSectors &* 512)))")
        f.add("flags", hexString(r.flags) + (r.dataCRC ? " data_crc" : "") + (r.initDone ? " init_done" : ""))
        f.add("gc_percent", r.gcPercent)
        f.add("queues", r.queues)
        f.add("first_seg", r.firstSegment)
        f.add("cache_segs", "\(r.cacheSegments) (\(formatBytes(UInt64(r.cacheSegments) * Layout.segmentDataSize)) of data area)")
        f.add("start_time", r.startTime)
        out.append(f.text)
        if b.chainNotInitialised { out.append("    chain not initialised (no init_done flag), nothing to replay") }
        if r.state == .cached && r.initDone {
            out.append("    cache kept at the stop: the next start replays it; the disk alone lacks its dirty data")
        }
        for (name, c) in [("key_tail", b.keyTail), ("dirty_tail", b.dirtyTail)] {
            guard let c else { continue }
            let pos = c.latest.map { "\($0.record.cacheSegment):\($0.record.segmentOffset)" } ?? "none"
            out.append("    \(name): \(pos)")
            for n in c.slots.indices { out.append("      " + copyLine(c, n)) }
        }
        if !b.chain.isEmpty {
            out.append("    chain (\(b.chain.count) segments): \(foldRuns(b.chain.map(\.segment)))")
            let shown = b.chain.prefix(16).map { "\($0.index):\($0.generation)" }.joined(separator: " ")
            out.append("    generations: " + shown + (b.chain.count > 16 ? " (\(b.chain.count - 16) more)" : ""))
            for e in b.chain where e.info.slots.contains(where: { $0.error != nil }) || e.gen.slots.contains(where: { $0.error != nil }) {
                out.append("    segment \(e.segment) (chain index \(e.index)):")
                for n in e.info.slots.indices { out.append("      info " + copyLine(e.info, n)) }
                for n in e.gen.slots.indices { out.append("      gen " + copyLine(e.gen, n)) }
            }
        }
        if let l = b.log {
            out.append("    log: \(l.ksets) kset(s), \(l.keys) key(s) (\(l.dirtyKeys) dirty, \(l.cleanKeys) clean, "
                       + "\(l.staleKeys) stale), \(formatBytes(l.liveBytes)) live data")
            out.append("    key segments (chain indexes, log order): \(l.keySegments.map(String.init).joined(separator: " -> "))")
            out.append("    log end: \(l.endSegment):\(l.endOffset) (\(l.endsClean ? "zero header" : "damaged header")), "
                       + "dirty_tail \(l.dirtyTailReached ? "on the log" : "NOT on the log")")
            for d in l.damage {
                out.append("    DAMAGE: log ends at \(d.endSegment):\(d.endOffset), a valid kset of this log follows at "
                           + "\(d.endSegment):\(d.resumeOffset); \(d.dirtyKeysBehind) dirty key(s) behind it")
            }
        }
        return out
    }
}
