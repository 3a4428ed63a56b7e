import Foundation
import Testing
@testable import KubeClient

/// The JSON parser behind `KubeDecodable`: the tape it builds, the views that read it, and every kind of
/// malformed input it must refuse without crashing.
@Suite("JSON parser")
struct JSONTapeTests {
    /// `body` with the root of `json`.
    static func read<Value>(_ json: String, _ body: (JSONView) throws -> Value) throws -> Value {
        try read(Array(json.utf8), body)
    }

    static func read<Value>(_ bytes: [UInt8], _ body: (JSONView) throws -> Value) throws -> Value {
        var outcome: Result<Value, any Error>?
        try bytes.withUnsafeBytes { raw in
            try JSONView.withDocument(raw) { root in outcome = Result { try body(root) } }
        }
        return try outcome.unsafelyUnwrapped.get()
    }

    static func accepts(_ bytes: [UInt8]) -> Bool {
        (try? read(bytes) { _ in true }) ?? false
    }

    @Test("Objects: members by name, in order, with their kinds; a missing name is nil")
    func objects() throws {
        try Self.read(#"{"s":"text","i":42,"t":true,"f":false,"n":null,"o":{},"a":[]}"#) { root throws in
            #expect(root.kind == .object)
            #expect(try root.count == 7)
            #expect(try root["s"]?.string == "text")
            #expect(try root["i"]?.int64 == 42)
            #expect(try root["t"]?.bool == true)
            #expect(try root["f"]?.bool == false)
            #expect(try root["n"]?.isNull == true)
            #expect(try root["o"]?.count == 0)
            #expect(try root["a"]?.kind == .array)
            #expect(try root["missing"] == nil)
            #expect(try root["S"] == nil)
            #expect(try root.members.map(\.name) == ["s", "i", "t", "f", "n", "o", "a"])
        }
    }

    @Test("Arrays: elements in order, of any kind")
    func arrays() throws {
        try Self.read(#"[1, "two", [3], {"four": 4}, null, true]"#) { root throws in
            let elements = Array(try root.elements)
            #expect(try root.count == 6)
            #expect(elements.map(\.kind) == [.number, .string, .array, .object, .null, .bool])
            #expect(try elements[0].int == 1)
            #expect(try elements[1].string == "two")
            #expect(try elements[2].elements.map { element in try element.int } == [3])
            #expect(try elements[3]["four"]?.int == 4)
        }
        #expect(try Self.read("[]") { root in Array(try root.elements).isEmpty })
    }

    @Test("Nesting: values deep inside are reached, 512 levels are accepted and 513 refused")
    func nesting() throws {
        let deep = try Self.read(#"{"a":{"b":{"c":[1,{"d":["deep"]}]}}}"#) { root -> [String]? in
            guard let c = try root["a"]?["b"]?["c"] else { return nil }
            return try Array(c.elements)[1]["d"]?.elements.map { element in try element.string }
        }
        #expect(deep == ["deep"])
        let limit = JSONTape.maximumDepth
        #expect(Self.accepts(Array((String(repeating: "[", count: limit) + String(repeating: "]", count: limit)).utf8)))
        #expect(Self.accepts(Array((String(repeating: #"{"a":"#, count: limit) + "1" + String(repeating: "}", count: limit)).utf8)))
        #expect(!Self.accepts(Array((String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)).utf8)))
        // Far deeper than any stack would survive with a recursive parser: refused at once, no crash.
        #expect(!Self.accepts(Array(String(repeating: "[", count: 1_000_000).utf8)))
        #expect(!Self.accepts(Array(String(repeating: #"{"a":"#, count: 200_000).utf8)))
    }

