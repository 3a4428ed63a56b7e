import Crypto
import Foundation
import Testing
@testable import KubeClient

/// Known answers from AWS's published Signature Version 4 test suite (`aws-sig-v4-test-suite`, 2015 edition):
/// credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service
/// `service`, 20150830T123600Z.
///
/// Sources of the expected values:
/// - `Authorization` signatures: aws/aws-sdk-js-v3 `packages/signature-v4/src/suite.fixture.ts` (the suite's
///   `.authz` files); the session-token signature from awslabs/aws-c-auth
///   `tests/aws-signing-test-suite/v4/get-vanilla-with-session-token/header-signed-request.txt` and its
///   `context.json` (the token value).
/// - Canonical requests and strings to sign: the suite's `.creq`/`.sts` files (the get-vanilla-query-order-key-case
///   pair is quoted in full in the suite's README, "Signature Version 4 Test Suite").
/// - Presigned get-vanilla-query-order-key-case: awslabs/aws-c-auth
///   `tests/aws-signing-test-suite/v4/get-vanilla-query-order-key-case/query-signed-request.txt` (the `X-Amz-Expires=3600` edition).
/// - Signing key: AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
@Suite("AWS Signature Version 4")
struct SigV4Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        var url: String
        var headers: [(name: String, value: String)] = []
        var body: String = ""
        var sessionToken: String?
        var canonicalRequest: String
        var stringToSign: String
        var signature: String
        var signedHeaders: String

        var testDescription: String { name }
    }

    static let credentials = AWSSigner.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let suiteSessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160) // 2015-08-30T12:36:00Z
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static let vectors: [Vector] = [
        Vector(
            name: "get-vanilla", method: "GET", url: "https://example.amazonaws.com/",
            canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            signedHeaders: "host;x-amz-date"
        ),
        Vector(
            name: "get-vanilla-query-order-key-case", method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            canonicalRequest: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
            stringToSign: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            signedHeaders: "host;x-amz-date"
        ),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST", url: "https://example.amazonaws.com/",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
            canonicalRequest: "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "content-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            stringToSign: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            signedHeaders: "content-type;host;x-amz-date"
        ),
        Vector(
            name: "get-vanilla-with-session-token", method: "GET", url: "https://example.amazonaws.com/",
            sessionToken: suiteSessionToken,
            canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:\(suiteSessionToken)\n\n"
                + "host;x-amz-date;x-amz-security-token\n\(emptyHash)",
            stringToSign: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
            signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
            signedHeaders: "host;x-amz-date;x-amz-security-token"
        ),
    ]

    static func signer(sessionToken: String? = nil, service: String = "service") -> AWSSigner {
        var credentials = credentials
        credentials.sessionToken = sessionToken
        return AWSSigner(credentials: credentials, region: "us-east-1", service: service)
    }

    static func sign(_ vector: Vector) -> AWSSigner.Signature {
        signer(sessionToken: vector.sessionToken).sign(
            AWSSigner.Request(method: vector.method, url: URL(string: vector.url)!, headers: vector.headers, body: Data(vector.body.utf8)),
            at: suiteDate
        )
    }

    @Test("The canonical request matches the suite's", arguments: vectors)
    func canonicalRequest(_ vector: Vector) {
        #expect(Self.sign(vector).canonicalRequest == vector.canonicalRequest)
    }

    @Test("The string to sign matches the suite's", arguments: vectors)
    func stringToSign(_ vector: Vector) {
        #expect(Self.sign(vector).stringToSign == vector.stringToSign)
    }

    @Test("The signature and Authorization header match the suite's", arguments: vectors)
    func signature(_ vector: Vector) {
        let signed = Self.sign(vector)
        #expect(signed.signature == vector.signature)
        #expect(signed.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)")
    }

    @Test("The headers to send carry the date, the session token and the Authorization")
    func headersToSend() {
        let signed = Self.sign(Self.vectors[3])
        let headers = Dictionary(uniqueKeysWithValues: signed.headers.map { ($0.name, $0.value) })
        #expect(headers["X-Amz-Date"] == "20150830T123600Z")
        #expect(headers["X-Amz-Security-Token"] == Self.suiteSessionToken)
        #expect(headers["Authorization"] == signed.authorization)
    }

    @Test("The step functions reproduce the whole signature from the canonical request")
    func stepFunctions() {
        let vector = Self.vectors[0]
        let key = AWSSigner.signingKey(secretAccessKey: Self.credentials.secretAccessKey, dateStamp: "20150830", region: "us-east-1", service: "service")
        let stringToSign = AWSSigner.stringToSign(canonicalRequest: vector.canonicalRequest, amzDate: "20150830T123600Z",
                                                  scope: "20150830/us-east-1/service/aws4_request")
        #expect(stringToSign == vector.stringToSign)
        #expect(AWSSigner.signature(of: stringToSign, key: key) == vector.signature)
    }

    @Test("The signing key derivation matches AWS's documented example")
    func signingKey() {
        let key = AWSSigner.signingKey(secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", dateStamp: "20120215",
                                       region: "us-east-1", service: "iam")
        let hex = key.withUnsafeBytes { AWSSigner.hex($0) }
        #expect(hex == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    @Test("Presigning get-vanilla-query-order-key-case yields the suite's query signature")
    func presignedQueryOrderKeyCase() throws {
        let presigned = Self.signer().presign(
            AWSSigner.Request(method: "GET", url: URL(string: "https://example.amazonaws.com/?Param2=value2&Param1=value1")!),
            expiresIn: 3600, at: Self.suiteDate
        )
        #expect(presigned.canonicalRequest == "GET\n/\n"
            + "Param1=value1&Param2=value2&X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
            + "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\n"
            + "host:example.amazonaws.com\n\nhost\n\(Self.emptyHash)")
        // The hash line is SHA-256 of the canonical request above; the signature is aws-c-auth's.
        #expect(presigned.stringToSign == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            + "b82878ecb2ab7ad194b9fe79b2946c2a36ee1627a219408089b2d774c1a0cedb")
        #expect(presigned.signature == "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5")
        #expect(presigned.url == "https://example.amazonaws.com/?Param1=value1&Param2=value2&X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
            + "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5")
    }

    @Test("Header values are trimmed, inner spaces collapsed, repeated names joined in order")
    func headerCanonicalisation() {
        let (canonical, signed) = AWSSigner.canonicalHeaders([("My-Header1", "  value1  "), ("my-header2", "\"a   b   c\""),
                                                              ("My-Header1", "value2")])
        #expect(canonical == "my-header1:value1,value2\nmy-header2:\"a b c\"\n")
        #expect(signed == "my-header1;my-header2")
    }

    @Test("Query names and values are percent-encoded with upper-case hex, unreserved characters kept")
    func uriEncoding() {
        #expect(AWSSigner.uriEncode("a b/c~d._-*+=", keepingSlash: false) == "a%20b%2Fc~d._-%2A%2B%3D")
        #expect(AWSSigner.canonicalURI(path: "/clusters/my-cluster") == "/clusters/my-cluster")
        #expect(AWSSigner.canonicalURI(path: "/a%20b") == "/a%2520b")
    }

    @Test("Credentials and signatures describe themselves without their secrets")
    func redaction() {
        let credentials = AWSSigner.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                                sessionToken: Self.suiteSessionToken)
        let signed = Self.sign(Self.vectors[3])
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [String(describing: credentials), String(reflecting: credentials), dumped, String(describing: signed)] {
            #expect(!text.contains("EXAMPLEKEY"))
            #expect(!text.contains(Self.suiteSessionToken))
            #expect(!text.contains(signed.signature))
        }
    }
}
