/// One value of a parsed JSON document, read on demand: `view["metadata"]`, `view.elements`, `view.string`,
/// `view.int64`. Strings are unescaped and numbers converted only when read; a lookup walks the object's
/// keys, stepping over each value's whole subtree in one move.
///
/// A view borrows its document's bytes and tape without owning them, which keeps it free of reference
/// counting; it is valid only inside the `withDocument` (or `KubeDecodable.init(decoding:)`) call that made
/// it, and must not be stored.
public struct JSONView {
    /// What kind of JSON value a view is.
    public enum Kind: Sendable, Equatable {
        case null, bool, number, string, object, array
    }

    let tape: UnsafePointer<UInt64>
    let bytes: UnsafePointer<UInt8>
    let index: Int

    @inline(__always) init(tape: UnsafePointer<UInt64>, bytes: UnsafePointer<UInt8>, index: Int) {
        self.tape = tape
        self.bytes = bytes
        self.index = index
    }

    /// Parses `bytes` as one JSON text and calls `body` with its root value; views must not outlive the call.
    public static func withDocument<Value>(
        _ bytes: UnsafeRawBufferPointer, _ body: (JSONView) throws(JSONError) -> Value
    ) throws(JSONError) -> Value {
        let tape = try JSONTape(parsing: bytes)
        let base = bytes.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
        let outcome = tape.entries.withUnsafeBufferPointer { entries in
            Result { () throws(JSONError) -> Value in
                try body(JSONView(tape: entries.baseAddress.unsafelyUnwrapped, bytes: base, index: 0))
            }
        }
        return try outcome.get()
    }

    @inline(__always) var entry: UInt64 { tape[index] }
    @inline(__always) var tag: JSONTape.Tag { JSONTape.tag(entry) }

    public var kind: Kind {
        switch tag {
        case .null: .null
        case .false, .true: .bool
        case .number: .number
        case .string: .string
        case .object: .object
        case .array: .array
        }
    }

    public var isNull: Bool { tag == .null }

