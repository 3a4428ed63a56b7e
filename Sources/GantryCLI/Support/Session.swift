import ArgumentParser
import AsyncHTTPClient
import Foundation
import GantryAPI
import HTTPTypes
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// Flags every API command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Profile in the config file (GANTRY_PROFILE; default: the current one).", valueName: "name"))
    var profile: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output format.", valueName: "format"))
    var output: OutputFormat = .table
}

/// Failures the CLI reports itself. `usage` exits 2, the others 1.
enum CLIError: Error {
    case usage(String)
    case failure(String)
    case api(APIError)
}

/// The error envelope `{"error": {"code", "message", "details", "requestId"}}`.
struct APIError: Error {
    var status: Int
    var code: String
    var message: String
    var requestId: String?
    var details: JSONValue?
    /// What to do about it, printed after the details (set by a command that knows).
    var hint: String?

    /// The API error a call failed with: the middleware's, as thrown or wrapped in the generated client's `ClientError`.
    static func unwrapped(_ error: any Error) -> APIError? {
        if let error = error as? APIError { return error }
        return (error as? ClientError)?.underlyingError as? APIError
    }

    /// `details.field`, as 409 conflict answers name the field in conflict.
    var field: String? {
        guard case .object(let object)? = details, case .string(let field)? = object["field"] else { return nil }
        return field
    }
}

/// Everything a command needs: the typed client for the chosen profile and the printer.
struct Session {
    let client: Client
    let printer: Printer
    let server: String
    let profileName: String

    static func open(profile chosen: String?, format: OutputFormat) throws -> Session {
        let environment = ProcessInfo.processInfo.environment
        let store = ConfigStore.default
        let config = try store.load()
        let name = chosen ?? environment["GANTRY_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? config.currentProfile ?? "default"
        let profile = config.profiles[name]
        if chosen != nil, profile == nil, environment["GANTRY_SERVER"] == nil || environment["GANTRY_TOKEN"] == nil {
            throw CLIError.usage("no profile named '\(name)' in \(store.path); run: gantry login --profile \(name) --server URL")
        }
        let rawServer = environment["GANTRY_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? profile?.server
        let token = environment["GANTRY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? profile?.token
        guard let rawServer, let token else {
            throw CLIError.usage("not logged in; run: gantry login --server URL (or set GANTRY_SERVER and GANTRY_TOKEN)")
        }
        let server = try ServerAddress.normalise(rawServer)
        return Session(client: try makeClient(server: server, token: token), printer: Printer(format: format), server: server, profileName: name)
    }

    /// One HTTP client for the process (never shut down: it lives as long as the command). A refused
    /// connection fails at once instead of being retried until the request's deadline.
    static let httpClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func makeClient(server: String, token: String) throws -> Client {
        Client(
            serverURL: try ServerAddress.apiURL(server),
            configuration: Configuration(dateTranscoder: RFC3339Transcoder()),
            transport: AsyncHTTPClientTransport(configuration: .init(client: httpClient, timeout: .seconds(60))),
            middlewares: [HeadersMiddleware(token: token), ExplicitNullsMiddleware(), ErrorEnvelopeMiddleware()]
        )
    }
}

/// Adds the bearer token and a user agent to every request.
struct HeadersMiddleware: ClientMiddleware {
    let token: String
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(token)"
        request.headerFields[.userAgent] = "gantry-cli"
        return try await next(request, body, baseURL)
    }
}

/// The fields a request body must carry as an explicit `null` (PATCH semantics: `null` clears, absent keeps).
/// The generated body types leave out every `nil`, so a command that clears a field names it here:
///
///     try await ExplicitNulls.$fields.withValue(["ingress"]) { try await client.updateDeployment(…) }
enum ExplicitNulls {
    @TaskLocal static var fields: Set<String> = []
}

/// Adds `"field": null` to the JSON object of the request body for each of `ExplicitNulls.fields` the body lacks.
struct ExplicitNullsMiddleware: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let fields = ExplicitNulls.fields
        guard !fields.isEmpty, let body else { return try await next(request, body, baseURL) }
        let data = try await Data(collecting: body, upTo: 16 << 20)
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return try await next(request, HTTPBody(data), baseURL)
        }
        for field in fields where object[field] == nil { object[field] = NSNull() }
        let rewritten = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        var request = request
        if request.headerFields[.contentLength] != nil { request.headerFields[.contentLength] = String(rewritten.count) }
        return try await next(request, HTTPBody(rewritten), baseURL)
    }
}

