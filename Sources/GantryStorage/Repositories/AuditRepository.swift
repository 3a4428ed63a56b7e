import Foundation
import GantryCore
import SQLKit

/// Filters of `GET /audit-logs` and its export (docs/api.md §5).
public struct AuditFilter: Sendable, Equatable {
    public var projectID: String?
    public var environmentID: String?
    public var deploymentID: String?
    public var actorEmail: String?
    public var action: String?
    public var resourceType: String?
    public var resourceID: String?
    public var from: Date?
    public var to: Date?

    public init(
        projectID: String? = nil, environmentID: String? = nil, deploymentID: String? = nil, actorEmail: String? = nil,
        action: String? = nil, resourceType: String? = nil, resourceID: String? = nil, from: Date? = nil, to: Date? = nil
    ) {
        self.projectID = projectID; self.environmentID = environmentID; self.deploymentID = deploymentID
        self.actorEmail = actorEmail; self.action = action; self.resourceType = resourceType; self.resourceID = resourceID
        self.from = from; self.to = to
    }
}

/// Entries read a page at a time, the next page only when the reader has consumed the last: the pace is the
/// client's, and at most one page is in memory.
public struct AuditExport: AsyncSequence, Sendable {
    public typealias Element = AuditEntry
    /// The page of entries after the given id (`""` for the first).
    let page: @Sendable (String) async throws -> [AuditEntry]

    public struct AsyncIterator: AsyncIteratorProtocol {
        let page: @Sendable (String) async throws -> [AuditEntry]
        var pending: [AuditEntry] = []
        var after = ""
        var finished = false

        public mutating func next() async throws -> AuditEntry? {
            if pending.isEmpty, !finished {
                let entries = try await page(after)
                finished = entries.count < SQLAuditRepository.exportBatch
                after = entries.last?.id ?? after
                pending = entries.reversed()
            }
            return pending.popLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(page: page) }
}

public struct AuditVerification: Sendable, Equatable {
    public var ok: Bool
    public var entries: Int
    public var firstBadID: String?
}

public protocol AuditRepository: Sendable {
    /// Newest first.
    func list(_ filter: AuditFilter, _ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<AuditEntry>
    /// Every matching entry, oldest first, read in pages so memory stays flat however long the log.
    func export(_ filter: AuditFilter, for caller: Caller, requiring policy: String) throws -> AuditExport
    /// Walks the organization's chain in order and recomputes every hash.
    func verify(for caller: Caller, requiring policy: String) async throws -> AuditVerification
}

/// An `audit_logs` row as stored: the entry and its place in the organization's chain.
struct AuditRow: Decodable {
    static let columns = """
        id, seq, action, actor_type, actor_id, actor_email, token_id, resource_type, resource_id, project_id, environment_id,
        deployment_id, request_id, changes, created_at, hash, prev_hash
        """

    var id: String
    var seq: Int
    var action: String
    var actorType: String
    var actorId: String?
    var actorEmail: String?
    var tokenId: String?
    var resourceType: String
    var resourceId: String
    var projectId: String?
    var environmentId: String?
    var deploymentId: String?
    var requestId: String?
    var changes: String?
    var createdAt: Int64
    var hash: String
    var prevHash: String?

    var entry: AuditEntry {
        get throws {
            AuditEntry(
                id: id, action: action, actor: AuditActor(type: actorType, id: actorId, email: actorEmail, tokenId: tokenId),
                resourceType: resourceType, resourceId: resourceId, projectId: projectId, environmentId: environmentId,
                deploymentId: deploymentId, requestId: requestId,
                changes: try changes.map { try JSONColumn.decode([String: JSONValue].self, from: $0) },
                createdAtMicros: createdAt, hash: hash, prevHash: prevHash
            )
        }
    }
}

public struct SQLAuditRepository: AuditRepository {
    static let exportBatch = 500

    let database: any Database

    public init(database: any Database) { self.database = database }

