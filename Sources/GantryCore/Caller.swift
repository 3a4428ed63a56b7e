/// Who is making a request: resolved from the bearer token before any handler runs.
/// Every query is scoped by `organizationID`; access rules read the rest.
public struct Caller: Sendable, Equatable {
    public let organizationID: String
    public let userID: String
    public let email: String
    public let tokenID: String

    public init(organizationID: String, userID: String, email: String, tokenID: String) {
        self.organizationID = organizationID
        self.userID = userID
        self.email = email
        self.tokenID = tokenID
    }
}
