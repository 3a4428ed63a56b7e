import Foundation
import GantryAPI
import GantryCore
import GantryStorage
import KubeClient
import OpenAPIRuntime

/// The handlers of every operation in `openapi.yaml`: decode, authorize, call a repository, encode.
/// One extension per resource lives beside this file.
///
/// A class: the OpenAPI runtime copies its handler for every request, and copying a struct of twenty existential
/// repositories retained each of them (~1 % of `GET /api/policies` in `perf`).
final class APIImplementation: APIProtocol {
    let repositories: Repositories
    let sealer: CredentialSealer
    /// Present in the deployer and all roles.
    let deployer: Deployer?

    init(repositories: Repositories, sealer: CredentialSealer, deployer: Deployer?) {
        self.repositories = repositories
        self.sealer = sealer
        self.deployer = deployer
    }

    static let basePath = "/api"
}

extension OpenAPIObjectContainer {
    /// Explicit `null`s for the unset nullable fields of an answer: the generated encoder leaves unset
    /// optionals out, but the contract (and the document, where they are required) says `null`.
    static func nulls(_ unset: [String: Bool]) -> OpenAPIObjectContainer {
        // Most answers have nothing unset: building and encoding an empty container per object was ~10 % of a 50-line
        // answer (bench/preview.sh).
        guard unset.values.contains(true) else { return OpenAPIObjectContainer() }
        let value: [String: (any Sendable)?] = Dictionary(uniqueKeysWithValues: unset.filter(\.value).map { ($0.key, nil) })
        return (try? OpenAPIObjectContainer(unvalidatedValue: value)) ?? OpenAPIObjectContainer()
    }
}

/// Small shared steps of the handlers.
enum HTTPSupport {
    /// The `version` an `If-Match` header names: `"3"`, `W/"3"` or `3`. `*` matches anything.
    /// An unparseable value can never match, so it yields a version no resource has.
    static func expectedVersion(_ header: String?) -> Int? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty, header != "*" else { return nil }
        let trimmed = header.replacingOccurrences(of: "W/", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return Int(trimmed) ?? -1
    }

    static func eTag(_ version: Int) -> String { "\"\(version)\"" }

    static func location(_ path: String) -> String { APIImplementation.basePath + path }

    static func listQuery(q: String?, limit: Int?, cursor: String?) throws -> ListQuery {
        ListQuery(nameContains: q, page: try PageRequest.parse(limit: limit, cursor: cursor))
    }

    /// Validates an ID taken from a path: a malformed one cannot exist, so it is a 404 like any unknown ID.
    static func pathID(_ id: String, _ prefix: IDPrefix, resource: String) throws -> String {
        guard IDGenerator.isValid(id, prefix: prefix) else { throw AppError.notFound(resource) }
        return id
    }

    /// For PATCH: absent, explicit `null`, or a value, as the raw body said.
    static func patchField<T: Sendable & Equatable>(_ key: String, _ value: T?) -> PatchField<T> {
        if let value { return .set(value) }
        return RequestScope.bodyFields()[key] == true ? .clear : .absent
    }

    /// For PATCH: an explicit `null` for a field that cannot be null is a mistyped value (400 naming it), not "leave unchanged".
    static func rejectNulls(_ fields: [String], into validator: inout Validator) {
        let body = RequestScope.bodyFields()
        for field in fields where body[field] == true {
            validator.fail(field, "must not be null; leave it out to keep the current value")
        }
    }
}
