import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func getMe(_ input: Operations.GetMe.Input) async throws -> Operations.GetMe.Output {
        let caller = try RequestScope.caller()
        let (user, organization, assignments) = try await repositories.identity.me(caller)
        return .ok(.init(body: .json(.init(data: .init(
            user: .init(id: user.id, email: user.email, name: user.name),
            organization: .init(id: organization.id, name: organization.name),
            csrfToken: caller.csrfToken,
            assignments: assignments.map(Components.Schemas.Assignment.init)
        )))))
    }

    func listTokens(_ input: Operations.ListTokens.Input) async throws -> Operations.ListTokens.Output {
        let page = try await repositories.identity.listTokens(
            try PageRequest.parse(limit: input.query.limit, cursor: input.query.cursor), for: try RequestScope.caller()
        )
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Token.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createToken(_ input: Operations.CreateToken.Input) async throws -> Operations.CreateToken.Output {
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let (location, token) = try await mintToken(body, for: nil)
        return .created(.init(headers: .init(location: location), body: .json(.init(data: token))))
    }

    func revokeToken(_ input: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output {
        let id = try HTTPSupport.pathID(input.path.tokenID, .token, resource: "token")
        try await repositories.identity.revokeToken(id, by: try RequestScope.caller())
        return .noContent(.init())
    }
}

extension Components.Schemas.Token {
    init(_ token: TokenInfo) {
        self.init(
            id: token.id, name: token.name, createdAt: token.createdAt, expiresAt: token.expiresAt,
            lastUsedAt: token.lastUsedAt, revokedAt: token.revokedAt,
            additionalProperties: .nulls(["expiresAt": token.expiresAt == nil, "lastUsedAt": token.lastUsedAt == nil, "revokedAt": token.revokedAt == nil])
        )
    }
}
