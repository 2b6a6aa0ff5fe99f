// SPDX-License-Identifier: Apache-2.0
import PcacheLifecycle
import PcacheSysfs
import Testing

@Suite("Configuration file") struct ConfigTests {
    static let sample = """
        # comment
        [cache fast]
        uuid = 0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0   # trailing comment

        [backing data]
        cache = fast
        device = /dev/disk/by-id/virtio-data1
        ident = serial-data1
        cache_size = 1G
        queues = 2
        data_crc = yes
        gc_percent = 50
        """

    @Test("a full configuration parses into typed values")
    func parses() throws {
        let config = try PcacheConfig(parsing: Self.sample)
        #expect(config.caches.count == 1)
        #expect(config.caches[0].name == "fast")
        #expect(config.caches[0].uuid == "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
        let b = try #require(config.backings.first)
        #expect(b.cache == "fast")
        #expect(b.device.string == "/dev/disk/by-id/virtio-data1")
        #expect(b.ident?.string == "serial-data1")
        #expect(b.cacheSize?.mebibytes == 1024)
        #expect(b.queues == 2)
        #expect(b.dataCRC)
        #expect(b.gcPercent?.value == 50)
    }

    @Test("rendering and parsing again gives the same configuration")
    func roundTrip() throws {
        let config = try PcacheConfig(parsing: Self.sample)
        #expect(try PcacheConfig(parsing: config.text) == config)
    }

    @Test("each mistake is refused with its line number", arguments: [
        ("[cache x]\nuuid = nope", ":2:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\ncolour = red", ":3:"),
        ("uuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", ":1:"),
        ("[cache x", ":1:"),
        ("[volume x]", ":1:"),
        ("[cache a/b]", ":1:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", ":3:"),
        ("[cache x]\n[cache x]", ":2:"),
        ("[backing b]\ncache = x\ndevice = vda", ":3:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = x\ndevice = /dev/vda\nqueues = 0", ":6:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = x\ndevice = /dev/vda\ngc_percent = 95", ":6:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = x\ndevice = /dev/vda\ncache_size = 2", ":6:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = x\ndevice = /dev/vda\ndata_crc = maybe", ":6:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = x", ":3:"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = y\ndevice = /dev/vda", "no [cache y]"),
        ("[cache x]\nuuid = 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\n[backing b]\ncache = x\ndevice = /dev/vda\n[backing c]\ncache = x\ndevice = /dev/vda",
         "two [backing]"),
    ])
    func mistakes(_ text: String, _ expected: String) {
        let error = #expect(throws: LifecycleError.self) { try PcacheConfig(parsing: text, source: "t.conf") }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }

    @Test("an empty file is an empty configuration")
    func empty() throws {
        let config = try PcacheConfig(parsing: "# nothing\n\n")
        #expect(config.caches.isEmpty && config.backings.isEmpty)
    }
}
