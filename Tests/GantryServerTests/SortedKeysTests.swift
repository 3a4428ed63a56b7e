import Foundation
import Testing

/// Every JSON answer lists its object keys in one stable order: sorted (byte order of the UTF-8 keys), in every object
/// at every depth — the success envelope and its resources as much as the error envelope.
///
/// The success answers are encoded by the OpenAPI runtime with the `jsonEncodingOptions` given in
/// `Application+build.swift`; they pass once `.sortedKeys` is among them.
@Suite("Sorted JSON keys")
struct SortedKeysTests {
    @Test("Answers list their keys in sorted order, in every object", arguments: TestDatabase.all)
    func sortedKeys(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let answers = [
                ("create", try await app.post("/api/projects", ["name": "sorted", "description": "d"])),
                ("get project", try await app.get("/api/projects/\(tree.project)")),
                ("list environments", try await app.get("/api/projects/\(tree.project)/environments")),
                ("stats", try await app.get("/api/projects/stats")),
                ("me", try await app.get("/api/me")),
                ("audit", try await app.get("/api/audit-logs?limit=5")),
                ("validation error", try await app.post("/api/projects", ["name": ""])),
                ("not found", try await app.get("/api/projects/prj_00000000000000000000000000")),
            ]
            for (label, reply) in answers {
                let objects = try JSONKeyOrder.objects(in: reply.body)
                #expect(objects.count >= 2, "\(label): \(reply.text.prefix(200))")
                for keys in objects {
                    #expect(keys == keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) },
                            "\(label): keys \(keys) are not sorted in \(reply.text.prefix(300))")
                }
            }
        }
    }
}

/// The keys of every JSON object in a document, in the order they are written (JSONSerialization loses it).
enum JSONKeyOrder {
    struct Malformed: Error {}

    static func objects(in data: Data) throws -> [[String]] {
        var parser = Parser(bytes: Array(data))
        try parser.value()
        return parser.objects
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var objects: [[String]] = []

        mutating func skipSpace() { while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 } }

        mutating func value() throws {
            skipSpace()
            guard index < bytes.count else { throw Malformed() }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                let slot = objects.count
                objects.append([])
                skipSpace()
                if bytes[index] == UInt8(ascii: "}") { index += 1; return }
                while true {
                    skipSpace()
                    objects[slot].append(try string())
                    skipSpace()
                    guard bytes[index] == UInt8(ascii: ":") else { throw Malformed() }
                    index += 1
                    try value()
                    skipSpace()
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "}") else { throw Malformed() }
                    index += 1
                    return
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                while true {
                    try value()
                    skipSpace()
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "]") else { throw Malformed() }
                    index += 1
                    return
                }
            case UInt8(ascii: "\""):
                _ = try string()
            default:
                // A number, true, false or null: up to the next delimiter.
                while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) {
                    index += 1
                }
            }
        }

        /// A string token; escapes are kept as written (keys here are plain ASCII).
        mutating func string() throws -> String {
            guard bytes[index] == UInt8(ascii: "\"") else { throw Malformed() }
            index += 1
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { throw Malformed() }
            defer { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }
}