    public func list(_ filter: AuditFilter, _ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<AuditEntry> {
        try caller.permissions.authorize(policy, on: .organization, resource: "audit log")
        let after: SQLQueryString = page.after.map { " AND id < \(bind: $0)" } ?? ""
        let rows = try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: AuditRow.columns) FROM audit_logs WHERE org_id = \(bind: caller.organizationID)"
                + Self.conditions(filter) + after + " ORDER BY id DESC LIMIT \(literal: page.limit + 1)").all(AuditRow.self)
        }
        return Page(rows: try rows.map { try $0.entry }, limit: page.limit, key: \.id)
    }

    public func export(_ filter: AuditFilter, for caller: Caller, requiring policy: String) throws -> AuditExport {
        try caller.permissions.authorize(policy, on: .organization, resource: "audit log")
        return AuditExport { [database] after in
            try await database.read { sql in
                try await sql.raw("SELECT \(unsafeRaw: AuditRow.columns) FROM audit_logs WHERE org_id = \(bind: caller.organizationID)"
                    + Self.conditions(filter) + " AND id > \(bind: after) ORDER BY id LIMIT \(literal: Self.exportBatch)").all(AuditRow.self)
                    .map { try $0.entry }
            }
        }
    }

    public func verify(for caller: Caller, requiring policy: String) async throws -> AuditVerification {
        try caller.permissions.authorize(policy, on: .organization, resource: "audit log")
        var previousHash: String?
        var previousSeq = 0
        var count = 0
        while true {
            let rows = try await database.read { [previousSeq] sql in
                try await sql.raw("""
                    SELECT \(unsafeRaw: AuditRow.columns) FROM audit_logs WHERE org_id = \(bind: caller.organizationID) AND seq > \(bind: previousSeq)
                    ORDER BY seq LIMIT \(literal: Self.exportBatch)
                    """).all(AuditRow.self)
            }
            for row in rows {
                let entry = try row.entry
                let seq = row.seq
                count += 1
                // A gap in the sequence is a deleted entry: the one after it no longer links.
                if seq != previousSeq + 1 || entry.prevHash != previousHash || AuditChain.hash(entry) != entry.hash {
                    return AuditVerification(ok: false, entries: count, firstBadID: entry.id)
                }
                previousHash = entry.hash
                previousSeq = seq
            }
            if rows.count < Self.exportBatch { break }
        }
        return AuditVerification(ok: true, entries: count, firstBadID: nil)
    }

    static func conditions(_ filter: AuditFilter) -> SQLQueryString {
        var sql: SQLQueryString = ""
        if let value = filter.projectID { sql = sql + " AND project_id = \(bind: value)" }
        if let value = filter.environmentID { sql = sql + " AND environment_id = \(bind: value)" }
        if let value = filter.deploymentID { sql = sql + " AND deployment_id = \(bind: value)" }
        if let value = filter.actorEmail { sql = sql + " AND LOWER(actor_email) = \(bind: value.lowercased())" }
        // Entries keep the spelling they were hashed with; a filter matches every spelling of its name.
        if let value = filter.action { sql = sql + " AND action IN (\(binds: AuditSpelling.variants(of: value)))" }
        if let value = filter.resourceType { sql = sql + " AND resource_type IN (\(binds: AuditSpelling.variants(of: value)))" }
        if let value = filter.resourceID { sql = sql + " AND resource_id = \(bind: value)" }
        if let value = filter.from { sql = sql + " AND created_at >= \(bind: Timestamp.micros(value))" }
        if let value = filter.to { sql = sql + " AND created_at < \(bind: Timestamp.micros(value))" }
        return sql
    }
}

/// Writes the audit entry of a change inside the transaction that makes it, so both commit or neither.
/// Called last in each transaction: the chain's head stays locked only from here to the commit.
enum AuditTrail {
    static func record(
        _ event: AuditEvent, by caller: Caller, ids: IDGenerator, on sql: any SQLDatabase
    ) async throws {
        try await record([event], actor: .user(caller), org: caller.organizationID, requestID: caller.requestID, ids: ids, on: sql)
    }