    @Test("Escapes: the short forms, \\u with surrogate pairs, \\u0000, and raw UTF-8, decoded only when read")
    func escapes() throws {
        let json = #"["\" \\ \/ \b \f \n \r \t", "\u0041\u00e9\u20AC\ud83d\ude00", "a\u0000b", "é€😀 ☃", "plain", "\ud834\udd1e"]"#
        let strings = try Self.read(json) { root in try root.elements.map { element in try element.string } }
        #expect(strings == ["\" \\ / \u{08} \u{0C} \n \r \t", "Aé€😀", "a\u{0}b", "é€😀 ☃", "plain", "𝄞"])
        // Names with escapes are found by their decoded text.
        #expect(try Self.read(#"{"n\u0061me":"x","caf\u00e9":"y"}"#) { root in [try root["name"]?.string, try root["café"]?.string] } == ["x", "y"])
        // Long strings cross the eight-byte fast path at every alignment.
        for length in 0..<40 {
            let text = String(repeating: "a", count: length) + "\\n" + String(repeating: "é", count: length % 5)
            let decoded = try Self.read("[\"\(text)\"]") { root in try root.elements.map { element in try element.string } }
            #expect(decoded == [String(repeating: "a", count: length) + "\n" + String(repeating: "é", count: length % 5)])
        }
    }

    @Test("Numbers: integers, negatives, fractions, exponents and the Int64 bounds", arguments: [
        ("0", Int64(0), 0.0), ("-0", 0, -0.0), ("42", 42, 42), ("-42", -42, -42), ("1.0", 1, 1), ("1e2", 100, 100), ("1E+2", 100, 100),
        ("-2.50e1", -25, -25), ("12345678901234567.0", 12_345_678_901_234_567, 12_345_678_901_234_567), ("100e-2", 1, 1),
        ("9223372036854775807", .max, 9_223_372_036_854_775_807), ("-9223372036854775808", .min, -9_223_372_036_854_775_808),
        ("0.000e5", 0, 0),
    ])
    func integers(_ text: String, _ integer: Int64, _ double: Double) throws {
        #expect(try Self.read(text) { root in try root.int64 } == integer)
        #expect(try Self.read(text) { root in try root.double } == double)
    }

    @Test("Numbers that are not whole 64-bit integers are refused as integers, read as doubles when finite", arguments: [
        ("1.5", 1.5 as Double?), ("-0.25", -0.25), ("1e-2", 0.01), ("9223372036854775808", 9_223_372_036_854_775_808),
        ("-9223372036854775809", -9_223_372_036_854_775_809), ("1e19", 1e19), ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1e400", nil), ("-1e400", nil), ("1e99999999999999999999", nil),
    ])
    func nonIntegers(_ text: String, _ double: Double?) {
        #expect(throws: JSONError.self) { try Self.read(text) { root in try root.int64 } }
        #expect((try? Self.read(text) { root in try root.double }) == double)
    }

    @Test("Hostile numbers cost linear time: a fraction of 200,000 zeros, a 200,000-digit integer")
    func longNumbers() throws {
        let zeros = String(repeating: "0", count: 200_000)
        #expect(throws: JSONError.self) { try Self.read("0.\(zeros)1") { root throws in try root.int64 } }
        #expect(try Self.read("0.\(zeros)") { root throws in try root.int64 } == 0)
        #expect(try Self.read("1\(zeros)e-200000") { root throws in try root.int64 } == 1)
        #expect(throws: JSONError.self) { try Self.read("1\(zeros)") { root throws in try root.int64 } }
    }

