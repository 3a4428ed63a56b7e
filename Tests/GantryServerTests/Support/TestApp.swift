import Configuration
import Foundation
import GantryCore
import GantryServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

/// A fresh Gantry on a fresh database, driven through its router like a client would.
struct TestApp {
    let client: any TestClientProtocol
    let token: String
    let databaseURL: String

    /// Builds the application exactly as `main` does (`buildApplication(reader:)`) and runs `test` against it.
    static func run<T: Sendable>(
        _ database: TestDatabase, mode: TestingSetup = .router, settings: [String: String] = [:], clock: TestClock = TestClock(),
        _ test: @Sendable (TestApp) async throws -> T
    ) async throws -> T {
        try await run(url: try await database.makeURL(), mode: mode, settings: settings, clock: clock, test)
    }

    /// The same, on a database that already exists (a second replica of one installation).
    static func run<T: Sendable>(
        url: String, mode: TestingSetup = .router, settings: [String: String] = [:], clock: TestClock = TestClock(),
        _ test: @Sendable (TestApp) async throws -> T
    ) async throws -> T {
        let token = AccessToken.generate()
        // One installation, one key: replicas of a database must open each other's sealed credentials.
        let keyName = url.replacingOccurrences(of: "[^A-Za-z0-9]+", with: "-", options: .regularExpression)
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-key-\(keyName)").path
        let reader = ConfigReader(provider: InMemoryProvider(values: [
            AbsoluteConfigKey(ConfigKey(Settings.keys.database)): ConfigValue(.string(url), isSecret: false),
            AbsoluteConfigKey(ConfigKey(Settings.keys.port)): ConfigValue(.string("0"), isSecret: false),
            AbsoluteConfigKey(ConfigKey(Settings.keys.secretKeyFile)): ConfigValue(.string(keyFile), isSecret: false),
            AbsoluteConfigKey(ConfigKey(Settings.keys.bootstrapToken)): ConfigValue(.string(token), isSecret: true),
            // Status sync would rewrite statuses behind the tests' backs; the tests about it turn it on.
            AbsoluteConfigKey(ConfigKey(Settings.keys.syncInterval)): ConfigValue(.string("0"), isSecret: false),
            // The whole suite runs at once on two cores: a cluster call must not time out by accident.
            // The tests about the deadline set their own.
            AbsoluteConfigKey(ConfigKey(Settings.keys.clusterTimeout)): ConfigValue(.string("60"), isSecret: false),
        ].merging(settings.map { (AbsoluteConfigKey(ConfigKey($0.key)), ConfigValue(.string($0.value), isSecret: false)) }) { $1 }))
        if !FileManager.default.fileExists(atPath: keyFile) {
            try Data((SecretKeyFile.generatePrivateKey() + "\n").utf8).write(to: URL(fileURLWithPath: keyFile), options: .withoutOverwriting)
        }
        var logger = Logger(label: "gantry-test")
        logger.logLevel = .warning
        // A registry of its own, as `main` gives: `/metrics` answers what this app counted.
        let app = try await buildApplication(reader: reader, logger: logger, metrics: PrometheusCollectorRegistry(), clock: { clock.now })
        return try await app.test(mode) { client in
            try await test(TestApp(client: client, token: token, databaseURL: url))
        }
    }

    /// Sends one request. `json` is serialized as the body; `token: nil` sends no Authorization header.
    @discardableResult
    func request(
        _ method: HTTPRequest.Method, _ path: String, json: Any? = nil, rawBody: String? = nil,
        headers: [String: String] = [:], token: String?? = .none
    ) async throws -> Reply {
        var fields = HTTPFields()
        let bearer: String? = switch token { case .none: self.token; case .some(let value): value }
        if let bearer { fields[.authorization] = "Bearer \(bearer)" }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
            fields[.contentType] = "application/json"
        } else if let rawBody {
            body = ByteBuffer(string: rawBody)
            fields[.contentType] = "application/json"
        }
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        let response = try await client.execute(uri: path, method: method, headers: fields, body: body)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: response.body))
    }

    /// The same app, calling with another token.
    func acting(as token: String) -> TestApp { TestApp(client: client, token: token, databaseURL: databaseURL) }

    func get(_ path: String) async throws -> Reply { try await request(.get, path) }
    func post(_ path: String, _ json: Any = [String: Any](), headers: [String: String] = [:]) async throws -> Reply {
        try await request(.post, path, json: json, headers: headers)
    }
    func patch(_ path: String, _ json: Any, headers: [String: String] = [:]) async throws -> Reply {
        try await request(.patch, path, json: json, headers: headers)
    }
    func delete(_ path: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request(.delete, path, headers: headers)
    }
}

/// An answer, with its JSON picked apart.
struct Reply: Sendable {
    let status: Int
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["data"] as? [[String: Any]] ?? [] }
    var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    var errorCode: String? { error["code"] as? String }
    var details: [String: Any] { error["details"] as? [String: Any] ?? [:] }
    /// The fields a `validation_failed` answer names, in order.
    var fieldNames: [String] { (details["fields"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? [] }
    var id: String { data["id"] as? String ?? "" }
    var text: String { String(decoding: body, as: UTF8.self) }
    subscript(_ key: String) -> Any? { data[key] }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}
