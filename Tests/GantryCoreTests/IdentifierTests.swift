import Foundation
import GantryCore
import Testing

@Suite("Identifiers and cursors")
struct IdentifierTests {
    @Test("IDs are <prefix>_ + 26 lowercase Crockford base32 characters")
    func format() {
        let generator = IDGenerator()
        for prefix in IDPrefix.allCases {
            let id = generator.make(prefix)
            #expect(id.hasPrefix(prefix.rawValue + "_"))
            #expect(id.count == prefix.rawValue.count + 27)
            #expect(IDGenerator.isValid(id, prefix: prefix))
            #expect(id.dropFirst(prefix.rawValue.count + 1).allSatisfy { "0123456789abcdefghjkmnpqrstvwxyz".contains($0) })
        }
    }

    @Test("IDs made in one millisecond still sort in creation order")
    func monotonic() {
        let generator = IDGenerator()
        let now = Date()
        let ids = (0..<1000).map { _ in generator.make(.project, now: now) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test("IDs of later milliseconds sort after earlier ones")
    func timeOrdered() {
        let generator = IDGenerator()
        let early = generator.make(.project, now: Date(timeIntervalSince1970: 1_000))
        let late = generator.make(.project, now: Date(timeIntervalSince1970: 2_000))
        #expect(early < late)
    }

    @Test("Malformed IDs are rejected", arguments: ["prj_", "prj_0123", "env_01m8k24re2jsr8zn5nzryp1s8n", "prj_01M8K24RE2JSR8ZN5NZRYP1S8N", "prj_01m8k24re2jsr8zn5nzryp1s8u"])
    func malformed(_ id: String) {
        #expect(!IDGenerator.isValid(id, prefix: .project))
    }

    @Test("A cursor round-trips its ID and rejects anything else")
    func cursor() {
        let id = IDGenerator().make(.project)
        #expect(Cursor.decode(Cursor.encode(id)) == id)
        #expect(Cursor.decode("garbage") == nil)
        #expect(Cursor.decode(Data("v1:not-an-id".utf8).base64EncodedString()) == nil)
    }

    @Test("Page parameters are validated")
    func pageParameters() throws {
        #expect(try PageRequest.parse(limit: nil, cursor: nil).limit == 50)
        #expect(throws: AppError.self) { try PageRequest.parse(limit: 0, cursor: nil) }
        #expect(throws: AppError.self) { try PageRequest.parse(limit: 201, cursor: nil) }
        #expect(try PageRequest.parse(limit: 200, cursor: nil).limit == 200)
    }

    @Test("Tokens are gnt_ + 40 base62 characters and stored only as a SHA-256")
    func tokens() {
        let token = AccessToken.generate()
        #expect(AccessToken.isWellFormed(token))
        #expect(token.count == 44)
        #expect(AccessToken.hash(token).count == 64)
        #expect(!AccessToken.hash(token).contains(token))
        #expect(!AccessToken.isWellFormed("gnt_short"))
        #expect(!AccessToken.isWellFormed("gnt_" + String(repeating: "-", count: 40)))
    }
}