    static func record(
        _ events: [AuditEvent], by caller: Caller, ids: IDGenerator, on sql: any SQLDatabase
    ) async throws {
        try await record(events, actor: .user(caller), org: caller.organizationID, requestID: caller.requestID, ids: ids, on: sql)
    }

    static func record(
        _ event: AuditEvent, actor: AuditActor, org: String, requestID: String?, ids: IDGenerator, on sql: any SQLDatabase
    ) async throws {
        try await record([event], actor: actor, org: org, requestID: requestID, ids: ids, on: sql)
    }

    /// 18 values per entry: 1,000 entries a statement stay well under SQLite's and PostgreSQL's limits on binds.
    static let entriesPerStatement = 1000

    /// Appends `events` to the organization's hash chain, in order: the chain's head is locked and moved once, and the
    /// entries go in with one statement per thousand.
    static func record(
        _ events: [AuditEvent], actor: AuditActor, org: String, requestID: String?, ids: IDGenerator, on sql: any SQLDatabase
    ) async throws {
        guard !events.isEmpty else { return }
        struct Head: Decodable { var seq: Int; var hash: String? }
        let lockedHead: SQLQueryString = "SELECT seq, hash FROM audit_heads WHERE org_id = \(bind: org)\(RowLocking(.update, of: "audit_heads"))"
        var head = try await sql.raw(lockedHead).first(Head.self)
        if head == nil {
            try await sql.raw("INSERT INTO audit_heads (org_id, seq, hash) VALUES (\(bind: org), 0, NULL) ON CONFLICT (org_id) DO NOTHING").run()
            head = try await sql.raw(lockedHead).first(Head.self)
        }
        var seq = head?.seq ?? 0
        var previous = head?.hash
        let now = Timestamp.now()
        for start in stride(from: 0, to: events.count, by: entriesPerStatement) {
            var insert = sql.insert(into: "audit_logs").columns(
                "id", "org_id", "seq", "action", "actor_type", "actor_id", "actor_email", "token_id", "resource_type", "resource_id",
                "project_id", "environment_id", "deployment_id", "request_id", "changes", "created_at", "hash", "prev_hash")
            for event in events[start..<min(start + entriesPerStatement, events.count)] {
                seq += 1
                let entry = AuditEntry(
                    id: ids.make(.auditLog), event: event, actor: actor, requestID: requestID?.isEmpty == false ? requestID : nil,
                    createdAtMicros: now, prevHash: previous
                )
                insert = insert.values(
                    SQLBind(entry.id), SQLBind(org), SQLBind(seq), SQLBind(entry.action), SQLBind(actor.type), SQLBind(actor.id),
                    SQLBind(actor.email), SQLBind(actor.tokenId), SQLBind(entry.resourceType), SQLBind(entry.resourceId), SQLBind(entry.projectId),
                    SQLBind(entry.environmentId), SQLBind(entry.deploymentId), SQLBind(entry.requestId),
                    SQLBind(try entry.changes.map { try JSONColumn.encode($0) }), SQLBind(entry.createdAtMicros), SQLBind(entry.hash),
                    SQLBind(entry.prevHash))
                previous = entry.hash
            }
            try await insert.run()
        }
        try await sql.raw("UPDATE audit_heads SET seq = \(bind: seq), hash = \(bind: previous) WHERE org_id = \(bind: org)").run()
    }
}

extension Changes {
    /// The change a soft delete makes.
    static func deleted(at micros: Int64) -> [String: JSONValue] {
        ["deletedAt": .object(["from": .null, "to": JSONValue(Timestamp.date(micros))])]
    }
}

/// A repository whose changes are audited through its own database and ID generator.
protocol AuditedRepository: Sendable {
    var database: any Database { get }
    var ids: IDGenerator { get }
}

extension AuditedRepository {
    func record(_ event: AuditEvent, by caller: Caller, on sql: any SQLDatabase) async throws {
        try await AuditTrail.record(event, by: caller, ids: ids, on: sql)
    }
}
