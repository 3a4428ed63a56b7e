import Foundation
import GantryCore
import GantryStorage
import Logging

/// Seeds the first organization when the database has none (docs/api.md §1).
enum Bootstrap {
    static func run(_ identity: any IdentityRepository, tokenSecret: String?, logger: Logger) async throws {
        guard try await !identity.hasOrganizations() else { return }
        let organization: Organization, token: String
        do {
            (organization, token) = try await identity.createOrganization(name: "default", adminEmail: "admin@localhost", tokenSecret: tokenSecret)
        } catch let error as AppError where error.code == .conflict {
            // Replicas starting together race to bootstrap; the database let exactly one win.
            logger.info("another replica bootstrapped the first organization")
            return
        }
        logger.info("created organization", metadata: ["organization_id": "\(organization.id)", "admin": "admin@localhost"])
        if tokenSecret == nil {
            // Printed once, on a line of its own, and never logged.
            FileHandle.standardError.write(Data("bootstrap token: \(token)\n".utf8))
        }
    }
}
