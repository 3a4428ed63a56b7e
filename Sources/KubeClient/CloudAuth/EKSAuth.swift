import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// Amazon EKS access from an AWS access key: the bearer token `aws-iam-authenticator` (and `aws eks
/// get-token`) make, and the endpoint and CA from `DescribeCluster`.
///
/// The token is `k8s-aws-v1.` + unpadded base64url of a presigned STS `GetCallerIdentity` URL whose signed
/// headers include `x-k8s-aws-id: <cluster>`; the cluster's authenticator replays it to STS to learn who
/// is calling. Minting it needs no network.
public struct EKSAuth: Sendable {
    public static let tokenPrefix = "k8s-aws-v1."
    /// The header naming the cluster, signed so that a token for one cluster cannot be used on another.
    public static let clusterIDHeader = "x-k8s-aws-id"
    /// STS honours a presigned `GetCallerIdentity` for 15 minutes after its `X-Amz-Date`, whatever `X-Amz-Expires` says.
    public static let presignedURLLifetime: TimeInterval = 15 * 60
    /// `X-Amz-Expires` as aws-iam-authenticator sends it: ignored by STS, but authenticators up to 0.3.0
    /// refuse values above 60.
    public static let presignExpiresParameter = 60

    public let credentials: AWSSigner.Credentials
    public let region: String
    public let clusterName: String
    public let endpoints: CloudEndpoints
    /// Taken off the token's 15 minutes so a token is never used in its last moments (aws-iam-authenticator uses 1 minute).
    public let expiryMargin: TimeInterval
    let httpClient: HTTPClient
    let clock: @Sendable () -> Date
    let logger: Logger?

    public init(
        credentials: AWSSigner.Credentials, region: String, clusterName: String, httpClient: HTTPClient,
        endpoints: CloudEndpoints = .production, expiryMargin: TimeInterval = 60,
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil
    ) throws(CloudAuthError) {
        guard CloudHTTP.isPlainName(region), !region.contains("_") else {
            throw .invalidConfiguration("the AWS region must be a region code such as us-east-1")
        }
        guard CloudHTTP.isPlainName(clusterName) else {
            throw .invalidConfiguration("the EKS cluster name may contain only letters, digits, '-' and '_'")
        }
        guard !credentials.accessKeyID.isEmpty, !credentials.secretAccessKey.isEmpty else {
            throw .invalidConfiguration("the AWS access key ID and secret access key are required")
        }
        self.credentials = credentials
        self.region = region
        self.clusterName = clusterName
        self.httpClient = httpClient
        self.endpoints = endpoints
        self.expiryMargin = expiryMargin
        self.clock = clock
        self.logger = logger
    }

    /// The cluster's endpoint and CA, and a fresh token.
    public func clusterAccess(deadline: NIODeadline) async throws(CloudAuthError) -> ClusterAccess {
        let cluster = try await describeCluster(deadline: deadline)
        let token = token(at: clock())
        return ClusterAccess(server: cluster.server, caPEM: cluster.caPEM, token: token.value, expiresAt: token.expiresAt)
    }

    /// The bearer token as of `date`, valid 15 minutes less `expiryMargin`.
    public func token(at date: Date) -> CloudToken {
        let presigned = presignedCallerIdentity(at: date)
        let encoded = Data(presigned.url.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return CloudToken(value: Self.tokenPrefix + encoded,
                          expiresAt: date.addingTimeInterval(Self.presignedURLLifetime - expiryMargin))
    }

    /// The presigned `GET <sts>/?Action=GetCallerIdentity&Version=2011-06-15` the token wraps.
    public func presignedCallerIdentity(at date: Date) -> AWSSigner.Presigned {
        let base = CloudEndpoints.resolve(endpoints.awsSTS, region: region)
        let url = URL(string: base + "/?Action=GetCallerIdentity&Version=2011-06-15")!
        let request = AWSSigner.Request(method: "GET", url: url, headers: [(Self.clusterIDHeader, clusterName)])
        return AWSSigner(credentials: credentials, region: region, service: "sts")
            .presign(request, expiresIn: Self.presignExpiresParameter, at: date)
    }

    /// `DescribeCluster`: the API server URL and the CA PEM.
    public func describeCluster(deadline: NIODeadline) async throws(CloudAuthError) -> (server: String, caPEM: String) {
        let service = "EKS DescribeCluster"
        let base = CloudEndpoints.resolve(endpoints.awsEKS, region: region)
        guard let url = URL(string: "\(base)/clusters/\(clusterName)") else {
            throw .invalidConfiguration("the EKS endpoint is not a URL")
        }
        let signed = AWSSigner(credentials: credentials, region: region, service: "eks")
            .sign(AWSSigner.Request(method: "GET", url: url), at: clock())
        let request = CloudHTTP.request(url.absoluteString, method: .GET, headers: signed.headers.map { ($0.name, $0.value) })
        let body = try await CloudHTTP.send(request, service: service, secrets: secrets + [signed.signature],
                                            client: httpClient, deadline: deadline, logger: logger)
        let answer = try CloudHTTP.decode(DescribeClusterAnswer.self, from: body, service: service)
        guard let endpoint = answer.cluster.endpoint, endpoint.hasPrefix("https://") else {
            let status = answer.cluster.status.map { " (status \($0))" } ?? ""
            throw .cloudError(service: service, status: 200, detail: "the cluster has no https endpoint yet\(status)")
        }
        guard let caData = answer.cluster.certificateAuthority?.data else {
            throw .cloudError(service: service, status: 200, detail: "the cluster has no certificate authority data")
        }
        return (endpoint, try CloudHTTP.certificatePEM(fromBase64: caData, service: service))
    }

    var secrets: [String] { [credentials.secretAccessKey] + (credentials.sessionToken.map { [$0] } ?? []) }

    struct DescribeClusterAnswer: Decodable {
        struct Cluster: Decodable {
            struct CertificateAuthority: Decodable { var data: String? }
            var endpoint: String?
            var status: String?
            var certificateAuthority: CertificateAuthority?
        }
        var cluster: Cluster
    }
}
