/// The resource requests of one container, as written in its spec (`resources.requests`).
public struct ContainerRequests: Sendable, Equatable {
    /// Resource name to quantity, e.g. `["cpu": "250m", "memory": "512Mi"]`; only `cpu` and `memory` are read.
    public var requests: [String: String]
    /// An init container with `restartPolicy: Always`: a native sidecar (KEP-753) that starts in order
    /// with the init containers and keeps running beside the app containers.
    public var isSidecar: Bool

    public init(requests: [String: String] = [:], isSidecar: Bool = false) {
        self.requests = requests
        self.isSidecar = isSidecar
    }
}

/// Why a pod's requests cannot be added up.
public enum PodRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidQuantity(resource: String, value: String, reason: QuantityError)
    /// The API server refuses negative requests, so a sum that includes one would mean nothing.
    case negativeQuantity(resource: String, value: String)

    public var description: String {
        switch self {
        case let .invalidQuantity(resource, _, reason): "\(resource): \(reason)"
        case let .negativeQuantity(resource, value): "\(resource): '\(value)' is negative; requests must be at least 0"
        }
    }
}

/// The effective request of a pod, as the scheduler and ResourceQuota count it
/// (`k8s.io/component-helpers/resource.PodRequests`, with native sidecars).
public enum PodRequest {
    /// The pod's CPU (millicores) and memory (bytes) requests:
    /// `max(sum(app containers) + sum(sidecars), max over init containers of their peak) + overhead`.
    ///
    /// Init containers run one at a time, in order, and each sidecar keeps running once it has started, so a
    /// regular init container's peak is its own request plus every sidecar declared before it, and a
    /// sidecar's is the sum of the sidecars up to and including itself. Quantities are added exactly and
    /// rounded up once at the end, as Kubernetes does (`MilliValue()` for CPU, `Value()` for memory), and the
    /// results are clamped to `Int64`. A missing `cpu` or `memory` key counts as zero; other keys are ignored.
    /// Pod-level `spec.resources` (KEP-2837) is out of scope: pass container requests only.
    public static func effective(
        initContainers: [ContainerRequests], containers: [ContainerRequests], overhead: [String: String]
    ) throws(PodRequestError) -> (cpuMilli: Int64, memoryBytes: Int64) {
        var running = ResourceAmounts()
        for container in containers {
            running.add(try ResourceAmounts(container.requests))
        }

        var startedSidecars = ResourceAmounts()
        var initPeak = ResourceAmounts()
        for container in initContainers {
            let requests = try ResourceAmounts(container.requests)
            let peak: ResourceAmounts
            if container.isSidecar {
                running.add(requests)
                startedSidecars.add(requests)
                peak = startedSidecars
            } else {
                peak = requests.adding(startedSidecars)
            }
            initPeak.raise(to: peak)
        }

        running.raise(to: initPeak)
        running.add(try ResourceAmounts(overhead))
        return (cpuMilli: running.cpu.roundedUpDividing(by: 1_000_000), memoryBytes: running.memory.roundedUpDividing(by: 1_000_000_000))
    }
}

/// CPU and memory in exact nanounits: every parsed quantity is a whole number of them, so these sums lose nothing.
private struct ResourceAmounts {
    var cpu: Int128 = 0
    var memory: Int128 = 0

    init() {}

    init(_ requests: [String: String]) throws(PodRequestError) {
        cpu = try Self.nanoUnits(requests, "cpu")
        memory = try Self.nanoUnits(requests, "memory")
    }

    private static func nanoUnits(_ requests: [String: String], _ resource: String) throws(PodRequestError) -> Int128 {
        guard let value = requests[resource] else { return 0 }
        let quantity: Quantity
        do {
            quantity = try Quantity(parsing: value)
        } catch {
            throw .invalidQuantity(resource: resource, value: value, reason: error)
        }
        guard !quantity.isNegative else { throw .negativeQuantity(resource: resource, value: value) }
        return quantity.nanoUnits
    }

    mutating func add(_ other: ResourceAmounts) {
        cpu = cpu.saturatingAdding(other.cpu)
        memory = memory.saturatingAdding(other.memory)
    }

    func adding(_ other: ResourceAmounts) -> ResourceAmounts {
        var sum = self
        sum.add(other)
        return sum
    }

    /// Upstream's `maxResourceList`: each resource independently, so CPU and memory peaks may come from different phases.
    mutating func raise(to other: ResourceAmounts) {
        cpu = max(cpu, other.cpu)
        memory = max(memory, other.memory)
    }
}

extension Int128 {
    /// Only non-negative amounts are added, so clamping at the top keeps the order the final `Int64` clamp needs.
    fileprivate func saturatingAdding(_ other: Int128) -> Int128 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `ceil(self / divisor)` for a non-negative amount, clamped to `Int64`.
    fileprivate func roundedUpDividing(by divisor: Int128) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        let rounded = remainder == 0 ? quotient : quotient + 1
        return rounded > Int128(Int64.max) ? .max : Int64(rounded)
    }
}
