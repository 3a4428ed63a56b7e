import GantryCore
import Testing

// The rule under test is k8s.io/component-helpers/resource PodRequests / AggregateContainerRequests with
// native sidecars (KEP-753). Mi = 1_048_576 bytes throughout the figures below.

@Suite("Effective pod requests")
struct PodRequestTests {
    private func container(cpu: String? = nil, memory: String? = nil, sidecar: Bool = false) -> ContainerRequests {
        var requests: [String: String] = [:]
        requests["cpu"] = cpu
        requests["memory"] = memory
        return ContainerRequests(requests: requests, isSidecar: sidecar)
    }

    @Test("App containers add up")
    func appContainersAdd() throws {
        // cpu 500m + 250m = 750m; memory 256Mi + 128Mi = 384Mi = 402_653_184
        let result = try PodRequest.effective(
            initContainers: [],
            containers: [container(cpu: "500m", memory: "256Mi"), container(cpu: "250m", memory: "128Mi")],
            overhead: [:])
        #expect(result.cpuMilli == 750)
        #expect(result.memoryBytes == 402_653_184)
    }

    @Test("An init container larger than the app containers sets the request")
    func initContainerLargerThanApps() throws {
        // apps: 750m and 384Mi; init: 2000m and 1Gi = 1_073_741_824, larger on both
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "2", memory: "1Gi")],
            containers: [container(cpu: "500m", memory: "256Mi"), container(cpu: "250m", memory: "128Mi")],
            overhead: [:])
        #expect(result.cpuMilli == 2000)
        #expect(result.memoryBytes == 1_073_741_824)
    }

    @Test("A smaller init container changes nothing")
    func initContainerSmallerThanApps() throws {
        // init 100m / 64Mi is below the app's 1000m / 512Mi = 536_870_912
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "100m", memory: "64Mi")],
            containers: [container(cpu: "1", memory: "512Mi")],
            overhead: [:])
        #expect(result.cpuMilli == 1000)
        #expect(result.memoryBytes == 536_870_912)
    }

    @Test("CPU and memory take their maximum separately")
    func maximumPerResource() throws {
        // cpu: max(app 500m, init 2000m) = 2000m; memory: max(app 1Gi, init 64Mi) = 1Gi = 1_073_741_824
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "2", memory: "64Mi")],
            containers: [container(cpu: "500m", memory: "1Gi")],
            overhead: [:])
        #expect(result.cpuMilli == 2000)
        #expect(result.memoryBytes == 1_073_741_824)
    }

    @Test("A sidecar started before a regular init container runs beside it")
    func sidecarBeforeInitContainer() throws {
        // running: app 500m + sidecar 200m = 700m; 256Mi + 128Mi = 384Mi
        // init peak: regular init 1000m + sidecar 200m = 1200m; 512Mi + 128Mi = 640Mi = 671_088_640
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "200m", memory: "128Mi", sidecar: true), container(cpu: "1", memory: "512Mi")],
            containers: [container(cpu: "500m", memory: "256Mi")],
            overhead: [:])
        #expect(result.cpuMilli == 1200)
        #expect(result.memoryBytes == 671_088_640)
    }

    @Test("A sidecar started after a regular init container does not add to its peak")
    func sidecarAfterInitContainer() throws {
        // init peak: regular init alone, 1000m and 512Mi (the sidecar is not running yet)
        // running: 700m and 384Mi; so 1000m and 512Mi = 536_870_912
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "1", memory: "512Mi"), container(cpu: "200m", memory: "128Mi", sidecar: true)],
            containers: [container(cpu: "500m", memory: "256Mi")],
            overhead: [:])
        #expect(result.cpuMilli == 1000)
        #expect(result.memoryBytes == 536_870_912)
    }

    @Test("Each regular init container counts only the sidecars declared before it")
    func sidecarsInterleaved() throws {
        // order: sidecar A 100m/64Mi, init X 300m/100Mi, sidecar B 200m/64Mi, init Y 500m/32Mi; app 100m/128Mi
        // running: 100 + 100 + 200 = 400m; 128 + 64 + 64 = 256Mi
        // X peak: 300 + 100 = 400m; 100 + 64 = 164Mi.  Y peak: 500 + 100 + 200 = 800m; 32 + 128 = 160Mi
        // cpu max(400, 800) = 800m; memory max(256Mi, 164Mi) = 256Mi = 268_435_456
        let result = try PodRequest.effective(
            initContainers: [
                container(cpu: "100m", memory: "64Mi", sidecar: true), container(cpu: "300m", memory: "100Mi"),
                container(cpu: "200m", memory: "64Mi", sidecar: true), container(cpu: "500m", memory: "32Mi"),
            ],
            containers: [container(cpu: "100m", memory: "128Mi")],
            overhead: [:])
        #expect(result.cpuMilli == 800)
        #expect(result.memoryBytes == 268_435_456)
    }

    @Test("Sidecars alone keep running as the pod's request")
    func sidecarsOnly() throws {
        // 300m + 200m = 500m; 64Mi + 64Mi = 128Mi = 134_217_728
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "300m", memory: "64Mi", sidecar: true), container(cpu: "200m", memory: "64Mi", sidecar: true)],
            containers: [],
            overhead: [:])
        #expect(result.cpuMilli == 500)
        #expect(result.memoryBytes == 134_217_728)
    }

    @Test("Overhead is added to the app containers' sum")
    func overheadOnApps() throws {
        // 500m + 250m = 750m; 256Mi + 120Mi = 376Mi = 394_264_576
        let result = try PodRequest.effective(
            initContainers: [],
            containers: [container(cpu: "500m", memory: "256Mi")],
            overhead: ["cpu": "250m", "memory": "120Mi"])
        #expect(result.cpuMilli == 750)
        #expect(result.memoryBytes == 394_264_576)
    }

    @Test("Overhead is added after the init container maximum")
    func overheadOnInitPeak() throws {
        // max(app 500m, init 2000m) + 100m = 2100m; max(256Mi, 1Gi) + 64Mi = 1088Mi = 1_140_850_688
        let result = try PodRequest.effective(
            initContainers: [container(cpu: "2", memory: "1Gi")],
            containers: [container(cpu: "500m", memory: "256Mi")],
            overhead: ["cpu": "100m", "memory": "64Mi"])
        #expect(result.cpuMilli == 2100)
        #expect(result.memoryBytes == 1_140_850_688)
    }

    @Test("Assorted spellings add up to the same units")
    func assortedSpellings() throws {
        // cpu: 100m + 0.5 (500m) + 1 (1000m) = 1600m
        // memory: 128Mi (134_217_728) + 1G (1_000_000_000) + 1e3 (1_000) + 500M (500_000_000) = 1_634_218_728
        let result = try PodRequest.effective(
            initContainers: [],
            containers: [
                container(cpu: "100m", memory: "128Mi"), container(cpu: "0.5", memory: "1G"),
                container(cpu: "1", memory: "1e3"), container(memory: "500M"),
            ],
            overhead: [:])
        #expect(result.cpuMilli == 1600)
        #expect(result.memoryBytes == 1_634_218_728)
    }

    @Test("Requests are added exactly and rounded up once, as Kubernetes does")
    func exactSumRoundedOnce() throws {
        // 0.5m + 0.5m = exactly 1m (rounding each first would give 2m); 0.5 + 0.5 bytes = exactly 1 byte
        let result = try PodRequest.effective(
            initContainers: [],
            containers: [container(cpu: "0.5m", memory: "0.5"), container(cpu: "0.5m", memory: "0.5")],
            overhead: [:])
        #expect(result.cpuMilli == 1)
        #expect(result.memoryBytes == 1)
    }

    @Test("A sum with a fraction of a unit rounds up")
    func fractionalSumRoundsUp() throws {
        // 0.3m + 0.3m = 0.6m → 1m; 1.5 + 1 bytes = 2.5 → 3
        let result = try PodRequest.effective(
            initContainers: [],
            containers: [container(cpu: "0.3m", memory: "1.5"), container(cpu: "300u", memory: "1")],
            overhead: [:])
        #expect(result.cpuMilli == 1)
        #expect(result.memoryBytes == 3)
    }

    @Test("Missing cpu or memory counts as zero and other resources are ignored")
    func missingAndOtherResources() throws {
        let result = try PodRequest.effective(
            initContainers: [ContainerRequests(requests: ["ephemeral-storage": "not a quantity"])],
            containers: [ContainerRequests(requests: ["nvidia.com/gpu": "1"]), container(memory: "1Ki")],
            overhead: [:])
        #expect(result.cpuMilli == 0)
        #expect(result.memoryBytes == 1024)
    }

    @Test("An empty pod requests nothing")
    func emptyPod() throws {
        let result = try PodRequest.effective(initContainers: [], containers: [], overhead: [:])
        #expect(result.cpuMilli == 0)
        #expect(result.memoryBytes == 0)
    }

    @Test("Totals beyond Int64 are clamped")
    func saturation() throws {
        // 2 × (2^63-1) bytes and 10^40 CPUs do not fit Int64
        let result = try PodRequest.effective(
            initContainers: [],
            containers: [container(cpu: "1e40", memory: "9Ei"), container(memory: "9Ei")],
            overhead: [:])
        #expect(result.cpuMilli == .max)
        #expect(result.memoryBytes == .max)
    }

    @Test("An invalid cpu or memory quantity is refused, wherever it is")
    func invalidQuantity() {
        #expect(throws: PodRequestError.invalidQuantity(resource: "cpu", value: "abc", reason: .malformed("abc"))) {
            try PodRequest.effective(initContainers: [], containers: [container(cpu: "abc")], overhead: [:])
        }
        #expect(throws: PodRequestError.invalidQuantity(resource: "memory", value: "1ii", reason: .unknownSuffix("1ii"))) {
            try PodRequest.effective(initContainers: [container(memory: "1ii")], containers: [], overhead: [:])
        }
        #expect(throws: PodRequestError.invalidQuantity(resource: "memory", value: "1 Gi", reason: .malformed("1 Gi"))) {
            try PodRequest.effective(initContainers: [], containers: [], overhead: ["memory": "1 Gi"])
        }
    }

    @Test("A negative request is refused")
    func negativeQuantity() {
        #expect(throws: PodRequestError.negativeQuantity(resource: "memory", value: "-1Gi")) {
            try PodRequest.effective(initContainers: [], containers: [container(cpu: "1", memory: "-1Gi")], overhead: [:])
        }
    }
}
