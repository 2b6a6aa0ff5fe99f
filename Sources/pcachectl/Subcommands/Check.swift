// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import PcacheFormat

extension PcacheCtl {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a cache device or image for damage, fsck-style (read-only).",
            discussion: """
                Walks both superblock copies, the 64 backing records (both slots), each running or cached \
                (stopped, cache kept) cache's segment chain, segment generations, key_tail and dirty_tail, \
                and the kset log from key_tail; with data_crc on, also the crc of every live cached extent. \
                Prints each problem on its own line with its byte offset, what was found and what was \
                expected, then a summary line.

                Exit status: 0 clean, 2 repairable damage only (the kernel still reads the device, e.g. one \
                damaged copy of a two-copy record or a torn kset at the end of the log), 65 fatal damage \
                (the kernel would refuse the device or a cache on it, or cached data is damaged), 69 no such \
                device, or not a block device or regular file (a FIFO is refused before it is opened), \
                74 I/O error, 77 permission denied.

                EXAMPLES:
                  pcachectl check /dev/pmem0
                  pcachectl check --json cache.img
                """)

        @OptionGroup var output: OutputOptions

        @Flag(help: "Do not read cached data to verify data_crc (metadata only).")
        var skipData = false

        @Argument(help: "A pmem block device such as /dev/pmem0, or an image file.")
        var device: String

        func run() throws {
            var status = ExitStatus.ok
            try runVerb("check") {
                let image = try FileImage(path: device)
                let inspection = try Checker(verifyData: !skipData).inspect(image)
                try output.render(CheckReport(device: device, inspection: inspection))
                switch inspection.worst {
                case nil: status = .ok
                case .repairable: status = .checkRepairable
                case .fatal: status = ExitStatus.checkFatal
                }
            }
            if status != .ok { throw ExitCode(status.rawValue) }
        }
    }
}

/// What `check` found.
struct CheckReport: Report {
    var device: String
    var deviceSizeBytes: UInt64
    var summary: InspectionSummary
    var problems: [ProblemJSON]
    var backings: Int
    /// Records in state running.
    var runningCaches: Int
    /// Records in state cached (stopped with the cache kept: replayed at the next start).
    var cachedCaches: Int
    var ksets: Int
    var keys: Int
    var dataBytesVerified: UInt64
    var bytesRead: UInt64?
    private var lines: [String]
    private var summaryLine: String

    enum CodingKeys: String, CodingKey {
        case device, deviceSizeBytes, summary, problems, backings, runningCaches, cachedCaches, ksets, keys, dataBytesVerified,
             bytesRead
    }

    init(device: String, inspection i: Inspection) {
        self.device = device
        deviceSizeBytes = i.deviceSize
        summary = InspectionSummary(i)
        problems = i.problems.map(ProblemJSON.init)
        backings = i.backings.filter { $0.record.map { $0.state != .free } ?? true }.count
        runningCaches = i.backings.filter { $0.record?.state == .running }.count
        cachedCaches = i.backings.filter { $0.record?.state == .cached }.count
        ksets = i.backings.compactMap(\.log).map(\.ksets).reduce(0, +)
        keys = i.backings.compactMap(\.log).map(\.keys).reduce(0, +)
        dataBytesVerified = i.backings.compactMap(\.log).map(\.dataBytesVerified).reduce(0, +)
        bytesRead = i.bytesRead
        lines = i.backings.filter(\.chainNotInitialised).map {
            "note: backing \($0.id): running, chain not initialised, nothing to replay (the next start initialises a new one)"
        } + i.problems.map(\.description)
        summaryLine = "\(device): \(i.summaryLine)"
            + (i.superblock == nil ? "" : "; \(backings) backing record(s), \(runningCaches) running, \(cachedCaches) cached, "
                                          + "\(ksets) kset(s), \(keys) key(s)")
    }

    var text: String { (lines + [summaryLine]).joined(separator: "\n") }
}
