/// Ready-made clusters for the standalone test server, the wire-format checks and the benchmark.
extension FakeKubeAPIServer.Scenario {
    /// A small, varied cluster: namespace `shop` with healthy, failed, scaled-to-zero and rolling deployments,
    /// pods with init containers, a sidecar and overhead, ingress classes and cert-manager.
    public static var demo: Self {
        var scenario = Self()
        scenario.namespaces = [KubeFixtures.namespace("default"), KubeFixtures.namespace("shop"), KubeFixtures.namespace("kube-system")]
        scenario.add("deployments", in: "shop", [
            KubeFixtures.deployment("web", namespace: "shop", replicas: 3),
            KubeFixtures.deployment("stuck", namespace: "shop", replicas: 2, ready: 1, conditions: [
                KubeFixtures.condition("Available", "False", reason: "MinimumReplicasUnavailable"),
                KubeFixtures.condition("Progressing", "False", reason: "ProgressDeadlineExceeded"),
            ]),
            KubeFixtures.deployment("idle", namespace: "shop", replicas: 0),
        ])
        scenario.add("pods", in: "shop", [
            KubeFixtures.pod("web-1", namespace: "shop", containers: [.init(cpu: "100m", memory: "128Mi")],
                             initContainers: [.init(cpu: "500m", memory: "1Gi")], owner: "web"),
            KubeFixtures.pod("web-2", namespace: "shop", containers: [.init(cpu: "0.25", memory: "256Mi")],
                             initContainers: [.init(cpu: "50m", memory: "64Mi", sidecar: true)], overhead: ["cpu": "10m", "memory": "32Mi"], owner: "web"),
            KubeFixtures.pod("job-1", namespace: "shop", phase: "Succeeded", containers: [.init(cpu: "1", memory: "1Gi")]),
        ])
        scenario.ingressClasses = [
            KubeFixtures.ingressClass("nginx", controller: "k8s.io/ingress-nginx", isDefault: true),
            KubeFixtures.ingressClass("traefik", controller: "traefik.io/ingress-controller"),
        ]
        scenario.certManagerInstalled = true
        scenario.clusterIssuers = [KubeFixtures.issuer("letsencrypt", ready: true)]
        return scenario
    }

    /// Namespace `load` with `deployments` Deployments and `pods` pods, for the benchmark.
    public static func large(deployments: Int, pods: Int) -> Self {
        var scenario = Self()
        scenario.namespaces = [KubeFixtures.namespace("load")]
        scenario.add("deployments", in: "load", (0..<deployments).map { KubeFixtures.deployment("svc-\($0)", namespace: "load", replicas: 4) })
        scenario.add("pods", in: "load", (0..<pods).map {
            KubeFixtures.pod("svc-\($0 % max(deployments, 1))-\($0)", namespace: "load",
                             containers: [.init(cpu: "250m", memory: "256Mi"), .init(cpu: "50m", memory: "64Mi")],
                             initContainers: [.init(cpu: "100m", memory: "128Mi")], owner: "svc-\($0 % max(deployments, 1))")
        })
        return scenario
    }
}
