import Foundation
import KubeTestServer
import NIOCore
import NIOHTTP1
import Testing
@testable import KubeClient

/// The Kubernetes types read with `KubeDecodable`, against what Foundation's `JSONDecoder` made of the same
/// bytes before (the `Legacy` mirror): identical values, and the same answers accepted and refused.
@Suite("Kubernetes objects from JSON")
struct KubeDecodableTests {
    /// A list page rendered as the fake API server renders it (`JSONSerialization`, sorted keys).
    static func page(_ items: [KubeFixtures.Object], kind: String, apiVersion: String = "v1", continue token: String? = nil) throws -> Data {
        var metadata: KubeFixtures.Object = ["resourceVersion": "2000"]
        if let token { metadata["continue"] = token; metadata["remainingItemCount"] = 1 }
        return try JSONSerialization.data(withJSONObject: ["kind": kind, "apiVersion": apiVersion, "metadata": metadata, "items": items] as KubeFixtures.Object,
                                          options: [.sortedKeys])
    }

    /// Decodes `data` both ways and expects the same value, or a refusal from both.
    @discardableResult
    static func agree<Old: LegacyMirror>(_ data: Data, _ old: Old.Type, sourceLocation: SourceLocation = #_sourceLocation) -> Old.Current? {
        let legacy = try? JSONDecoder().decode(Old.self, from: data)
        let decoded = try? Old.Current(decoding: data)
        #expect(decoded == legacy?.current, "\(String(decoding: data, as: UTF8.self))", sourceLocation: sourceLocation)
        return decoded
    }

    static func agree<Old: LegacyMirror>(_ json: String, _ old: Old.Type, sourceLocation: SourceLocation = #_sourceLocation) -> Old.Current? {
        agree(Data(json.utf8), old, sourceLocation: sourceLocation)
    }

    static func objects(_ scenario: FakeKubeAPIServer.Scenario, _ resource: String, in namespace: String) -> [KubeFixtures.Object] {
        scenario.namespaced[resource]?[namespace] ?? []
    }

    @Test("The demo scenario's lists decode exactly as JSONDecoder decoded them")
    func demoScenario() throws {
        let demo = FakeKubeAPIServer.Scenario.demo
        let namespaces = Self.agree(try Self.page(demo.namespaces, kind: "NamespaceList"), Legacy.KubeList<Legacy.KubeNamespace>.self)
        #expect(namespaces?.items?.map(\.metadata.name) == ["default", "shop", "kube-system"])
        let deployments = Self.agree(try Self.page(Self.objects(demo, "deployments", in: "shop"), kind: "DeploymentList", apiVersion: "apps/v1"),
                                     Legacy.KubeList<Legacy.KubeDeployment>.self)
        #expect(deployments?.items?.map(DeploymentHealth.init) == [.running, .failed, .scaledToZero])
        let pods = Self.agree(try Self.page(Self.objects(demo, "pods", in: "shop"), kind: "PodList"), Legacy.KubeList<Legacy.KubePod>.self)
        #expect(pods?.items?[1].spec?.overhead?["cpu"]?.text == "10m")
        #expect(pods?.items?[1].spec?.initContainers?.first?.restartPolicy == "Always")
        let classes = Self.agree(try Self.page(demo.ingressClasses, kind: "IngressClassList", apiVersion: "networking.k8s.io/v1"),
                                 Legacy.KubeList<Legacy.KubeIngressClass>.self)
        #expect(classes?.items?.first?.metadata.annotations?["ingressclass.kubernetes.io/is-default-class"] == "true")
        let issuers = Self.agree(try Self.page(demo.clusterIssuers, kind: "ClusterIssuerList", apiVersion: "cert-manager.io/v1"),
                                 Legacy.KubeList<Legacy.KubeIssuer>.self)
        #expect(issuers?.items?.first?.status?.conditions?.first?.status == "True")
        let namespace = Self.agree(try JSONSerialization.data(withJSONObject: demo.namespaces[1].merging(["kind": "Namespace", "apiVersion": "v1"]) { a, _ in a },
                                                              options: [.sortedKeys]), Legacy.KubeNamespace.self)
        #expect(namespace?.status?.phase == "Active")
        let groups: [KubeFixtures.Object] = ["apps", "networking.k8s.io", "cert-manager.io"].map { name in
            let version = ["groupVersion": "\(name)/v1", "version": "v1"]
            return ["name": name, "versions": [version], "preferredVersion": version]
        }
        let discovery = Self.agree(try JSONSerialization.data(withJSONObject: ["kind": "APIGroupList", "apiVersion": "v1", "groups": groups] as KubeFixtures.Object,
                                                              options: [.sortedKeys]), Legacy.APIGroupList.self)
        #expect(discovery?.groups?.count == 3)
    }

