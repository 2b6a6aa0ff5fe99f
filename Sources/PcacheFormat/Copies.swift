// SPDX-License-Identifier: Apache-2.0

/// What one slot of a two-copy record holds.
public enum CopyStatus<Record: Hashable & Sendable>: Hashable, Sendable {
    /// The crc matches.
    case valid(Record)
    /// Every byte is zero: never written.
    case empty
    /// Written, but the crc (or length) is wrong: a torn write or damage.
    case damaged(FormatError)

    public var record: Record? {
        if case .valid(let r) = self { return r }
        return nil
    }

    public var isEmpty: Bool {
        if case .empty = self { return true }
        return false
    }

    public var error: FormatError? {
        if case .damaged(let e) = self { return e }
        return nil
    }

    /// "valid", "empty" or "damaged".
    public var name: String {
        switch self {
        case .valid: return "valid"
        case .empty: return "empty"
        case .damaged: return "damaged"
        }
    }
}

/// Both slots of a two-copy record and which one the copy rule picks.
///
/// Copy rule (pcache_format.h): a reader takes the slot whose crc matches and whose seq is newer in
/// 32-bit serial arithmetic; on a tie it keeps slot 0, as the kernel's loop does. A writer writes
/// seq = latest + 1 into the slot that does not hold the latest valid copy.
public struct Copies<Record: MetaRecord>: Hashable, Sendable {
    public var slots: [CopyStatus<Record>]
    /// Byte offsets of the slots.
    public var offsets: [UInt64]

    public init(slots: [CopyStatus<Record>], offsets: [UInt64]) {
        self.slots = slots
        self.offsets = offsets
    }

    /// Decodes both slots.
    /// - Parameters:
    ///   - slot: the bytes of slot `i` (at least the record size, or fewer when the device ends).
    ///   - region: the record, without a copy number.
    ///   - offsets: device offsets of the two slots.
    public init(decoding slot: (Int) -> UnsafeRawBufferPointer, region: Region, offsets: [UInt64]) {
        self.offsets = offsets
        slots = offsets.indices.map { i in
            let bytes = slot(i)
            let r = Region(region.kind, copy: i)
            if bytes.count >= Record.size, isAllZero(UnsafeRawBufferPointer(rebasing: bytes[..<Record.size])) {
                return .empty
            }
            do { return .valid(try Record(decoding: bytes, region: r, offset: offsets[i])) } catch let e as FormatError {
                return .damaged(e)
            } catch {
                return .damaged(.noValidCopy(region: r, offset: offsets[i]))
            }
        }
    }

    /// The slot the copy rule reads, and its record; nil when no slot is valid.
    public var latest: (slot: Int, record: Record)? {
        var best: (slot: Int, record: Record)?
        for (i, s) in slots.enumerated() {
            guard let r = s.record else { continue }
            if let b = best, !isNewer(r.seq, than: b.record.seq) { continue }
            best = (i, r)
        }
        return best
    }

    /// Where the next write goes: the slot not holding the latest valid copy (slot 0 when none is valid).
    public var slotToWrite: Int {
        guard let l = latest else { return 0 }
        return (l.slot + 1) % slots.count
    }

    /// seq of the next write: latest + 1 (wrapping), or 1 when no copy is valid.
    public var nextSeq: UInt32 { latest.map { $0.record.seq &+ 1 } ?? 1 }

    /// Whether both slots are empty (a record never written).
    public var isEmpty: Bool { slots.allSatisfy(\.isEmpty) }

    /// Problems of the pair, classified: a damaged slot next to a valid one is repairable (the other copy
    /// wins), no valid copy while something was written is fatal, a seq tie is repairable.
    public func problems(region: Region) -> [(FormatError, repairable: Bool)] {
        var out: [(FormatError, repairable: Bool)] = []
        let valid = slots.compactMap(\.record)
        if valid.isEmpty {
            if !isEmpty { out.append((.noValidCopy(region: region, offset: offsets[0]), false)) }
            for s in slots { if let e = s.error { out.append((e, false)) } }
            return out
        }
        for s in slots { if let e = s.error { out.append((e, true)) } }
        if valid.count == 2, valid[0].seq == valid[1].seq, valid[0] != valid[1] {
            out.append((.sameSequence(region: region, offset: offsets[0], seq: valid[0].seq), true))
        }
        return out
    }
}
