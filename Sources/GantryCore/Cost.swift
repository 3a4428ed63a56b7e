import Foundation

/// What a space's capacity costs (docs/api.md §8). Prices are decimals, kept exact from the request to the answer.
public struct SpacePricing: Sendable, Equatable {
    public let cpuCoreHour: Decimal
    public let memoryGiBHour: Decimal
    /// ISO 4217, e.g. `USD`.
    public let currency: String
    /// The prices as integers over one denominator, worked out once: an hour of `m` millicores and `b` bytes costs
    /// `(m × cpu + b × memory) / (10^scale × 2^30)` exactly. Foundation's `Decimal` takes microseconds per operation,
    /// which a project of 50 environments felt (bench/preview.sh); nil when the prices have too many digits to fit.
    let factors: (cpu: Int128, memory: Int128, scale: Int)?

    public init(cpuCoreHour: Decimal, memoryGiBHour: Decimal, currency: String) {
        self.cpuCoreHour = cpuCoreHour; self.memoryGiBHour = memoryGiBHour; self.currency = currency
        factors = Self.factors(cpuCoreHour: cpuCoreHour, memoryGiBHour: memoryGiBHour)
    }

    static func factors(cpuCoreHour: Decimal, memoryGiBHour: Decimal) -> (cpu: Int128, memory: Int128, scale: Int)? {
        guard let cpu = Money.digits(of: cpuCoreHour), let memory = Money.digits(of: memoryGiBHour) else { return nil }
        // cpu per millicore: value / 10^(scale + 3); memory per byte: value / (10^scale × 2^30).
        let scale = max(cpu.scale + 3, memory.scale)
        guard let cpuTimesPower = Money.checked(cpu.value, times: Money.tenTo(scale - cpu.scale - 3)),
              let cpuFactor = Money.checked(cpuTimesPower, times: Money.twoTo30),
              let memoryFactor = Money.checked(memory.value, times: Money.tenTo(scale - memory.scale)) else { return nil }
        return (cpuFactor, memoryFactor, scale)
    }

    public static func == (lhs: SpacePricing, rhs: SpacePricing) -> Bool {
        lhs.cpuCoreHour == rhs.cpuCoreHour && lhs.memoryGiBHour == rhs.memoryGiBHour && lhs.currency == rhs.currency
    }

    /// A price as stored: the number as the client wrote it, to 12 decimal places (answers show 12). Finer digits are
    /// rounded; a price `Decimal` cannot even hold (1e-308, found by the fuzzer) made the answer unencodable after the
    /// space was saved.
    public static func price(_ number: Double) -> Decimal {
        guard number.magnitude >= 0.5e-12 else { return 0 }
        var exact = decimal(number), rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 12, .plain)
        return rounded
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
/// Kubernetes does. Sums are 128-bit integers, so 200,000 replicas of a large request neither overflow nor round.
public struct RequestedCapacity: Sendable, Equatable {
    public var cpuMilli: Int128 = 0
    public var memoryBytes: Int128 = 0

    public init(cpuMilli: Int128 = 0, memoryBytes: Int128 = 0) { self.cpuMilli = cpuMilli; self.memoryBytes = memoryBytes }

    public mutating func add(cpuMilli: Int64, memoryBytes: Int64, times count: Int = 1) {
        self.cpuMilli += Int128(cpuMilli) * Int128(count)
        self.memoryBytes += Int128(memoryBytes) * Int128(count)
    }

    public mutating func add(_ other: RequestedCapacity) {
        cpuMilli += other.cpuMilli
        memoryBytes += other.memoryBytes
    }

    public var cores: Decimal { Decimal(string: String(cpuMilli))! / 1000 }
    public var gibibytes: Decimal { Decimal(string: String(memoryBytes))! / 1_073_741_824 }

    /// The price of one hour, exact (rounding is for the answer only: `Money.rounded`).
    public func hourly(at pricing: SpacePricing) -> Money {
        if let factors = pricing.factors, let cpu = Money.checked(cpuMilli, times: factors.cpu),
           let memory = Money.checked(memoryBytes, times: factors.memory), case (let sum, false) = cpu.addingReportingOverflow(memory) {
            return Money(numerator: sum, scale: factors.scale)
        }
        return Money(cores * pricing.cpuCoreHour + gibibytes * pricing.memoryGiBHour)
    }
}

/// An exact amount of money: `numerator / (10^scale × 2^30)` in integers while it fits (the common case: prices with
/// a few decimals, requests of real clusters), else a `Decimal`.
public struct Money: Sendable, Equatable {
    enum Value: Sendable, Equatable {
        case fraction(Int128, scale: Int)
        case decimal(Decimal)
    }

    var value: Value

    public static let zero = Money(numerator: 0, scale: 0)

    init(numerator: Int128, scale: Int) { value = .fraction(numerator, scale: scale) }
    public init(_ decimal: Decimal) { value = .decimal(decimal) }

    public var decimal: Decimal {
        switch value {
        case .decimal(let decimal): decimal
        case .fraction(let numerator, let scale): Decimal(string: String(numerator))! / Self.decimalPower(scale) / 1_073_741_824
        }
    }

