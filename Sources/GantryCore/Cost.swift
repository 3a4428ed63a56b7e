import Foundation

/// What a space's capacity costs (docs/api.md §8). Prices are decimals, kept exact from the request to the answer.
public struct SpacePricing: Sendable, Equatable {
    public let cpuCoreHour: Decimal
    public let memoryGiBHour: Decimal
    /// ISO 4217, e.g. `USD`.
    public let currency: String
    /// The prices of the scheduler's units, worked out once: Foundation's `Decimal` divides slowly (~5 µs), and an
    /// estimate multiplies by these for every environment.
    let perMillicoreHour: Decimal
    let perByteHour: Decimal

    public init(cpuCoreHour: Decimal, memoryGiBHour: Decimal, currency: String) {
        self.cpuCoreHour = cpuCoreHour; self.memoryGiBHour = memoryGiBHour; self.currency = currency
        perMillicoreHour = cpuCoreHour / 1000
        perByteHour = memoryGiBHour / 1_073_741_824
    }

    public static func == (lhs: SpacePricing, rhs: SpacePricing) -> Bool {
        lhs.cpuCoreHour == rhs.cpuCoreHour && lhs.memoryGiBHour == rhs.memoryGiBHour && lhs.currency == rhs.currency
    }

    /// A JSON number as the client wrote it: `0.1` is 0.1, not the binary fraction nearest to it.
    public static func decimal(_ number: Double) -> Decimal {
        Decimal(string: "\(number)", locale: Locale(identifier: "en_US_POSIX")) ?? Decimal(number)
    }

    /// Stored as one JSON text with the decimals as strings, so no database rounds them.
    public var stored: String {
        #"{"cpuCoreHour":"\#(cpuCoreHour)","currency":"\#(currency)","memoryGiBHour":"\#(memoryGiBHour)"}"#
    }

    public init?(stored: String?) {
        struct Stored: Decodable { var cpuCoreHour: String; var memoryGiBHour: String; var currency: String }
        guard let stored, let row = try? JSONDecoder().decode(Stored.self, from: Data(stored.utf8)),
              let cpu = Decimal(string: row.cpuCoreHour, locale: Locale(identifier: "en_US_POSIX")),
              let memory = Decimal(string: row.memoryGiBHour, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        self.init(cpuCoreHour: cpu, memoryGiBHour: memory, currency: row.currency)
    }

    public var auditValue: JSONValue {
        .object(["cpuCoreHour": .string("\(cpuCoreHour)"), "memoryGiBHour": .string("\(memoryGiBHour)"), "currency": .string(currency)])
    }
}

/// Requested capacity, in the scheduler's units: millicores and bytes, each rounded up per pod or container as
/// Kubernetes does. Sums are `Decimal`, so 200,000 replicas of a large request neither overflow nor round.
public struct RequestedCapacity: Sendable, Equatable {
    public var cpuMilli: Decimal = 0
    public var memoryBytes: Decimal = 0

    public init(cpuMilli: Decimal = 0, memoryBytes: Decimal = 0) { self.cpuMilli = cpuMilli; self.memoryBytes = memoryBytes }

    public mutating func add(cpuMilli: Int64, memoryBytes: Int64, times count: Int = 1) {
        self.cpuMilli += Decimal(cpuMilli) * Decimal(count)
        self.memoryBytes += Decimal(memoryBytes) * Decimal(count)
    }

    public mutating func add(_ other: RequestedCapacity) {
        cpuMilli += other.cpuMilli
        memoryBytes += other.memoryBytes
    }

    public var cores: Decimal { cpuMilli / 1000 }
    public var gibibytes: Decimal { memoryBytes / 1_073_741_824 }

    /// The price of one hour, exact (1/1000 and 1/2^30 are finite decimals; rounding is for the answer only: `Cost.rounded`).
    public func hourly(at pricing: SpacePricing) -> Decimal {
        cpuMilli * pricing.perMillicoreHour + memoryBytes * pricing.perByteHour
    }
}

extension ResourceRequests {
    /// The request per replica in the scheduler's units, or nil when it is not a quantity.
    public var scheduled: (cpuMilli: Int64, memoryBytes: Int64)? { Cost.request(cpu: cpuRequest, memory: memoryRequest) }
}

public enum Cost {
    /// Hours in a month, as cloud price lists count them (8,760 / 12).
    public static let hoursPerMonth: Decimal = 730

    /// Rounded half up to `places` decimals, once, at the end of the arithmetic.
    public static func rounded(_ value: Decimal, places: Int = 4) -> Double {
        var exact = value, result = Decimal()
        NSDecimalRound(&result, &exact, places, .plain)
        // Through the decimal text: the nearest double to the rounded value, which `doubleValue` does not always give.
        return Double(result.description) ?? NSDecimalNumber(decimal: result).doubleValue
    }

    /// A deployment's request as the catalog states it (per replica), or nil when it states none or one that is not a quantity.
    public static func request(cpu: String?, memory: String?) -> (cpuMilli: Int64, memoryBytes: Int64)? {
        guard let cpu, let memory, let cpuQuantity = try? Quantity(parsing: cpu), let memoryQuantity = try? Quantity(parsing: memory) else { return nil }
        return (cpuQuantity.milliValueRoundedUp(), memoryQuantity.valueRoundedUp())
    }
}

/// `GET /projects/{id}/cost` (docs/api.md §8): what the catalog says each environment asks for, priced with its
/// space's prices. Pure, so the rules (unpriced environments left out, one currency) are tested without a database.
public struct CatalogCost: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var environmentID: String
        public var name: String
        /// nil when the environment's space has no prices.
        public var hourly: Decimal?
        public var deploymentsWithoutRequests: Int
    }

    /// An environment's live deployments added up: Σ replicas × request, and how many state no request.
    public struct EnvironmentRequests: Sendable {
        public var environmentID: String
        public var name: String
        public var pricing: SpacePricing?
        public var requested: RequestedCapacity
        public var deploymentsWithoutRequests: Int
        public init(environmentID: String, name: String, pricing: SpacePricing?, requested: RequestedCapacity, deploymentsWithoutRequests: Int) {
            self.environmentID = environmentID; self.name = name; self.pricing = pricing; self.requested = requested
            self.deploymentsWithoutRequests = deploymentsWithoutRequests
        }
    }

    public var currency: String?
    public var hourly: Decimal
    public var deploymentsWithoutRequests: Int
    public var lines: [Line]

    public var monthly: Decimal { hourly * Cost.hoursPerMonth }

    /// Spaces priced in different currencies cannot be added up: 409 naming `currency`.
    public static func estimate(_ environments: [EnvironmentRequests]) throws(AppError) -> CatalogCost {
        var cost = CatalogCost(currency: nil, hourly: 0, deploymentsWithoutRequests: 0, lines: [])
        for environment in environments {
            cost.deploymentsWithoutRequests += environment.deploymentsWithoutRequests
            let hourly = environment.pricing.map { environment.requested.hourly(at: $0) }
            if let pricing = environment.pricing, let hourly {
                if let currency = cost.currency, currency != pricing.currency {
                    throw AppError.conflict(field: "currency", "This project's environments run on spaces priced in \(currency) and "
                                            + "\(pricing.currency); price them in one currency to add them up.")
                }
                cost.currency = pricing.currency
                cost.hourly += hourly
            }
            cost.lines.append(Line(environmentID: environment.environmentID, name: environment.name, hourly: hourly,
                                   deploymentsWithoutRequests: environment.deploymentsWithoutRequests))
        }
        return cost
    }
}
