/// Who is making a request: resolved from the bearer token, with its grants, before any handler runs.
/// Every query is scoped by `organizationID`; access checks read `permissions` and `policy`.
public struct Caller: Sendable, Equatable {
    public let organizationID: String
    public let userID: String
    public let email: String
    public let tokenID: String
    public var permissions: Permissions
    /// The policy the operation being served needs, from the operation table; nil only outside a request.
    public var policy: String?
    /// The request's id, written into the audit entry of any change it makes.
    public var requestID: String

    public init(
        organizationID: String, userID: String, email: String, tokenID: String,
        permissions: Permissions = Permissions(grants: []), policy: String? = nil, requestID: String = ""
    ) {
        self.organizationID = organizationID
        self.userID = userID
        self.email = email
        self.tokenID = tokenID
        self.permissions = permissions
        self.policy = policy
        self.requestID = requestID
    }

    /// Checks the operation's policy on `target`: 404 naming `resource` when the caller cannot see it, 403
    /// when it can see it but not do this. Fails closed when no policy was attached.
    public func authorize(_ target: Target, resource: String) throws {
        guard let policy else { throw AppError(.forbidden, "This operation has no access rule; it is refused.") }
        try permissions.authorize(policy, on: target, resource: resource)
    }
}