    func mismatch(_ expected: String) -> JSONError {
        let found = switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .object: "an object"
        case .array: "an array"
        }
        return .mismatch(path: "", "\(expected) was expected, not \(found)")
    }

    // MARK: - Scalars

    public var string: String {
        get throws(JSONError) {
            guard tag == .string else { throw mismatch("a string") }
            return Self.string(entry, in: bytes)
        }
    }

    public var bool: Bool {
        get throws(JSONError) {
            switch tag {
            case .true: return true
            case .false: return false
            default: throw mismatch("a boolean")
            }
        }
    }

    /// The number when it is a whole number that fits, written plainly or not: `3`, `3.0` and `3e0` are all 3,
    /// as Foundation's decoder reads them; `3.5` and `1e19` are refused.
    public var int64: Int64 {
        get throws(JSONError) {
            guard tag == .number else { throw mismatch("a number") }
            let entry = entry
            let text = UnsafeBufferPointer(start: bytes + JSONTape.offset(entry), count: JSONTape.length(entry))
            let value = JSONTape.hasFlag(entry) ? Self.plainInteger(text) : Self.exactInteger(text)
            guard let value else { throw .mismatch(path: "", "\(String(decoding: text, as: UTF8.self)) is not a whole number in 64 bits") }
            return value
        }
    }

    public var int: Int {
        get throws(JSONError) {
            guard let value = Int(exactly: try int64) else { throw .mismatch(path: "", "the number does not fit in an Int") }
            return value
        }
    }

    public var double: Double {
        get throws(JSONError) {
            guard tag == .number else { throw mismatch("a number") }
            let text = String(decoding: UnsafeBufferPointer(start: bytes + JSONTape.offset(entry), count: JSONTape.length(entry)), as: UTF8.self)
            // JSON's number grammar is a subset of what `Double.init?(_:)` reads; only overflow is left to refuse.
            guard let value = Double(text), value.isFinite else { throw .mismatch(path: "", "\(text) is out of range for a Double") }
            return value
        }
    }

    // MARK: - Containers

    /// The index just past a value's entries: a container's end, or the next entry.
    @inline(__always) static func after(_ index: Int, in tape: UnsafePointer<UInt64>) -> Int {
        let entry = tape[index]
        return entry >> 61 >= JSONTape.Tag.object.rawValue ? JSONTape.offset(entry) : index + 1
    }

    /// The number of members of an object or elements of an array.
    public var count: Int {
        get throws(JSONError) {
            guard tag == .object || tag == .array else { throw mismatch("an object or an array") }
            return JSONTape.length(entry)
        }
    }

    /// The value of the member named `key`, or nil when the object has none. With duplicate names the
    /// first one counts, as with Foundation's `JSONDecoder` (`JSONSerialization` keeps the last).
    public subscript(key: String) -> JSONView? {
        get throws(JSONError) {
            guard tag == .object else { throw mismatch("an object") }
            if let found = key.utf8.withContiguousStorageIfAvailable({ member(named: $0) }) { return found }
            return Array(key.utf8).withUnsafeBufferPointer { member(named: $0) }
        }
    }

    func member(named key: UnsafeBufferPointer<UInt8>) -> JSONView? {
        let end = JSONTape.offset(entry)
        var position = index + 1
        while position < end {
            if Self.name(tape[position], in: bytes, equals: key) { return JSONView(tape: tape, bytes: bytes, index: position + 1) }
            position = Self.after(position + 1, in: tape)
        }
        return nil
    }

    @inline(__always) static func name(_ entry: UInt64, in bytes: UnsafePointer<UInt8>, equals key: UnsafeBufferPointer<UInt8>) -> Bool {
        if JSONTape.hasFlag(entry) { return string(entry, in: bytes).utf8.elementsEqual(key) }
        guard JSONTape.length(entry) == key.count else { return false }
        let start = bytes + JSONTape.offset(entry)
        for index in 0..<key.count where start[index] != key[index] { return false }
        return true
    }

    /// An object's members in document order, duplicates included.
    public var members: Members {
        get throws(JSONError) {
            guard tag == .object else { throw mismatch("an object") }
            return Members(tape: tape, bytes: bytes, position: index + 1, end: JSONTape.offset(entry))
        }
    }

    /// An array's elements in order.
    public var elements: Elements {
        get throws(JSONError) {
            guard tag == .array else { throw mismatch("an array") }
            return Elements(tape: tape, bytes: bytes, position: index + 1, end: JSONTape.offset(entry))
        }
    }

    public struct Members: Sequence, IteratorProtocol {
        let tape: UnsafePointer<UInt64>
        let bytes: UnsafePointer<UInt8>
        var position: Int
        let end: Int

        public mutating func next() -> (name: String, value: JSONView)? {
            guard position < end else { return nil }
            let name = JSONView.string(tape[position], in: bytes)
            let value = JSONView(tape: tape, bytes: bytes, index: position + 1)
            position = JSONView.after(position + 1, in: tape)
            return (name, value)
        }
    }

    public struct Elements: Sequence, IteratorProtocol {
        let tape: UnsafePointer<UInt64>
        let bytes: UnsafePointer<UInt8>
        var position: Int
        let end: Int

        public mutating func next() -> JSONView? {
            guard position < end else { return nil }
            let element = JSONView(tape: tape, bytes: bytes, index: position)
            position = JSONView.after(position, in: tape)
            return element
        }
    }
}

/// A view borrows memory that is gone once its document's closure returns; it never crosses tasks.
@available(*, unavailable)
extension JSONView: Sendable {}

// MARK: - Conversions

