/// One validated JSON document as a flat array of 64-bit entries, one per value and per object key, in
/// document order (simdjson's "tape"). A container's entry records the index just past its last entry, so a
/// reader skips a subtree it does not want in O(1) instead of walking it. Strings and numbers are not
/// converted here: their entries point at their bytes, and `JSONView` converts only what a decoder reads,
/// which for a Kubernetes list is a small part of each object.
///
/// Building the tape is the only pass over the bytes, and it is strict (RFC 8259): truncation, trailing
/// bytes, trailing commas, bad escapes or lone surrogates, raw control characters, invalid UTF-8, leading
/// zeros and other bad numbers are refused, and nesting deeper than `maximumDepth` is refused before it
/// costs anything. Nothing recurses, so no input can exhaust the stack. (Foundation's decoder lets a
/// trailing comma in an object pass; Kubernetes never sends one, and RFC 8259 has none.)
struct JSONTape {
    /// The nesting Foundation's `JSONSerialization` allows too.
    static let maximumDepth = 512
    /// Lengths are held in 28 bits; the client already stops reading a body at 64 MiB.
    static let maximumLength = 1 << 28

    /// An entry: the tag in bits 61–63, a flag in bit 60, a 28-bit length or count in bits 32–59, and a
    /// 32-bit byte offset or tape index in bits 0–31.
    ///
    /// - string: offset and length of the bytes between the quotes; the flag says escapes are present.
    /// - number: offset and length of its text; the flag says it is a plain integer (no fraction or exponent).
    /// - object, array: the index just past the container's last entry, and its number of members or elements.
    ///   An object's entries alternate key (a string entry) and value.
    enum Tag: UInt64 {
        case null = 0, `false`, `true`, number, string, object, array
    }

    static let flag: UInt64 = 1 << 60

    @inline(__always) static func entry(_ tag: Tag, flag: Bool = false, length: Int, offset: Int) -> UInt64 {
        tag.rawValue << 61 | (flag ? Self.flag : 0) | UInt64(truncatingIfNeeded: length) << 32 | UInt64(truncatingIfNeeded: offset)
    }

    @inline(__always) static func tag(_ entry: UInt64) -> Tag { Tag(rawValue: entry >> 61).unsafelyUnwrapped }
    @inline(__always) static func hasFlag(_ entry: UInt64) -> Bool { entry & flag != 0 }
    @inline(__always) static func length(_ entry: UInt64) -> Int { Int(truncatingIfNeeded: (entry >> 32) & 0x0FFF_FFFF) }
    @inline(__always) static func offset(_ entry: UInt64) -> Int { Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) }

    var entries: [UInt64]

    /// Validates `bytes` as one JSON text and records its structure. A UTF-8 byte order mark before it is
    /// skipped, as Foundation's decoder does.
    init(parsing bytes: UnsafeRawBufferPointer) throws(JSONError) {
        guard bytes.count < Self.maximumLength else { throw .malformed("the document is larger than 256 MiB", offset: 0) }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { throw .malformed("the document is empty", offset: 0) }
        // Every entry stands for at least two bytes (a scalar and its comma, a key and its colon, a pair of
        // brackets), the last one for one: n bytes never need more than (n + 1) / 2 entries. Writing into
        // storage of that size, and keeping open containers in a fixed stack, spares the hot loop any growth
        // or uniqueness checks.
        var failure: JSONError?
        entries = [UInt64](unsafeUninitializedCapacity: bytes.count / 2 + 2) { storage, initialized in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: Self.maximumDepth) { open in
                var scanner = Scanner(base: base.assumingMemoryBound(to: UInt8.self), end: bytes.count,
                                      entries: storage.baseAddress.unsafelyUnwrapped, capacity: storage.count,
                                      open: open.baseAddress.unsafelyUnwrapped)
                do throws(JSONError) {
                    try scanner.scanDocument()
                } catch {
                    failure = error
                }
                initialized = scanner.count
            }
        }
        if let failure { throw failure }
    }
}

