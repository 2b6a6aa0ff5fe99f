// SPDX-License-Identifier: Apache-2.0
import PcacheSysfs
import SystemPackage
import Testing

@Suite("Backing records") struct RecordsTests {
    @Test("forget builds the exact tokens")
    func forgetTokens() {
        #expect(BackingForgetRequest(backing: BackingID(5)).optionString == "op=backing-forget,backing_id=5")
    }

    @Test("backing_records lines parse, escapes undone, truncation seen")
    func parseLines() throws {
        let text = """
            backing_id=0 state=running init_done=1 started=0 dev=0:0 dev_sectors=204800 ident=wwn-0x5 path=/dev/disk/by-id/a\\x20b
            backing_id=3 state=stopped init_done=0 started=1 dev=254:16 dev_sectors=2097152 ident= path=/dev/vdb
            truncated

            """
        let (records, truncated) = try BackingRecord.parse(text, cache: CacheID(1), path: "/x")
        #expect(truncated)
        #expect(records.count == 2)
        #expect(records[0].path == "/dev/disk/by-id/a b")
        #expect(records[0].ident == "wwn-0x5")
        #expect(records[0].dev == nil)
        #expect(records[0].mayHoldDirtyData)
        #expect(records[0].name == "cache_dev1/backing_dev0")
        #expect(records[1].dev == "254:16")
        #expect(records[1].started && records[1].state == .stopped && !records[1].mayHoldDirtyData)
        #expect(records[1].ident.isEmpty)
    }

    @Test("a cached record holds a cache and, not started, may hold dirty data")
    func cachedState() throws {
        let text = """
            backing_id=2 state=cached init_done=1 started=0 dev=254:0 dev_sectors=8 ident= path=/dev/vda
            backing_id=4 state=cached init_done=1 started=1 dev=254:0 dev_sectors=8 ident= path=/dev/vdb

            """
        let (records, _) = try BackingRecord.parse(text, cache: CacheID(0), path: "/x")
        #expect(records.map(\.state) == [.cached, .cached])
        #expect(records[0].holdsCache && records[0].mayHoldDirtyData)
        #expect(records[1].holdsCache && !records[1].mayHoldDirtyData)
    }

    @Test("malformed lines are refused", arguments: [
        "backing_id=0 state=running", "backing_id=64 state=stopped init_done=0 started=0 dev=0:0 dev_sectors=1 ident= path=/dev/a",
        "backing_id=0 state=free init_done=0 started=0 dev=0:0 dev_sectors=1 ident= path=/dev/a", "garbage",
    ])
    func malformed(_ line: String) {
        #expect(throws: SysfsError.self) { try BackingRecord.parse(line, cache: CacheID(0), path: "/x") }
    }
}