    @Test("A lookup skips whole subtrees: a container's entry records where it ends")
    func skipping() throws {
        let big = "[" + (0..<1_000).map { #"{"k":[\#($0),{"x":"y"}]}"# }.joined(separator: ",") + "]"
        let json = #"{"skip":\#(big),"deep":{"a":{"b":{}}},"want":"here"}"#
        let tape = try Array(json.utf8).withUnsafeBytes { raw in try JSONTape(parsing: raw) }
        // root, "skip", the array: its entry points just past the 1,000 objects to the name "deep".
        #expect(JSONTape.tag(tape.entries[2]) == .array)
        #expect(JSONTape.length(tape.entries[2]) == 1_000)
        let afterSkip = JSONTape.offset(tape.entries[2])
        #expect(JSONTape.tag(tape.entries[afterSkip]) == .string)
        #expect(JSONTape.offset(tape.entries[0]) == tape.entries.count)
        #expect(try Self.read(json) { root in try root["want"]?.string } == "here")
        #expect(try Self.read(json) { root in try root["deep"]?["a"]?["b"]?.count } == 0)
    }

    @Test("Duplicate names: the first wins, as with Foundation's JSONDecoder (JSONSerialization keeps the last)")
    func duplicates() throws {
        let json = #"{"a":1,"b":{"x":"first","x":"second"},"a":2}"#
        #expect(try Self.read(json) { root in try root["a"]?.int } == 1)
        #expect(try [String: String](decoding: Data(#"{"x":"first","x":"second"}"#.utf8)) == ["x": "first"])
        // The reference: what Foundation does with the same document.
        struct Probe: Decodable { var a: Int; var b: [String: String] }
        let probe = try JSONDecoder().decode(Probe.self, from: Data(json.utf8))
        #expect(probe.a == 1 && probe.b == ["x": "first"])
        #expect((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["a"] as? Int == 2)
    }

    @Test("Whitespace around values and a leading byte order mark are accepted; top-level scalars too")
    func whitespace() throws {
        #expect(try Self.read(" \t\r\n{ \"a\" : [ 1 , 2 ] }\n ") { root in try root["a"]?.count } == 2)
        #expect(try Self.read([0xEF, 0xBB, 0xBF] + Array("[true]".utf8)) { root in try root.count } == 1)
        #expect(try Self.read(" \"solo\" ") { root in try root.string } == "solo")
        #expect(try Self.read("7") { root in try root.int } == 7)
        #expect(try Self.read("null") { root in root.isNull })
    }

    @Test("Reading a value as the wrong kind is a mismatch, not a crash")
    func mismatches() throws {
        try Self.read(#"{"n":1,"s":"x","a":[]}"#) { root throws in
            #expect(throws: JSONError.mismatch(path: "", "a string was expected, not a number")) { try root["n"]?.string }
            #expect(throws: JSONError.mismatch(path: "", "a number was expected, not a string")) { try root["s"]?.int64 }
            #expect(throws: JSONError.mismatch(path: "", "a boolean was expected, not an array")) { try root["a"]?.bool }
            #expect(throws: JSONError.mismatch(path: "", "an object was expected, not an array")) { try root["a"]?["k"] }
            #expect(throws: JSONError.mismatch(path: "", "an array was expected, not an object")) { try root.elements }
            #expect(throws: JSONError.mismatch(path: "", "an object or an array was expected, not a string")) { try root["s"]?.count }
        }
    }

    static let malformed: [(String, [UInt8])] = [
        ("empty", []), ("only whitespace", Array(" \n\t".utf8)), ("only a byte order mark", [0xEF, 0xBB, 0xBF]),
        ("unclosed object", Array("{".utf8)), ("unclosed array", Array("[1,2".utf8)), ("unclosed nested", Array(#"{"a":[{"b":1}"#.utf8)),
        ("trailing comma in array", Array("[1,]".utf8)), ("trailing comma in object", Array(#"{"a":1,}"#.utf8)),
        ("leading comma", Array("[,1]".utf8)), ("empty member", Array("{,}".utf8)), ("missing value", Array(#"{"a":}"#.utf8)),
        ("missing colon", Array(#"{"a" 1}"#.utf8)), ("unquoted name", Array("{a:1}".utf8)), ("number as name", Array("{1:1}".utf8)),
        ("single quotes", Array("['a']".utf8)), ("missing comma", Array("[1 2]".utf8)), ("mismatched brackets", Array("[1}".utf8)),
        ("mismatched braces", Array(#"{"a":1]"#.utf8)), ("extra closing", Array("[]]".utf8)), ("trailing garbage", Array(#"{"a":1}x"#.utf8)),
        ("two documents", Array("{} {}".utf8)), ("trailing NUL", Array("{}".utf8) + [0]), ("comment", Array("/* c */ 1".utf8)),
        ("truncated true", Array("tru".utf8)), ("misspelt null", Array("nul1".utf8)), ("capitalised True", Array("True".utf8)),
        ("trailing letters", Array("truex".utf8)), ("NaN", Array("NaN".utf8)), ("Infinity", Array("[-Infinity]".utf8)),
        ("leading zero", Array("01".utf8)), ("leading zeros in array", Array("[00]".utf8)), ("negative leading zero", Array("-01".utf8)),
        ("lone minus", Array("-".utf8)), ("plus sign", Array("+1".utf8)), ("bare fraction", Array(".5".utf8)),
        ("dot without digits", Array("1.".utf8)), ("dot then exponent", Array("1.e3".utf8)), ("empty exponent", Array("1e".utf8)),
        ("signed empty exponent", Array("1e+".utf8)), ("double minus", Array("--1".utf8)), ("hexadecimal", Array("0x10".utf8)),
        ("unterminated string", Array(#""abc"#.utf8)), ("unterminated after escape", Array(#""abc\"#.utf8)),
        ("unknown escape", Array(#""\x""#.utf8)), ("escaped single quote", Array(#""\'""#.utf8)), ("short \\u", Array(#""\u12""#.utf8)),
        ("non-hex \\u", Array(#""\u12G4""#.utf8)), ("lone high surrogate", Array(#""\ud800""#.utf8)),
        ("high surrogate then text", Array(#""\ud800abcdef""#.utf8)), ("high surrogate then non-surrogate", Array(#""\ud800\u0041""#.utf8)),
        ("two high surrogates", Array(#""\ud800\ud800""#.utf8)), ("lone low surrogate", Array(#""\udc00""#.utf8)),
        ("raw control character", Array("\"a\u{01}b\"".utf8)), ("raw tab", Array("\"a\tb\"".utf8)), ("raw newline", Array("\"a\nb\"".utf8)),
        ("raw NUL", [0x22, 0x00, 0x22]), ("invalid byte", [0x22, 0xFF, 0x22]), ("continuation byte alone", [0x22, 0x80, 0x22]),
        ("overlong slash", [0x22, 0xC0, 0xAF, 0x22]), ("overlong three bytes", [0x22, 0xE0, 0x80, 0xAF, 0x22]),
        ("UTF-8 surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]), ("above U+10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]),
        ("truncated sequence", [0x22, 0xE2, 0x82, 0x22]), ("sequence cut by the end", [0x22, 0xE2, 0x82]),
        ("invalid byte outside a string", [0x5B, 0xFF, 0x5D]), ("a byte order mark inside", Array("[".utf8) + [0xEF, 0xBB, 0xBF] + Array("1]".utf8)),
    ]

    @Test("Malformed input is refused, never crashes", arguments: malformed)
    func refusesMalformed(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: JSONError.self, "\(name)") { try Self.read(bytes) { _ in () } }
    }

    @Test("Every truncation of a real answer is refused")
    func truncations() throws {
        let json = Array(#"{"kind":"PodList","items":[{"metadata":{"name":"web-1","labels":{"app":"w\u00e9b"}},"spec":{"containers":[{"resources":{"requests":{"cpu":"250m","memory":1.5e3}}}]}}],"metadata":{"continue":""},"ok":true,"none":null}"#.utf8)
        #expect(Self.accepts(json))
        for length in 0..<json.count {
            #expect(!Self.accepts(Array(json[..<length])), "\(length) bytes")
        }
    }

    @Test("Random corruption of a real answer never crashes, and whatever is accepted Foundation accepts too")
    func corruption() throws {
        let json = Array(#"{"items":[{"metadata":{"name":"a-1","labels":{"k":"v\n\u00e9"}},"n":[1,-2.5e3,0,true,false,null]}],"s":"\ud83d\ude00 ok"}"#.utf8)
        let replacements: [UInt8] = Array(#"{}[],:"\ 0123456789-+.eEtrufalsn/"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xE2, 0xF0, 0xFF]
        var generator = SplitMix64(seed: 0x6A6E)
        for _ in 0..<3_000 {
            var bytes = json
            for _ in 0...Int(generator.next() % 3) {
                let index = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[index] = replacements[Int(generator.next() % UInt64(replacements.count))]
                case 1: bytes.remove(at: index)
                default: bytes.insert(replacements[Int(generator.next() % UInt64(replacements.count))], at: index)
                }
            }
            if Self.accepts(bytes) {
                #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }
}

/// A small deterministic generator, so a failing corruption is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