/// The single pass that checks the grammar and appends entries.
private struct Scanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var position = 0
    let entries: UnsafeMutablePointer<UInt64>
    let capacity: Int
    var count = 0
    /// The tape index of each container still open, innermost last; `depth` of them.
    let open: UnsafeMutablePointer<Int>
    var depth = 0

    init(base: UnsafePointer<UInt8>, end: Int, entries: UnsafeMutablePointer<UInt64>, capacity: Int, open: UnsafeMutablePointer<Int>) {
        self.base = base
        self.end = end
        self.entries = entries
        self.capacity = capacity
        self.open = open
    }

    @inline(__always) mutating func append(_ entry: UInt64) throws(JSONError) {
        // Cannot fail (see `JSONTape.init`); checked all the same, as memory safety must not rest on a proof.
        guard count < capacity else { throw failure("more values than the document has room for") }
        entries[count] = entry
        count += 1
    }

    func failure(_ reason: String) -> JSONError { .malformed(reason, offset: position) }

    var truncated: JSONError { .malformed("the document ends early", offset: position) }

    @inline(__always) mutating func skipWhitespace() {
        while position < end {
            switch base[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next byte that is not whitespace, or nil at the end.
    @inline(__always) mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < end ? base[position] : nil
    }

    mutating func scanDocument() throws(JSONError) {
        if end >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF { position = 3 }
        value: while true {
            // A value is expected here.
            guard let byte = peek() else { throw truncated }
            switch byte {
            case UInt8(ascii: "{"):
                try openContainer(.object)
                position += 1
                guard let next = peek() else { throw truncated }
                if next == UInt8(ascii: "}") {
                    position += 1
                    closeContainer()
                } else {
                    try scanKey()
                    continue value
                }
            case UInt8(ascii: "["):
                try openContainer(.array)
                position += 1
                guard let next = peek() else { throw truncated }
                if next == UInt8(ascii: "]") {
                    position += 1
                    closeContainer()
                } else {
                    continue value
                }
            case UInt8(ascii: "\""): try append(try scanString())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try append(try scanNumber())
            case UInt8(ascii: "t"): try scanLiteral("true", .true)
            case UInt8(ascii: "f"): try scanLiteral("false", .false)
            case UInt8(ascii: "n"): try scanLiteral("null", .null)
            default: throw failure("a value was expected")
            }
            // A value is complete: close every container it completes, then continue with the next member.
            while depth > 0 {
                let container = open[depth - 1]
                let isObject = JSONTape.tag(entries[container]) == .object
                entries[container] &+= 1 << 32  // one more member or element
                guard let separator = peek() else { throw truncated }
                position += 1
                switch separator {
                case UInt8(ascii: ","):
                    if isObject {
                        guard peek() != nil else { throw truncated }
                        try scanKey()
                    }
                    continue value
                case UInt8(ascii: "}") where isObject, UInt8(ascii: "]") where !isObject:
                    closeContainer()
                default:
                    position -= 1
                    throw failure(isObject ? "',' or '}' was expected" : "',' or ']' was expected")
                }
            }
            if peek() != nil { throw failure("bytes follow the document") }
            return
        }
    }

    @inline(__always) mutating func openContainer(_ tag: JSONTape.Tag) throws(JSONError) {
        guard depth < JSONTape.maximumDepth else { throw failure("nesting is deeper than \(JSONTape.maximumDepth)") }
        open[depth] = count
        depth += 1
        try append(JSONTape.entry(tag, length: 0, offset: 0))
    }

    /// Records where the innermost open container ends (its count is already in place).
    @inline(__always) mutating func closeContainer() {
        depth -= 1
        entries[open[depth]] |= UInt64(truncatingIfNeeded: count)
    }

    /// A member's key and its colon; the caller has seen a non-whitespace byte.
    @inline(__always) mutating func scanKey() throws(JSONError) {
        guard base[position] == UInt8(ascii: "\"") else { throw failure("a member name in quotes was expected") }
        try append(try scanString())
        guard let colon = peek() else { throw truncated }
        guard colon == UInt8(ascii: ":") else { throw failure("':' was expected after the member name") }
        position += 1
    }

    mutating func scanLiteral(_ word: StaticString, _ tag: JSONTape.Tag) throws(JSONError) {
        guard end - position >= word.utf8CodeUnitCount else { throw truncated }
        for index in 0..<word.utf8CodeUnitCount where base[position + index] != word.utf8Start[index] {
            throw failure("a value was expected")
        }
        position += word.utf8CodeUnitCount
        try append(JSONTape.entry(tag, length: 0, offset: 0))
    }

    // MARK: - Strings

    /// A string starting at its opening quote. Escapes and UTF-8 are validated now, so reading the string
    /// later cannot fail; they are decoded only then.
    @inline(__always) mutating func scanString() throws(JSONError) -> UInt64 {
        let start = position + 1
        // A local index, so the loop keeps it in a register rather than in `self`.
        var index = start
        var escaped = false
        while true {
            // Eight bytes at a time while none needs attention: most strings are short plain ASCII.
            while end - index >= 8 {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                let special = Self.specialBytes(word)
                if special == 0 {
                    index += 8
                } else {
                    index += special.trailingZeroBitCount >> 3
                    break
                }
            }
            guard index < end else {
                position = index
                throw truncated
            }
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                return JSONTape.entry(.string, flag: escaped, length: index - start, offset: start)
            }
            if byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") {
                index += 1  // the last few bytes, which the word loop leaves
                continue
            }
            position = index
            switch byte {
            case UInt8(ascii: "\\"):
                escaped = true
                try scanEscape()
            case 0..<0x20:
                throw failure("a control character must be escaped in a string")
            default:
                try scanMultibyte()
            }
            index = position
        }
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// A word with the high bit set in the lowest byte that is a quote, a backslash, a control character
    /// or non-ASCII (higher bytes may be marked spuriously by borrows; only the lowest is used).
    @inline(__always) static func specialBytes(_ word: UInt64) -> UInt64 {
        func zeroBytes(_ value: UInt64) -> UInt64 { (value &- ones) & ~value & highBits }
        let quotes = zeroBytes(word ^ (ones &* 0x22))
        let backslashes = zeroBytes(word ^ (ones &* 0x5C))
        let controls = (word &- ones &* 0x20) & ~word & highBits
        return quotes | backslashes | controls | (word & highBits)
    }

    mutating func scanEscape() throws(JSONError) {
        guard end - position >= 2 else { throw truncated }
        switch base[position + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
        case UInt8(ascii: "u"):
            let unit = try scanHexEscape()
            switch unit {
            case 0xD800...0xDBFF:
                guard end - position >= 2, base[position] == UInt8(ascii: "\\"), base[position + 1] == UInt8(ascii: "u") else {
                    throw failure("a high surrogate escape must be followed by a low surrogate escape")
                }
                guard (0xDC00...0xDFFF).contains(try scanHexEscape()) else {
                    throw failure("a high surrogate escape must be followed by a low surrogate escape")
                }
            case 0xDC00...0xDFFF:
                throw failure("a low surrogate escape without a high surrogate before it")
            default:
                break
            }
        default:
            position += 1
            throw failure("an unknown escape")
        }
    }

    /// `\uXXXX` at `position`: its code unit, with `position` moved past it.
    mutating func scanHexEscape() throws(JSONError) -> UInt16 {
        guard end - position >= 6 else { throw truncated }
        var unit: UInt16 = 0
        for index in position + 2..<position + 6 {
            guard let digit = JSONTape.hexDigit(base[index]) else {
                position = index
                throw failure("\\u must be followed by four hexadecimal digits")
            }
            unit = unit << 4 | UInt16(digit)
        }
        position += 6
        return unit
    }

    /// One multi-byte UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
    mutating func scanMultibyte() throws(JSONError) {
        let lead = base[position]
        let count: Int, second: ClosedRange<UInt8>
        switch lead {
        case 0xC2...0xDF: count = 2; second = 0x80...0xBF
        case 0xE0: count = 3; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: count = 3; second = 0x80...0xBF
        case 0xED: count = 3; second = 0x80...0x9F
        case 0xF0: count = 4; second = 0x90...0xBF
        case 0xF1...0xF3: count = 4; second = 0x80...0xBF
        case 0xF4: count = 4; second = 0x80...0x8F
        default: throw failure("invalid UTF-8")
        }
        guard end - position >= count else { throw truncated }
        guard second.contains(base[position + 1]) else { throw failure("invalid UTF-8") }
        for index in position + 2..<position + count where base[index] & 0xC0 != 0x80 {
            throw failure("invalid UTF-8")
        }
        position += count
    }

    // MARK: - Numbers

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; what follows is the caller's to check, so `01` fails
    /// there, as a `1` where a separator was expected.
    @inline(__always) mutating func scanNumber() throws(JSONError) -> UInt64 {
        let start = position
        var integer = true
        if base[position] == UInt8(ascii: "-") { position += 1 }
        guard position < end else { throw truncated }
        switch base[position] {
        case UInt8(ascii: "0"): position += 1
        case UInt8(ascii: "1")...UInt8(ascii: "9"): skipDigits()
        default: throw failure("a digit was expected")
        }
        if position < end, base[position] == UInt8(ascii: ".") {
            integer = false
            position += 1
            try requireDigits()
        }
        if position < end, base[position] | 0x20 == UInt8(ascii: "e") {
            integer = false
            position += 1
            if position < end, base[position] == UInt8(ascii: "+") || base[position] == UInt8(ascii: "-") { position += 1 }
            try requireDigits()
        }
        return JSONTape.entry(.number, flag: integer, length: position - start, offset: start)
    }

    @inline(__always) mutating func skipDigits() {
        while position < end, base[position] &- UInt8(ascii: "0") < 10 { position += 1 }
    }

    mutating func requireDigits() throws(JSONError) {
        guard position < end else { throw truncated }
        guard base[position] &- UInt8(ascii: "0") < 10 else { throw failure("a digit was expected") }
        skipDigits()
    }
}

extension JSONTape {
    @inline(__always) static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