    public static func + (lhs: Money, rhs: Money) -> Money {
        if case .fraction(let a, let aScale) = lhs.value, case .fraction(let b, let bScale) = rhs.value {
            let scale = max(aScale, bScale)
            if let a = checked(a, times: tenTo(scale - aScale)), let b = checked(b, times: tenTo(scale - bScale)),
               case (let sum, false) = a.addingReportingOverflow(b) {
                return Money(numerator: sum, scale: scale)
            }
        }
        return Money(lhs.decimal + rhs.decimal)
    }

    public func times(_ factor: Int) -> Money {
        if case .fraction(let numerator, let scale) = value, let product = Self.checked(numerator, times: Int128(factor)) {
            return Money(numerator: product, scale: scale)
        }
        return Money(decimal * Decimal(factor))
    }

    /// Rounded half up to `places` decimals, once, at the end of the arithmetic.
    public func rounded(places: Int = 4) -> Double {
        if case .fraction(let numerator, let scale) = value, numerator >= 0,
           let denominator = Self.checked(Self.tenTo(scale), times: Self.twoTo30),
           let scaled = Self.checked(numerator, times: Self.tenTo(places)), let twice = Self.checked(scaled, times: 2),
           let twiceDenominator = Self.checked(denominator, times: 2), case (let shifted, false) = twice.addingReportingOverflow(denominator) {
            let units = shifted / twiceDenominator
            // Through Int64: `Double(Int128)` takes a generic slow path (8 % of a project cost answer, perf).
            if units < (1 << 53), places < 16 { return Double(Int64(units)) / Double(Int64(Self.tenTo(places))) }
        }
        return Cost.rounded(decimal, places: places)
    }

    static let twoTo30: Int128 = 1 << 30

    /// 10^0 … 10^38: every power of ten an `Int128` holds.
    static let powersOfTen: [Int128] = (0...38).reduce(into: []) { powers, exponent in powers.append(exponent == 0 ? 1 : powers[exponent - 1] * 10) }

    /// 10^`exponent` from the table; 0 when it does not fit (which `checked` treats as an overflow).
    static func tenTo(_ exponent: Int) -> Int128 {
        exponent < 0 ? 1 : exponent < powersOfTen.count ? powersOfTen[exponent] : 0
    }

    static func decimalPower(_ exponent: Int) -> Decimal {
        var result = Decimal(1)
        for _ in 0..<max(0, exponent) { result *= 10 }
        return result
    }

    /// The product, or nil when it overflows (a zero factor from `power` means it overflowed there).
    static func checked(_ value: Int128, times factor: Int128) -> Int128? {
        guard factor != 0 || value == 0, case (let product, false) = value.multipliedReportingOverflow(by: factor) else { return nil }
        return product
    }

    /// A non-negative decimal as an integer and its number of decimals (`0.005` → 5, 3), from its plain text.
    static func digits(of decimal: Decimal) -> (value: Int128, scale: Int)? {
        let text = decimal.description
        var value: Int128 = 0, scale = 0, afterPoint = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") { guard !afterPoint else { return nil }; afterPoint = true; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"),
                  case (let shifted, false) = value.multipliedReportingOverflow(by: 10) else { return nil }
            value = shifted + Int128(byte - UInt8(ascii: "0"))
            if afterPoint { scale += 1 }
        }
        return text.isEmpty ? nil : (value, scale)
    }
}

extension ResourceRequests {
    /// The request per replica in the scheduler's units, or nil when it is not a quantity.
    public var scheduled: (cpuMilli: Int64, memoryBytes: Int64)? { Cost.request(cpu: cpuRequest, memory: memoryRequest) }
}

public enum Cost {
    /// Hours in a month, as cloud price lists count them (8,760 / 12).
    public static let hoursPerMonth = 730

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
        public var hourly: Money?
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
    public var hourly: Money
    public var deploymentsWithoutRequests: Int
    public var lines: [Line]

    public var monthly: Money { hourly.times(Cost.hoursPerMonth) }

    /// Spaces priced in different currencies cannot be added up: 409 naming `currency`.
    public static func estimate(_ environments: [EnvironmentRequests]) throws(AppError) -> CatalogCost {
        var cost = CatalogCost(currency: nil, hourly: .zero, deploymentsWithoutRequests: 0, lines: [])
        for environment in environments {
            cost.deploymentsWithoutRequests += environment.deploymentsWithoutRequests
            let hourly = environment.pricing.map { environment.requested.hourly(at: $0) }
            if let pricing = environment.pricing, let hourly {
                if let currency = cost.currency, currency != pricing.currency {
                    throw AppError.conflict(field: "currency", "This project's environments run on spaces priced in \(currency) and "
                                            + "\(pricing.currency); price them in one currency to add them up.")
                }
                cost.currency = pricing.currency
                cost.hourly = cost.hourly + hourly
            }
            cost.lines.append(Line(environmentID: environment.environmentID, name: environment.name, hourly: hourly,
                                   deploymentsWithoutRequests: environment.deploymentsWithoutRequests))
        }
        return cost
    }
}
