import Crypto
import Foundation

/// Who made a change: a user through a token, or Gantry itself (bootstrap, status sync).
public struct AuditActor: Sendable, Equatable, Codable {
    public var type: String
    public var id: String?
    public var email: String?
    public var tokenId: String?

    public init(type: String, id: String?, email: String?, tokenId: String?) {
        self.type = type; self.id = id; self.email = email; self.tokenId = tokenId
    }

    public static func user(_ caller: Caller) -> AuditActor {
        AuditActor(type: "user", id: caller.userID, email: caller.email, tokenId: caller.tokenID)
    }

    public static let system = AuditActor(type: "system", id: nil, email: nil, tokenId: nil)
}

/// What a repository reports about one change; the audit trail adds who, when and the chain.
public struct AuditEvent: Sendable, Equatable {
    public var action: String
    public var resourceType: String
    public var resourceID: String
    public var projectID: String?
    public var environmentID: String?
    public var deploymentID: String?
    /// `{"field": {"from": x, "to": y}}`; never a credential.
    public var changes: [String: JSONValue]?

    /// Builds `action` as `<resourceType>.<verb>`. Spelling (one form for every entry): lowercase words joined by
    /// underscores in both parts — `cloud_account.created`, `deployment.status_changed`, resource type
    /// `cloud_account`. A camelCase argument is written in that form (`cloudAccount` → `cloud_account`). Entries
    /// stored before this rule keep their spelling (their hash covers it); `AuditSpelling.variants` lets filters
    /// find them under either form.
    public init(
        _ action: String, _ resourceType: String, _ resourceID: String,
        projectID: String? = nil, environmentID: String? = nil, deploymentID: String? = nil, changes: [String: JSONValue]? = nil
    ) {
        let resourceType = AuditSpelling.snakeCase(resourceType)
        self.action = "\(resourceType).\(AuditSpelling.snakeCase(action))"
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.projectID = projectID
        self.environmentID = environmentID
        self.deploymentID = deploymentID
        self.changes = changes
    }
}

/// The one spelling of audit actions and resource types, and the older spellings still stored.
public enum AuditSpelling {
    /// `cloudAccount` → `cloud_account`, `Project` → `project`; already snake_case text is unchanged.
    public static func snakeCase(_ text: String) -> String {
        var result = ""
        var previous: Character?
        for character in text {
            if character.isUppercase {
                if let previous, previous.isLowercase || previous.isNumber { result.append("_") }
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
            previous = character
        }
        return result
    }

    /// `cloud_account` → `cloudAccount`: how resource types were spelled before the rule.
    static func camelCase(_ text: String) -> String {
        let words = text.split(separator: "_", omittingEmptySubsequences: false)
        guard words.count > 1 else { return text }
        return String(words[0]) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// Every stored spelling of a resource type or action a filter names, the current one first: a filter by
    /// `cloud_account` (or `cloudAccount`) also finds entries written as `cloudAccount` before the rule.
    /// (Only resource types were ever camelCase; verbs always had underscores.)
    public static func variants(of name: String) -> [String] {
        let canonical = snakeCase(name)
        let parts = canonical.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let legacy = ([camelCase(parts[0])] + parts.dropFirst()).joined(separator: ".")
        return legacy == canonical ? [canonical] : [canonical, legacy]
    }
}

/// One entry of the audit log as stored and served (docs/api.md §5).
public struct AuditEntry: Sendable, Equatable, Codable {
    public var id: String
    public var action: String
    public var actor: AuditActor
    public var resourceType: String
    public var resourceId: String
    public var projectId: String?
    public var environmentId: String?
    public var deploymentId: String?
    public var requestId: String?
    public var changes: [String: JSONValue]?
    /// Microseconds since 1970, as stored: the hash covers exactly what the database holds.
    public var createdAtMicros: Int64
    public var hash: String
    public var prevHash: String?

    public init(
        id: String, event: AuditEvent, actor: AuditActor, requestID: String?, createdAtMicros: Int64, prevHash: String?
    ) {
        self.id = id
        self.action = event.action
        self.actor = actor
        self.resourceType = event.resourceType
        self.resourceId = event.resourceID
        self.projectId = event.projectID
        self.environmentId = event.environmentID
        self.deploymentId = event.deploymentID
        self.requestId = requestID
        self.changes = event.changes
        self.createdAtMicros = createdAtMicros
        self.prevHash = prevHash
        self.hash = ""
        self.hash = AuditChain.hash(self)
    }

    public init(
        id: String, action: String, actor: AuditActor, resourceType: String, resourceId: String, projectId: String?,
        environmentId: String?, deploymentId: String?, requestId: String?, changes: [String: JSONValue]?,
        createdAtMicros: Int64, hash: String, prevHash: String?
    ) {
        self.id = id; self.action = action; self.actor = actor; self.resourceType = resourceType; self.resourceId = resourceId
        self.projectId = projectId; self.environmentId = environmentId; self.deploymentId = deploymentId
        self.requestId = requestId; self.changes = changes; self.createdAtMicros = createdAtMicros
        self.hash = hash; self.prevHash = prevHash
    }
}

/// The per-organization hash chain: each entry's hash covers its canonical content and the previous hash.
public enum AuditChain {
    /// Canonical content: a JSON array in a fixed order (arrays keep order; objects are key-sorted).
    public static func canonical(_ entry: AuditEntry) -> Data {
        let fields: [JSONValue] = [
            .string(entry.id), .string(entry.action), .string(entry.actor.type), optional(entry.actor.id),
            optional(entry.actor.email), optional(entry.actor.tokenId), .string(entry.resourceType), .string(entry.resourceId),
            optional(entry.projectId), optional(entry.environmentId), optional(entry.deploymentId), optional(entry.requestId),
            entry.changes.map { .object($0) } ?? .null, .int(Int(entry.createdAtMicros)), optional(entry.prevHash),
        ]
        return canonicalJSON(.array(fields))
    }

    public static func hash(_ entry: AuditEntry) -> String {
        AccessToken.hex(SHA256.hash(data: canonical(entry)))
    }

    public static func canonicalJSON(_ value: JSONValue) -> Data { value.sortedJSON }

    private static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
}

/// `{"field": {"from": x, "to": y}}` for the fields that differ.
public enum Changes {
    public static func diff(_ before: [String: JSONValue], _ after: [String: JSONValue]) -> [String: JSONValue] {
        var changes: [String: JSONValue] = [:]
        for key in Set(before.keys).union(after.keys) {
            let from = before[key] ?? .null, to = after[key] ?? .null
            if from != to { changes[key] = .object(["from": from, "to": to]) }
        }
        return changes
    }

    public static func created(_ fields: [String: JSONValue]) -> [String: JSONValue] { diff([:], fields) }

    /// A secret was replaced: the entry says so and shows neither value.
    public static let replacedSecret: JSONValue = .object(["from": .string("(sealed)"), "to": .string("(replaced)")])

}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    /// The value as JSON with every object's keys sorted: one text per value (hashed by the audit chain, sent to
    /// clusters as apply bodies, compared in tests).
    public var sortedJSON: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }

    public init(_ text: String?) { self = text.map(JSONValue.string) ?? .null }
    public init(_ number: Int?) { self = number.map(JSONValue.int) ?? .null }
    /// RFC 3339 in UTC, as the API writes timestamps.
    public init(_ date: Date?) {
        self = date.map { .string(Date.ISO8601FormatStyle(includingFractionalSeconds: true).format($0)) } ?? .null
    }
}
