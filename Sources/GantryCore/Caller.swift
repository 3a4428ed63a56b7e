/// Who is making a request: resolved from the bearer token, with its grants, before any handler runs.
/// Every query is scoped by `organizationID`; access checks read `permissions`, against the policy each call site names.
public struct Caller: Sendable, Equatable {
    public let organizationID: String
    public let userID: String
    public let email: String
    public let tokenID: String
    public var permissions: Permissions
    /// The request's id, written into the audit entry of any change it makes.
    public var requestID: String
    /// Set when the caller signed in through the console (a session cookie, docs/api.md §9): changes must send it
    /// back in `X-Gantry-CSRF`. Nil for a bearer token, which a browser never sends on its own.
    public var csrfToken: String?

    public init(
        organizationID: String, userID: String, email: String, tokenID: String,
        permissions: Permissions = Permissions(grants: []), requestID: String = "", csrfToken: String? = nil
    ) {
        self.organizationID = organizationID
        self.userID = userID
        self.email = email
        self.tokenID = tokenID
        self.permissions = permissions
        self.requestID = requestID
        self.csrfToken = csrfToken
    }
}
