import Foundation
import HTTPTypes
import Testing

/// docs/api.md §2: 405 `method_not_allowed` names the allowed methods in `Allow`: HTTP methods only, never a key of
/// the OpenAPI path item that is not an operation (`parameters`, `summary`, …).
@Suite("Allow header")
struct AllowHeaderTests {
    static let httpMethods: Set<String> = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"]

    @Test("Allow on a 405 lists only HTTP methods, for every path of the document", arguments: [TestDatabase.sqlite])
    func allowListsOnlyMethods(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let document = try await app.request(.get, "/api/openapi.json", token: .some(nil)).json
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(paths.values.contains { ($0 as? [String: Any])?["parameters"] != nil }, "the document has path-level parameters")
            for (template, item) in paths.sorted(by: { $0.key < $1.key }) {
                let declared = Set(((item as? [String: Any]) ?? [:]).keys.map { $0.uppercased() }).intersection(Self.httpMethods)
                // Any value fits a parameter segment: the route table matches templates, not IDs.
                let path = "/api" + template.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x1", options: .regularExpression)
                let reply = try await app.request(HTTPRequest.Method("PURGE")!, path)
                #expect(reply.status == 405, "\(path): \(reply.text)")
                #expect(reply.errorCode == "method_not_allowed", "\(path)")
                let allow = Set((reply.header("Allow") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                #expect(!allow.isEmpty && allow.isSubset(of: Self.httpMethods), "\(path): Allow: \(reply.header("Allow") ?? "none")")
                // A literal path such as /projects/stats also matches its parameter sibling (/projects/{projectID}),
                // whose methods the router would route there too; every declared method is listed.
                #expect(declared.isSubset(of: allow), "\(path): Allow: \(reply.header("Allow") ?? "none"), declared \(declared.sorted())")
            }
            // The path item of /tokens/{tokenID} carries `parameters` beside its one operation.
            #expect(try await app.request(.get, "/api/tokens/tok_x").header("Allow") == "DELETE")
        }
    }

    @Test("A concrete path is matched before its templated sibling: PATCH /projects/stats is 405, not a project named stats")
    func literalBeforeTemplate() async throws {
        try await TestApp.run(.sqlite) { app in
            let patch = try await app.request(.patch, "/api/projects/stats", json: ["name": "x"])
            #expect(patch.status == 405, "\(patch.text)")
            #expect(patch.header("Allow") == "GET")
            let delete = try await app.request(.delete, "/api/projects/stats")
            #expect(delete.status == 405)
            #expect(try await app.get("/api/projects/stats").status == 200)
        }
    }
}