    @Test("The benchmark's namespace (500 Deployments, 2,000 pods in pages of 500) decodes exactly as JSONDecoder decoded it")
    func largeScenario() throws {
        let large = FakeKubeAPIServer.Scenario.large(deployments: 500, pods: 2_000)
        let deployments = Self.agree(try Self.page(Self.objects(large, "deployments", in: "load"), kind: "DeploymentList", apiVersion: "apps/v1"),
                                     Legacy.KubeList<Legacy.KubeDeployment>.self)
        #expect(deployments?.items?.count == 500)
        let pods = Self.objects(large, "pods", in: "load")
        for start in stride(from: 0, to: pods.count, by: KubernetesClient.pageSize) {
            let token = start + KubernetesClient.pageSize < pods.count ? "page-\(start)" : nil
            let page = Self.agree(try Self.page(Array(pods[start..<start + KubernetesClient.pageSize]), kind: "PodList", continue: token),
                                  Legacy.KubeList<Legacy.KubePod>.self)
            #expect(page?.items?.count == KubernetesClient.pageSize)
            #expect(page?.metadata?.continue == token)
        }
    }

    @Test("Edge cases: escapes, non-ASCII, nulls, absent and unknown fields, duplicate names, numeric quantities", arguments: [
        #"{"metadata":{"name":"caf\u00e9 \ud83d\ude80","labels":{"a\"b":"line\nbreak","\u00fc":"\/"}},"spec":null,"status":{}}"#,
        #"{"metadata":{"name":"ünïcödé ☃ 🚀","namespace":null,"labels":null,"annotations":{}},"extra":[1,{"deep":[[[]]]}]}"#,
        #"{"metadata":{"name":"first","name":"second","labels":{"k":"1","k":"2"}}}"#,
        #"{"metadata":{"name":"first","name":2,"labels":{"k":"1","k":2,"j":"3"}},"metadata":7}"#,
        #"{"metadata":{"name":"q"},"spec":{"overhead":{"cpu":1,"memory":1.5,"a":1.0,"b":1e3,"c":1e20,"d":-0,"e":0.1,"f":92233720368547758070,"g":"5Mi"}}}"#,
        #"{"metadata":{"name":"q"},"spec":{"containers":[{"resources":{"requests":{"cpu":12345678901234567.0}}},{"name":null},{}]}}"#,
        #"{"metadata":{"name":"x","generation":9223372036854775807},"spec":{"initContainers":[]}}"#,
        #"{"metadata":{"name":"x","generation":-9223372036854775808}}"#,
    ])
    func edgeCases(_ json: String) {
        #expect(Self.agree(json, Legacy.KubePod.self) != nil)
    }

    @Test("What JSONDecoder refused is refused: wrong JSON types, missing required fields, non-integers, overflow", arguments: [
        #"{"metadata":{"name":"x","generation":"1"}}"#,
        #"{"metadata":{"name":"x","generation":1.5}}"#,
        #"{"metadata":{"name":"x","generation":9223372036854775808}}"#,
        #"{"metadata":{"name":"x","labels":{"a":1}}}"#,
        #"{"metadata":{"name":"x","labels":{"a":null}}}"#,
        #"{"metadata":{"name":"x","labels":["a"]}}"#,
        #"{"metadata":{"name":null}}"#,
        #"{"metadata":{}}"#,
        #"{"metadata":"x"}"#,
        #"{}"#,
        #"[]"#,
        #"null"#,
        #"{"metadata":{"name":"x"},"spec":{"containers":{}}}"#,
        #"{"metadata":{"name":"x"},"spec":{"containers":[null]}}"#,
        #"{"metadata":{"name":"x"},"spec":{"overhead":{"cpu":true}}}"#,
        #"{"metadata":{"name":"x"},"spec":{"overhead":{"cpu":null}}}"#,
        #"{"metadata":{"name":"x"},"spec":{"overhead":{"cpu":1e400}}}"#,
        #"{"metadata":{"name":"x"},"status":{"phase":7}}"#,
        #"{"metadata":{"name":"x"}} {}"#,
        #"{"metadata":{"name":"x\u"}}"#,
    ])
    func refusals(_ json: String) {
        #expect(Self.agree(json, Legacy.KubePod.self) == nil)
    }

