import Foundation
import GantryCore
import SQLKit

/// A stored answer to a POST made with an `Idempotency-Key`.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [String: String]
    public var body: String
    public init(status: Int, headers: [String: String], body: String) { self.status = status; self.headers = headers; self.body = body }
}

public enum IdempotencyClaim: Sendable, Equatable {
    /// The key is new: run the request, then `complete` it.
    case claimed
    /// Same key and same request: answer with what was answered the first time.
    case replay(StoredResponse)
    /// Same key, a request still running: the client retried too early.
    case inProgress
    /// Same key, different request.
    case mismatch
}

/// Keys live in the database, so replicas share them; they expire after 24 hours. A claim left without an answer for
/// `SQLIdempotencyRepository.abandonedAfter` belonged to a server that died mid-request: the next request with the key
/// takes it over instead of being told for a day that the first is still running.
public protocol IdempotencyRepository: Sendable {
    func claim(tokenID: String, key: String, requestHash: String) async throws -> IdempotencyClaim
    func complete(tokenID: String, key: String, response: StoredResponse) async throws
    /// Drops a claim whose request failed, so the key can be used again.
    func release(tokenID: String, key: String) async throws
}

/// An `idempotency_keys` row as stored: a claim, and once its request succeeded, the answer to replay.
struct IdempotencyRow: Decodable {
    static let columns = "request_hash, status, headers, body"

    var requestHash: String
    var status: Int?
    var headers: String?
    var body: String?
}

public struct SQLIdempotencyRepository: IdempotencyRepository {
    static let lifetime: Int64 = 24 * 3600 * 1_000_000
    /// Far longer than any POST runs (a cluster call gives up after `--cluster-timeout`, at most 300 s), so a claim this
    /// old has no request behind it any more.
    static let abandonedAfter: Int64 = 10 * 60 * 1_000_000

    let database: any Database

    public init(database: any Database) { self.database = database }

    public func claim(tokenID: String, key: String, requestHash: String) async throws -> IdempotencyClaim {
        let now = Timestamp.now()
        return try await database.transaction { sql in
            try await sql.raw("""
                DELETE FROM idempotency_keys WHERE token_id = \(bind: tokenID) AND key = \(bind: key)
                    AND (created_at < \(bind: now - Self.lifetime) OR (status IS NULL AND created_at < \(bind: now - Self.abandonedAfter)))
                """).run()
            if let row = try await sql.raw("""
                SELECT \(unsafeRaw: IdempotencyRow.columns) FROM idempotency_keys WHERE token_id = \(bind: tokenID) AND key = \(bind: key)
                """).first(IdempotencyRow.self) {
                guard row.requestHash == requestHash else { return .mismatch }
                guard let status = row.status else { return .inProgress }
                let headers = try JSONColumn.decode([String: String].self, from: row.headers ?? "{}")
                return .replay(StoredResponse(status: status, headers: headers, body: row.body ?? ""))
            }
            do {
                try await sql.raw("""
                    INSERT INTO idempotency_keys (token_id, key, request_hash, created_at)
                    VALUES (\(bind: tokenID), \(bind: key), \(bind: requestHash), \(bind: now))
                    """).run()
            } catch {
                if case .unique? = ConstraintViolation.classify(error) { return .inProgress }
                throw error
            }
            return .claimed
        }
    }

    public func complete(tokenID: String, key: String, response: StoredResponse) async throws {
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE idempotency_keys SET status = \(bind: response.status), headers = \(bind: try JSONColumn.encode(response.headers)),
                    body = \(bind: response.body)
                WHERE token_id = \(bind: tokenID) AND key = \(bind: key)
                """).run()
        }
    }

    public func release(tokenID: String, key: String) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM idempotency_keys WHERE token_id = \(bind: tokenID) AND key = \(bind: key) AND status IS NULL").run()
        }
    }
}