/// Turns every 4xx/5xx answer into an `APIError` carrying the envelope's message and request id.
struct ErrorEnvelopeMiddleware: ClientMiddleware {
    struct Envelope: Decodable {
        struct Payload: Decodable {
            var code: String
            var message: String
            var details: JSONValue?
            var requestId: String?
        }
        var error: Payload
    }

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.code >= 400 else { return (response, responseBody) }
        let headerID = response.headerFields[HTTPField.Name("X-Request-Id")!]
        var data = Data()
        if let responseBody { data = (try? await Data(collecting: responseBody, upTo: 1 << 20)) ?? Data() }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: data) {
            throw APIError(status: response.status.code, code: envelope.error.code, message: envelope.error.message,
                           requestId: envelope.error.requestId ?? headerID, details: envelope.error.details)
        }
        throw APIError(status: response.status.code, code: "http_\(response.status.code)",
                       message: "the server answered \(response.status.code) \(response.status.reasonPhrase)",
                       requestId: headerID, details: nil)
    }
}

/// RFC 3339 in UTC with a `Z`, as the server writes it; reading also accepts fractions and offsets.
struct RFC3339Transcoder: DateTranscoder {
    func encode(_ date: Date) throws -> String { Format.date(date) }
    func decode(_ string: String) throws -> Date {
        if let date = Format.parseDate(string) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Expected an RFC 3339 date-time, got '\(string)'."))
    }
}

/// Runs a command body and maps failures onto the exit codes: 1 for API and runtime errors, 2 for usage.
enum CLI {
    static func run(_ options: GlobalOptions, _ body: (Session) async throws -> Void) async throws {
        try await run(profile: options.profile, format: options.output, body)
    }

    static func run(profile: String?, format: OutputFormat, _ body: (Session) async throws -> Void) async throws {
        try await guarded {
            let session = try Session.open(profile: profile, format: format)
            try await body(session)
        }
    }

    static func guarded(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            throw report(error)
        }
    }

    /// Prints the failure on stderr and returns the exit code to throw.
    static func report(_ error: any Error) -> ExitCode {
        switch error {
        case let error as CLIError:
            switch error {
            case .usage(let message):
                Terminal.error(message)
                return ExitCode(2)
            case .failure(let message):
                Terminal.error(message)
                return ExitCode(1)
            case .api(let api):
                return report(api)
            }
        case let error as APIError:
            var lines = ["\(error.message) (\(error.code), HTTP \(error.status))"]
            lines += describe(details: error.details)
            if let hint = error.hint { lines.append(hint) }
            Terminal.error(lines.joined(separator: "\n"))
            if let id = error.requestId { Terminal.line("request id: \(id)") }
            return ExitCode(1)
        case let error as ClientError:
            if let api = error.underlyingError as? APIError { return report(api) }
            if let cli = error.underlyingError as? CLIError { return report(cli) }
            if error.underlyingError is DecodingError || error.response != nil {
                Terminal.error("unexpected answer to \(error.operationID) from the server: \(error.underlyingError)")
            } else {
                Terminal.error("cannot reach \(error.baseURL?.absoluteString ?? "the server"): \(describe(transport: error.underlyingError))")
            }
            return ExitCode(1)
        default:
            Terminal.error("\(error)")
            return ExitCode(1)
        }
    }

    static func describe(transport error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return String(describing: error)
    }

    /// The lists of `details` shown one entry per line, as `name: message`: validation `fields`, and the failed
    /// `checks` of 422 preflight_failed. By list: the key naming an entry, and what stands in when it is missing.
    static let entryLists = ["fields": (name: "field", missing: "?"), "checks": (name: "check", missing: "check")]

    /// `details` for a person: validation fields and preflight checks one per line, other keys as `key: value`.
    static func describe(details: JSONValue?) -> [String] {
        guard case .object(let object)? = details else { return [] }
        var lines: [String] = []
        for key in object.keys.sorted() {
            let value = object[key]!
            if let list = entryLists[key], case .array(let entries) = value {
                for case .object(let entry) in entries {
                    lines.append("  \(entry[list.name]?.text ?? list.missing): \(entry["message"]?.text ?? "")")
                }
            } else {
                lines.append("  \(key): \(value.text)")
            }
        }
        return lines
    }
}

/// The answer of a successful call, or the API error it carries.
extension Session {
    /// Follows `nextCursor` when `all`; otherwise returns one page and says on stderr when there is more.
    func pages<T>(_ list: ListOptions, _ fetch: (_ limit: Int?, _ cursor: String?) async throws -> ([T], String?)) async throws -> [T] {
        if list.all {
            var items: [T] = []
            var cursor = list.cursor
            repeat {
                let (page, next) = try await fetch(list.limit ?? 200, cursor)
                items += page
                cursor = next
            } while cursor != nil
            return items
        }
        let (page, next) = try await fetch(list.limit, list.cursor)
        if let next { Terminal.line("more results: add --all, or --cursor \(next)") }
        return page
    }
}

/// `--limit`, `--cursor` and `--all` of every list.
struct ListOptions: ParsableArguments {
    @Option(help: "Items per page (1–200).") var limit: Int?
    @Option(help: "Start after this cursor (from a previous page).") var cursor: String?
    @Flag(help: "Follow cursors and list everything.") var all = false

    func validate() throws {
        if let limit, !(1...200).contains(limit) { throw ValidationError("--limit must be between 1 and 200") }
    }
}