    @Test("Deployments: integers written as 3.0 or 3e0 are read as Foundation read them, booleans must be booleans")
    func deploymentNumbers() {
        #expect(Self.agree(#"{"metadata":{"name":"d"},"spec":{"replicas":3.0,"paused":false},"status":{"replicas":3e0,"observedGeneration":-0}}"#,
                           Legacy.KubeDeployment.self)?.spec?.replicas == 3)
        #expect(Self.agree(#"{"metadata":{"name":"d"},"spec":{"paused":1}}"#, Legacy.KubeDeployment.self) == nil)
        #expect(Self.agree(#"{"metadata":{"name":"d"},"status":{"conditions":[{"type":"Available"}]}}"#, Legacy.KubeDeployment.self) == nil)
        #expect(Self.agree(#"{"kind":"Status","code":404,"message":"gone","reason":"NotFound","details":{"name":"x"}}"#, Legacy.KubeStatus.self)?.code == 404)
        #expect(Self.agree(#"{"groups":[{"name":"apps"},{"versions":[]}]}"#, Legacy.APIGroupList.self) == nil)
    }

    @Test("A mismatch names where it is, so the debug log says what the cluster sent")
    func mismatchPath() {
        #expect(throws: JSONError.mismatch(path: "items[1].metadata.name", "a string was expected, not a number")) {
            try KubeList<KubePod>(decoding: Data(#"{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":5}}]}"#.utf8))
        }
        #expect(throws: JSONError.mismatch(path: "spec.overhead.cpu", "a quantity (a string or a number) was expected, not a boolean")) {
            try KubePod(decoding: Data(#"{"metadata":{"name":"a"},"spec":{"overhead":{"cpu":true}}}"#.utf8))
        }
        #expect(throws: JSONError.mismatch(path: "metadata", "the member is missing")) {
            try KubePod(decoding: Data(#"{"spec":{}}"#.utf8))
        }
    }

    @Test("The client keeps its message for an answer it cannot read, and reads Status bodies without Codable")
    func clientMessages() throws {
        let client = try KubernetesClient(http: KubernetesClientTests.http,
                                          connection: ClusterConnection(server: URL(string: "https://127.0.0.1:1")!, caPEM: TestCertificates.clusterCA, credential: .bearer("t")))
        for body in ["{\"items\":[", "<html></html>", "{\"items\":[{\"metadata\":{}}]}", ""] {
            #expect(throws: KubeError.server(status: 200, reason: nil, message: "the answer to /api/v1/pods is not the JSON expected")) {
                try client.decode(KubeList<KubePod>.self, from: ByteBuffer(string: body), path: "/api/v1/pods")
            }
        }
        let status = ByteBuffer(string: #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" is forbidden","reason":"Forbidden","code":403}"#)
        #expect(KubernetesClient.failure(status: 403, headers: HTTPHeaders(), body: status) == .authentication(status: 403, message: #"pods "x" is forbidden"#))
        let conflict = ByteBuffer(string: #"{"kind":"Status","message":"exists","reason":"AlreadyExists","code":409}"#)
        #expect(KubernetesClient.failure(status: 409, headers: HTTPHeaders(), body: conflict) == .server(status: 409, reason: "AlreadyExists", message: "exists"))
        #expect(KubernetesClient.failure(status: 500, headers: HTTPHeaders(), body: ByteBuffer(string: "{\"kind\":\"Status\"")) == .server(status: 500, reason: nil, message: "{\"kind\":\"Status\""))
    }
}
