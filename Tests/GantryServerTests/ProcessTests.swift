import Foundation
import GantryCore
import Testing

/// docs/api.md §1: the `gantry` executable, its flags, exit codes, bootstrap and shutdown.
@Suite("Process interface", .serialized)
struct ProcessTests {
    @Test("Bad flags exit 2 with one line naming the problem", arguments: [
        ["serve", "--port", "abc"], ["serve", "--role", "boss"], ["serve", "--database", "mysql://x"], ["serve", "--log-format", "xml"],
        ["serve", "--no-such-flag"],
    ])
    func badFlags(_ arguments: [String]) async throws {
        let directory = try temporaryDirectory()
        let result = try await GantryProcess.run(arguments, environment: ["GANTRY_DATABASE_URL": "sqlite:\(directory)/g.db"])
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains("gantry:") || result.stderr.contains("Error"))
    }

    @Test("An unreachable database exits 2 with one clear line")
    func unreachableDatabase() async throws {
        let directory = try temporaryDirectory()
        let keyFile = "\(directory)/k"
        try (SecretKeyFile.generatePrivateKey() + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let result = try await GantryProcess.run([
            "serve", "--port", String(try freePort()), "--database", "postgres://gantry:pw@127.0.0.1:\(try freePort())/gantry",
            "--secret-key-file", keyFile,
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot reach the database"))
        #expect(!result.stderr.contains("pw@"))
    }

    @Test("An unreadable key file exits 2")
    func unreadableKeyFile() async throws {
        let directory = try temporaryDirectory()
        let missing = try await GantryProcess.run(["serve", "--database", "sqlite:\(directory)/g.db", "--secret-key-file", "\(directory)/none"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("secret key file"))
        try "garbage".write(toFile: "\(directory)/bad", atomically: true, encoding: .utf8)
        let bad = try await GantryProcess.run(["serve", "--database", "sqlite:\(directory)/g.db", "--secret-key-file", "\(directory)/bad"])
        #expect(bad.status == 2)
        #expect(!bad.stderr.contains("garbage"))
    }

    @Test("PostgreSQL without --secret-key-file exits 2")
    func postgresNeedsKeyFile() async throws {
        let result = try await GantryProcess.run(["serve", "--database", "postgres://u@127.0.0.1:1/db"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("secret-key-file"))
    }

    @Test("First start bootstraps once, prints the token once, creates the key file 0600; SIGTERM exits 0")
    func bootstrapAndShutdown() async throws {
        let directory = try temporaryDirectory()
        let port = try freePort()
        let arguments = ["serve", "--port", String(port), "--database", "sqlite:\(directory)/g.db", "--log-format", "json"]
        let first = try GantryProcess(arguments)
        try await first.waitFor("listening")
        let token = try #require(first.stderr.split(separator: "\n").first { $0.hasPrefix("bootstrap token: ") }?
            .dropFirst("bootstrap token: ".count).description)
        #expect(AccessToken.isWellFormed(token))
        let me = try await curl(["http://127.0.0.1:\(port)/api/me", "-H", "Authorization: Bearer \(token)"])
        #expect(me.status == 200)
        #expect(me.body.contains("admin@localhost"))
        #expect(try await curl(["http://127.0.0.1:\(port)/healthz"]).body == #"{"status":"ok"}"#)
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/gantry.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // Every other stderr line is a JSON log object, and none of them carries the token.
        for line in first.stderr.split(separator: "\n") where !line.hasPrefix("bootstrap token: ") {
            #expect(line.hasPrefix("{"), "not JSON: \(line)")
            #expect(!line.contains(token))
        }
        first.process.terminate()
        #expect(try await first.wait() == 0)

        let second = try GantryProcess(arguments)
        try await second.waitFor("listening")
        #expect(!second.stderr.contains("bootstrap token"))
        #expect(try await curl(["http://127.0.0.1:\(port)/api/me", "-H", "Authorization: Bearer \(token)"]).status == 200)
        second.process.interrupt()
        #expect(try await second.wait() == 0)
    }

    @Test("GANTRY_BOOTSTRAP_TOKEN becomes the admin token and is never printed")
    func bootstrapTokenFromEnvironment() async throws {
        let (server, port, token) = try await Self.startServer()
        #expect(try await curl(["http://127.0.0.1:\(port)/api/me", "-H", "Authorization: Bearer \(token)"]).status == 200)
        #expect(!server.stderr.contains(token))
        server.process.terminate()
        #expect(try await server.wait() == 0)
    }

    @Test("Secrets sent to the API never reach the log")
    func secretsStayOutOfLogs() async throws {
        let (server, port, token) = try await Self.startServer()
        let secret = "AKIA-super-secret-value-42"
        let body = #"{"name":"acct","provider":"aws","credentials":{"accessKeyId":"AKIAX","secretAccessKey":"\#(secret)"}}"#
        for path in ["/api/cloud-accounts", "/api/cloud-accounts", "/api/projects"] {
            _ = try await curl(["http://127.0.0.1:\(port)\(path)", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json", "-d", body])
        }
        _ = try await curl(["http://127.0.0.1:\(port)/api/projects", "-H", "Authorization: Bearer \(token)x"])
        server.process.terminate()
        #expect(try await server.wait() == 0)
        #expect(!server.stderr.contains(secret))
        #expect(!server.stderr.contains(token))
    }

    /// A server on a fresh SQLite database whose admin token the test chose.
    static func startServer() async throws -> (GantryProcess, port: Int, token: String) {
        let directory = try temporaryDirectory()
        let port = try freePort()
        let token = AccessToken.generate()
        let server = try GantryProcess(["serve", "--port", String(port), "--database", "sqlite:\(directory)/g.db"],
                                       environment: ["GANTRY_BOOTSTRAP_TOKEN": token])
        try await server.waitFor("listening")
        return (server, port, token)
    }

    @Test("migrate applies migrations once; admin create-organization prints a working token")
    func migrateAndCreateOrganization() async throws {
        let directory = try temporaryDirectory()
        let database = "sqlite:\(directory)/g.db"
        let first = try await GantryProcess.run(["migrate", "--database", database])
        #expect(first.status == 0)
        #expect(first.stdout.contains("0001_initial_schema"))
        let again = try await GantryProcess.run(["migrate", "--database", database])
        #expect(again.stdout.contains("up to date"))
        let created = try await GantryProcess.run(["admin", "create-organization", "--name", "acme", "--admin-email", "ops@acme.test", "--database", database])
        #expect(created.status == 0)
        let token = try #require(created.stdout.split(separator: "\n").first { $0.hasPrefix("token: ") }?.dropFirst(7).description)
        let duplicate = try await GantryProcess.run(["admin", "create-organization", "--name", "ACME", "--admin-email", "x@y.z", "--database", database])
        #expect(duplicate.status == 2)

        let port = try freePort()
        let server = try GantryProcess(["serve", "--port", String(port), "--database", database])
        try await server.waitFor("listening")
        let me = try await curl(["http://127.0.0.1:\(port)/api/me", "-H", "Authorization: Bearer \(token)"])
        #expect(me.body.contains("ops@acme.test") && me.body.contains("acme"))
        server.process.terminate()
        #expect(try await server.wait() == 0)
    }

    @Test("keygen prints a key and keygen --public its public half")
    func keygen() async throws {
        let key = try await GantryProcess.run(["keygen"])
        #expect(key.status == 0)
        let text = key.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try SecretKeyFile.decode(text).count == 32)
        let directory = try temporaryDirectory()
        try text.write(toFile: "\(directory)/k", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = GantryProcess.binary
        process.arguments = ["keygen", "--public"]
        process.standardInput = FileHandle(forReadingAtPath: "\(directory)/k")
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let publicHalf = String(decoding: pipe.fileHandleForReading.readToEndRetryingInterrupts(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(publicHalf == (try SecretKeyFile.publicHalf(ofPrivateKey: text)))
    }
}