extension JSONView {
    /// A string entry's text; the tape already checked its UTF-8 and escapes, so this cannot fail.
    static func string(_ entry: UInt64, in bytes: UnsafePointer<UInt8>) -> String {
        let raw = UnsafeBufferPointer(start: bytes + JSONTape.offset(entry), count: JSONTape.length(entry))
        guard JSONTape.hasFlag(entry) else { return String(decoding: raw, as: UTF8.self) }
        // Every escape is at least as long as the UTF-8 it stands for, so the raw length is enough room.
        return String(unsafeUninitializedCapacity: raw.count) { output in
            var read = 0, written = 0
            func put(_ byte: UInt8) {
                output[written] = byte
                written += 1
            }
            while read < raw.count {
                let byte = raw[read]
                guard byte == UInt8(ascii: "\\") else {
                    put(byte)
                    read += 1
                    continue
                }
                let escape = raw[read + 1]
                read += 2
                switch escape {
                case UInt8(ascii: "b"): put(0x08)
                case UInt8(ascii: "f"): put(0x0C)
                case UInt8(ascii: "n"): put(0x0A)
                case UInt8(ascii: "r"): put(0x0D)
                case UInt8(ascii: "t"): put(0x09)
                case UInt8(ascii: "u"):
                    var scalar = hexUnit(raw, at: read)
                    read += 4
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        // The tape guarantees the low surrogate's `\uXXXX` follows.
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hexUnit(raw, at: read + 2) - 0xDC00)
                        read += 6
                    }
                    switch scalar {
                    case ..<0x80:
                        put(UInt8(scalar))
                    case ..<0x800:
                        put(UInt8(0xC0 | scalar >> 6)); put(UInt8(0x80 | scalar & 0x3F))
                    case ..<0x10000:
                        put(UInt8(0xE0 | scalar >> 12)); put(UInt8(0x80 | scalar >> 6 & 0x3F)); put(UInt8(0x80 | scalar & 0x3F))
                    default:
                        put(UInt8(0xF0 | scalar >> 18)); put(UInt8(0x80 | scalar >> 12 & 0x3F))
                        put(UInt8(0x80 | scalar >> 6 & 0x3F)); put(UInt8(0x80 | scalar & 0x3F))
                    }
                default:
                    put(escape)  // `"`, `\` and `/` stand for themselves
                }
            }
            return written
        }
    }

    private static func hexUnit(_ raw: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt32 {
        var unit: UInt32 = 0
        for index in start..<start + 4 { unit = unit << 4 | UInt32(JSONTape.hexDigit(raw[index]).unsafelyUnwrapped) }
        return unit
    }

    /// `-?[0-9]+`, already checked by the tape.
    @inline(__always) static func plainInteger(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        let negative = text[0] == UInt8(ascii: "-")
        var magnitude: UInt64 = 0
        for index in (negative ? 1 : 0)..<text.count {
            let (shifted, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(UInt64(text[index] &- UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            magnitude = sum
        }
        return signed(magnitude, negative: negative)
    }

    /// A number with a fraction or an exponent, when its exact value is a whole number in 64 bits
    /// (`12345678901234567.0` included, which a `Double` would round).
    static func exactInteger(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        let negative = text[0] == UInt8(ascii: "-")
        if negative { index += 1 }
        var digits: [UInt8] = []
        var fractionCount = 0
        var inFraction = false
        while index < text.count, text[index] | 0x20 != UInt8(ascii: "e") {
            if text[index] == UInt8(ascii: ".") {
                inFraction = true
            } else {
                digits.append(text[index] - UInt8(ascii: "0"))
                if inFraction { fractionCount += 1 }
            }
            index += 1
        }
        var exponent = 0
        if index < text.count {
            index += 1
            let negativeExponent = text[index] == UInt8(ascii: "-")
            if text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "+") { index += 1 }
            while index < text.count {
                // Far beyond any Int64, and still far from overflowing the count.
                exponent = min(exponent * 10 + Int(text[index] - UInt8(ascii: "0")), 1 << 32)
                index += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        // Slicing, not removing one digit at a time: a hostile `0.000…1` must not cost quadratic time.
        guard let first = digits.firstIndex(where: { $0 != 0 }), let last = digits.lastIndex(where: { $0 != 0 }) else { return 0 }
        let scale = exponent - fractionCount + (digits.count - 1 - last)
        let significant = digits[first...last]
        guard scale >= 0, significant.count + scale <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for digit in significant + [UInt8](repeating: 0, count: scale) {
            let (shifted, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflow, !carry else { return nil }
            magnitude = sum
        }
        return signed(magnitude, negative: negative)
    }

    @inline(__always) private static func signed(_ magnitude: UInt64, negative: Bool) -> Int64? {
        if negative { return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : magnitude == UInt64(Int64.max) + 1 ? .min : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}
