/// What went wrong talking to a cluster, in the terms docs/api.md §6 answers with. Messages come from the
/// cluster's `Status` or our own words; they never hold a credential.
public enum KubeError: Error, Sendable, Equatable {
    /// 401 or 403 from the cluster.
    case authentication(status: Int, message: String)
    /// Connection, DNS or TLS failure.
    case unreachable(String)
    /// The call ran past its deadline.
    case timeout
    /// 404 from the cluster: the object, or the whole resource type, does not exist.
    case notFound(String)
    /// Any other answer the client cannot use: 4xx/5xx (after retries), an unreadable body.
    case server(status: Int, reason: String?, message: String)
    /// The connection details are unusable (caught before any request).
    case invalidConfiguration(String)

    public var summary: String {
        switch self {
        case .authentication(let status, let message): "the cluster refused the credentials (\(status)): \(message)"
        case .unreachable(let detail): "the cluster cannot be reached: \(detail)"
        case .timeout: "the cluster did not answer in time"
        case .notFound(let message): "not found: \(message)"
        case .server(let status, _, let message): "the cluster answered \(status): \(message)"
        case .invalidConfiguration(let detail): "the cluster connection is not usable: \(detail)"
        }
    }
}
