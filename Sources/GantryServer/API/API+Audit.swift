import Foundation
import GantryAPI
import GantryCore
import GantryStorage
import OpenAPIRuntime

extension APIImplementation {
    func listAuditLogs(_ input: Operations.ListAuditLogs.Input) async throws -> Operations.ListAuditLogs.Output {
        let policy = try OperationTable.policy(Operations.ListAuditLogs.id)
        let q = input.query
        let filter = try Self.auditFilter(
            projectId: q.projectId, environmentId: q.environmentId, deploymentId: q.deploymentId, actor: q.actor, action: q.action,
            resourceType: q.resourceType, resourceId: q.resourceId, from: q.from, to: q.to
        )
        let page = try await repositories.audit.list(filter, try PageRequest.parse(limit: q.limit, cursor: q.cursor), for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.AuditLogEntry.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func exportAuditLogs(_ input: Operations.ExportAuditLogs.Input) async throws -> Operations.ExportAuditLogs.Output {
        let policy = try OperationTable.policy(Operations.ExportAuditLogs.id)
        let q = input.query
        let filter = try Self.auditFilter(
            projectId: q.projectId, environmentId: q.environmentId, deploymentId: q.deploymentId, actor: q.actor, action: q.action,
            resourceType: q.resourceType, resourceId: q.resourceId, from: q.from, to: q.to
        )
        let entries = try repositories.audit.export(filter, for: try RequestScope.caller(), requiring: policy)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let transcoder = RFC3339DateTranscoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(try transcoder.encode(date))
        }
        // One line per entry, produced as the client reads: the log is never held in memory.
        let lines = entries.map { entry -> ArraySlice<UInt8> in
            var line = try encoder.encode(Components.Schemas.AuditLogEntry(entry))
            line.append(UInt8(ascii: "\n"))
            return ArraySlice(line)
        }
        return .ok(.init(body: .applicationXNdjson(HTTPBody(lines, length: .unknown, iterationBehavior: .single))))
    }

    func verifyAuditLog(_ input: Operations.VerifyAuditLog.Input) async throws -> Operations.VerifyAuditLog.Output {
        let policy = try OperationTable.policy(Operations.VerifyAuditLog.id)
        let result = try await repositories.audit.verify(for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: .init(
            ok: result.ok, entries: result.entries, firstBadId: result.firstBadID, additionalProperties: .nulls(["firstBadId": result.firstBadID == nil])
        )))))
    }

    static func auditFilter(
        projectId: String?, environmentId: String?, deploymentId: String?, actor: String?, action: String?,
        resourceType: String?, resourceId: String?, from: Date?, to: Date?
    ) throws -> AuditFilter {
        var validator = Validator()
        if let projectId { validator.id(projectId, prefix: .project, field: "projectId") }
        if let environmentId { validator.id(environmentId, prefix: .environment, field: "environmentId") }
        if let deploymentId { validator.id(deploymentId, prefix: .deployment, field: "deploymentId") }
        if let from, let to, from > to { validator.fail("to", "must not be before from") }
        try validator.check()
        return AuditFilter(
            projectID: projectId, environmentID: environmentId, deploymentID: deploymentId, actorEmail: actor, action: action,
            resourceType: resourceType, resourceID: resourceId, from: from, to: to
        )
    }
}

extension Components.Schemas.AuditLogEntry {
    init(_ entry: AuditEntry) {
        self.init(
            id: entry.id, action: entry.action,
            actor: .init(
                _type: entry.actor.type == "system" ? .system : .user, id: entry.actor.id, email: entry.actor.email, tokenId: entry.actor.tokenId,
                additionalProperties: .nulls(["id": entry.actor.id == nil, "email": entry.actor.email == nil, "tokenId": entry.actor.tokenId == nil])
            ),
            resourceType: entry.resourceType, resourceId: entry.resourceId, projectId: entry.projectId, environmentId: entry.environmentId,
            deploymentId: entry.deploymentId, requestId: entry.requestId,
            changes: entry.changes.map { changes in
                .init(additionalProperties: (try? OpenAPIObjectContainer(unvalidatedValue: changes.mapValues(\.sendable))) ?? .init())
            },
            createdAt: Date(timeIntervalSince1970: Double(entry.createdAtMicros) / 1_000_000), hash: entry.hash, prevHash: entry.prevHash,
            additionalProperties: .nulls([
                "projectId": entry.projectId == nil, "environmentId": entry.environmentId == nil, "deploymentId": entry.deploymentId == nil,
                "requestId": entry.requestId == nil, "changes": entry.changes == nil, "prevHash": entry.prevHash == nil,
            ])
        )
    }
}

extension JSONValue {
    /// The value as the OpenAPI runtime's free-form containers take it.
    var sendable: (any Sendable)? {
        switch self {
        case .null: nil
        case .string(let value): value
        case .int(let value): value
        case .double(let value): value
        case .bool(let value): value
        case .array(let values): values.map(\.sendable)
        case .object(let values): values.mapValues(\.sendable)
        }
    }
}
