import Foundation

/// A Kubernetes resource quantity such as `250m`, `0.5`, `128Mi`, `1G` or `1e3`, read exactly as
/// `k8s.io/apimachinery/pkg/api/resource.ParseQuantity` reads it.
///
/// The value is held exactly, as decimal digits and a power of ten, never as a `Double`. Exactness matters
/// because Kubernetes adds requests before it rounds: the scheduler and ResourceQuota sum the `Quantity`
/// values of every container, then take `MilliValue()` once. Two containers asking for `0.5m` CPU make
/// 1 millicore to Kubernetes; rounding each first would make 2, and a float sum of `0.1` + `0.2` would
/// not even be `0.3`. A catalog that reports namespace totals must round where Kubernetes rounds.
///
/// Parsing reproduces upstream, quirks included (each one is covered by a test):
/// - a value finer than a nanounit is rounded up, away from zero, to the next nanounit (`0.9n` is `1n`);
/// - a binary-suffixed value is capped, silently, at 2^63-1 (`9Ei`); decimal values are not capped;
/// - a bare unit with no digit is zero (`Ki`, `k`, `.`, `-`; kubernetes/apimachinery#165), except where
///   upstream's decimal fallback has to read the number and finds none (`Pi`, `Ei`, `e-10`);
/// - the exponent of `e<n>` is truncated to 32 bits and the scale arithmetic wraps like Go's `int32`.
///
/// Two quantities are equal when their values are (`1k == 1000 == 1e3`), whatever their spelling or format.
public struct Quantity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// How a quantity is written back out; upstream keeps the kind of suffix it was parsed with.
    public enum Format: String, Sendable, CaseIterable {
        case decimalSI = "DecimalSI"              // 12M = 12 × 10^6
        case binarySI = "BinarySI"                // 12Mi = 12 × 2^20
        case decimalExponent = "DecimalExponent"  // 12e6
    }

    public let format: Format
    public let isNegative: Bool
    /// The magnitude is `coefficient × 10^exponent`; `coefficient` holds decimal digits, most significant
    /// first, with neither leading nor trailing zeros, so each value has one representation. Zero has no digits.
    let coefficient: [UInt8]
    let exponent: Int
    /// Upstream remembers the input when its fast path judges it already canonical, and `String()` then
    /// returns the input unchanged (`+1`, `05`, `1.050` included); `nil` when the canonical form is computed.
    let preservedSpelling: String?

    public var isZero: Bool { coefficient.isEmpty }

    /// Parses `<signedNumber><suffix>`, exactly as upstream's `ParseQuantity`, or throws.
    public init(parsing text: String) throws(QuantityError) {
        if text == "0" {
            // Upstream answers a literal "0" before anything else, and keeps it as the quantity's string.
            self.init(isNegative: false, digits: [], exponent: 0, format: .decimalSI, preservedSpelling: text)
            return
        }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, let scanned = Self.scan(bytes) else { throw .malformed(text) }
        guard let suffix = Suffix(scanned.suffix) else { throw .unknownSuffix(text) }

        // Upstream pads an absent integer part to "0" before it measures precision and builds its int64.
        let integerDigits = scanned.integerDigits.isEmpty ? [ASCII.zero][...] : scanned.integerDigits
        let shifted = Array(integerDigits) + Array(scanned.fractionDigits)  // ASCII, as upstream's `num + denom`
        let digits = shifted.map { $0 - ASCII.zero }
        let fractionCount = scanned.fractionDigits.count

        switch suffix {
        case let .decimal(suffixExponent, format):
            // Go computes this scale in int32 and lets it wrap; so does this port.
            let scale = suffixExponent &- Int32(truncatingIfNeeded: fractionCount)
            if 18 - shifted.count >= 0, scale >= -9 {
                // Upstream's int64 fast path: exact, already a whole number of nanounits. It keeps the input
                // as the quantity's string when the digits look canonical.
                let preserve = scale % 3 == 0 && !shifted.hasSuffix(Array("000".utf8)) && shifted[0] != ASCII.zero
                self.init(isNegative: !scanned.isPositive, digits: digits, exponent: Int(scale), format: format,
                          preservedSpelling: preserve ? text : nil)
                return
            }
            guard scanned.numberHasDigit else { throw .unreadableNumber(text) }
            // The inf.Dec fallback: its scale is the fraction length minus the suffix exponent, again in int32.
            let infScale = Int32(truncatingIfNeeded: fractionCount) &+ (0 &- suffixExponent)
            self.init(roundingUpToNano: !scanned.isPositive, digits: digits, exponent: -Int(infScale), format: format)

        case let .binary(bits):
            var binaryDigits = digits
            Self.multiply(&binaryDigits, byPowerOfTwo: bits)
            // 1Mi has about 6 decimal digits, so upstream's fast path keeps room for bits × 3/10 of them.
            if fractionCount == 0, 15 - shifted.count - bits * 3 / 10 - 1 >= 0,
               let value = Int64(String(decoding: shifted, as: UTF8.self)),
               case (_, false) = value.multipliedReportingOverflow(by: Int64(1) << bits) {
                self.init(isNegative: !scanned.isPositive, digits: binaryDigits, exponent: 0, format: .binarySI,
                          preservedSpelling: value & 0x07 != 0 ? text : nil)
                return
            }
            guard scanned.numberHasDigit else { throw .unreadableNumber(text) }
            self.init(roundingUpToNano: !scanned.isPositive, digits: binaryDigits, exponent: -fractionCount, format: .binarySI)
        }
    }

    /// The canonical spelling upstream computes (`CanonicalizeBytes`): no fractional digits, the largest
    /// suffix of the quantity's format that loses nothing, a sign only when negative. `1.5` is `1500m`,
    /// `1.5Gi` is `1536Mi`, a binary value below 1024 or with a fraction is written as decimal SI, and a
    /// decimal SI value above the `E` suffix falls back to `e<n>` (`1000E` is `1e21`).
    public var canonical: String {
        if isZero { return "0" }
        let sign = isNegative ? "-" : ""
        if format == .binarySI, exponent >= 0, Self.compareMagnitudes(coefficient, exponent, Self.digits1024, 0) != .orderedAscending,
           var value = integralMagnitude {
            var power = 0
            while value >= 1024, value % 1024 == 0, power < Self.binarySuffixes.count - 1 {
                value /= 1024
                power += 1
            }
            return sign + String(value) + Self.binarySuffixes[power]
        }
        // Decimal: move the exponent down to a multiple of three, padding the digits with zeros.
        var digits = Self.text(coefficient)
        var exponent = exponent
        let remainder = exponent % 3
        if remainder != 0 {
            let padding = remainder > 0 ? remainder : remainder + 3
            digits += String(repeating: "0", count: padding)
            exponent -= padding
        }
        let suffix: String
        if format != .decimalExponent, let named = Self.decimalSuffixes[exponent] {
            suffix = named
        } else {
            suffix = exponent == 0 ? "" : "e\(exponent)"
        }
        return sign + digits + suffix
    }

    /// What upstream's `String()` and JSON encoding return: the input itself when upstream kept it
    /// (see `preservedSpelling`), otherwise `canonical`.
    public var description: String { preservedSpelling ?? canonical }

    /// The value in thousandths, rounded up in magnitude (away from zero) and clamped to `Int64`: upstream's
    /// `MilliValue()`, which overflows instead. The scheduler's CPU unit.
    public func milliValueRoundedUp() -> Int64 {
        Self.saturated(magnitude(inUnitsOfTenToThe: -3), isNegative: isNegative)
    }

    /// The value in whole units, rounded up in magnitude (away from zero) and clamped to `Int64`: upstream's
    /// `Value()`, which overflows instead. Bytes, for memory.
    public func valueRoundedUp() -> Int64 {
        Self.saturated(magnitude(inUnitsOfTenToThe: 0), isNegative: isNegative)
    }

    /// The exact value in nanounits, clamped to `Int128`. Every parsed quantity is a whole number of
    /// nanounits, so sums of these are exact; a clamped term is far beyond anything `Int64` can report.
    var nanoUnits: Int128 {
        guard let magnitude = magnitude(inUnitsOfTenToThe: -9), magnitude <= UInt128(Int128.max) else {
            return isNegative ? .min : .max
        }
        return isNegative ? -Int128(magnitude) : Int128(magnitude)
    }

    /// The exact value as a plain decimal (`-1.5`, `12000`), for tests and diagnostics. Its length grows
    /// with the exponent, so keep it away from quantities like `1e2000000000`.
    var exactDecimalString: String {
        if isZero { return "0" }
        var digits = Self.text(coefficient)
        if exponent >= 0 {
            digits += String(repeating: "0", count: exponent)
        } else if -exponent >= digits.count {
            digits = "0." + String(repeating: "0", count: -exponent - digits.count) + digits
        } else {
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: exponent))
        }
        return (isNegative ? "-" : "") + digits
    }

    public static func == (lhs: Quantity, rhs: Quantity) -> Bool {
        lhs.isNegative == rhs.isNegative && lhs.coefficient == rhs.coefficient && lhs.exponent == rhs.exponent
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(isNegative)
        hasher.combine(coefficient)
        hasher.combine(exponent)
    }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool {
        if lhs.isNegative != rhs.isNegative { return lhs.isNegative }
        let order = compareMagnitudes(lhs.coefficient, lhs.exponent, rhs.coefficient, rhs.exponent)
        return lhs.isNegative ? order == .orderedDescending : order == .orderedAscending
    }
}

/// Why a string is not a quantity; each case is one of upstream's three parse errors.
public enum QuantityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not `<signedNumber><suffix>`: empty, spaces, a second `.`, characters after the suffix (`ErrFormatWrong`).
    case malformed(String)
    /// The suffix is neither `Ki`…`Ei`, `n`…`E` nor `e<int>` (`ErrSuffix`).
    case unknownSuffix(String)
    /// A bare unit whose value upstream must read as a decimal and cannot, such as `Pi` (`ErrNumeric`).
    case unreadableNumber(String)

    public var description: String {
        switch self {
        case let .malformed(text): "'\(text)' is not a quantity of the form <number><suffix>, such as 250m or 512Mi"
        case let .unknownSuffix(text): "'\(text)' has an unknown suffix; use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or e<exponent>"
        case let .unreadableNumber(text): "'\(text)' has no number before its suffix"
        }
    }
}

// MARK: - Parsing

extension Quantity {
    private enum ASCII {
        static let zero = UInt8(ascii: "0")
        static let plus = UInt8(ascii: "+")
        static let minus = UInt8(ascii: "-")
        static let dot = UInt8(ascii: ".")
        /// The letters upstream's scanner lets into a suffix; which combinations are real is decided later.
        static let suffixLetters = Set("eEinumkKMGTP".utf8)
        static func isDigit(_ byte: UInt8) -> Bool { byte >= zero && byte <= zero + 9 }
    }

    private struct Scanned {
        var isPositive: Bool
        var integerDigits: ArraySlice<UInt8>  // leading zeros removed, possibly empty
        var fractionDigits: ArraySlice<UInt8>
        var suffix: ArraySlice<UInt8>
        /// Whether the number part holds any digit; upstream's decimal fallback refuses a number without one.
        var numberHasDigit: Bool
    }

    /// Upstream's `parseQuantityString`: sign, digits, optional `.digits`, then suffix letters, an optional
    /// sign and digits. `nil` where upstream answers `ErrFormatWrong`.
    private static func scan(_ bytes: [UInt8]) -> Scanned? {
        let end = bytes.count
        var position = 0
        var isPositive = true
        if bytes[0] == ASCII.minus {
            isPositive = false
            position += 1
        } else if bytes[0] == ASCII.plus {
            position += 1
        }
        let numberStart = position
        while position < end, bytes[position] == ASCII.zero { position += 1 }
        if position == end {
            // Only zeros (or nothing) after the sign: upstream returns "0" straight away, so "-" and "+" are zero.
            return Scanned(isPositive: isPositive, integerDigits: [], fractionDigits: [], suffix: [], numberHasDigit: true)
        }
        let integerStart = position
        while position < end, ASCII.isDigit(bytes[position]) { position += 1 }
        let integerDigits = bytes[integerStart..<position]
        var fractionDigits = bytes[position..<position]
        if position < end, bytes[position] == ASCII.dot {
            position += 1
            let fractionStart = position
            while position < end, ASCII.isDigit(bytes[position]) { position += 1 }
            fractionDigits = bytes[fractionStart..<position]
        }
        let numberHasDigit = bytes[numberStart..<position].contains(where: ASCII.isDigit)
        let suffixStart = position
        while position < end, ASCII.suffixLetters.contains(bytes[position]) { position += 1 }
        if position < end, bytes[position] == ASCII.minus || bytes[position] == ASCII.plus { position += 1 }
        while position < end, ASCII.isDigit(bytes[position]) { position += 1 }
        guard position == end else { return nil }
        return Scanned(isPositive: isPositive, integerDigits: integerDigits, fractionDigits: fractionDigits,
                       suffix: bytes[suffixStart..<end], numberHasDigit: numberHasDigit)
    }

    /// What a suffix means: upstream's `fastLookup` and `suffixHandler.interpret`.
    private enum Suffix {
        case decimal(exponent: Int32, format: Format)
        case binary(bits: Int)

        init?(_ bytes: ArraySlice<UInt8>) {
            let text = String(decoding: bytes, as: UTF8.self)
            if let exponent = Quantity.decimalSuffixExponents[text] {
                self = .decimal(exponent: exponent, format: .decimalSI)
            } else if let power = Quantity.binarySuffixes.firstIndex(of: text), power > 0 {
                self = .binary(bits: 10 * power)
            } else if text.utf8.count > 1, let first = text.first, first == "e" || first == "E",
                      let exponent = Int64(text.dropFirst()) {
                // Go's strconv.ParseInt(…, 10, 64) then int32(…): out-of-range exponents wrap, as upstream's do.
                self = .decimal(exponent: Int32(truncatingIfNeeded: exponent), format: .decimalExponent)
            } else {
                return nil
            }
        }
    }

    private static let decimalSuffixExponents: [String: Int32] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]
    private static let decimalSuffixes: [Int: String] = Dictionary(
        uniqueKeysWithValues: decimalSuffixExponents.map { (Int($0.value), $0.key) })
    /// Index n is the suffix for 1024^n.
    private static let binarySuffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]

    private init(isNegative: Bool, digits: [UInt8], exponent: Int, format: Format, preservedSpelling: String?) {
        var digits = Self.stripLeadingZeros(digits)
        var exponent = exponent
        Self.stripTrailingZeros(&digits, exponent: &exponent)
        self.coefficient = digits
        self.exponent = digits.isEmpty ? 0 : exponent
        self.isNegative = isNegative && !digits.isEmpty
        self.format = format
        self.preservedSpelling = preservedSpelling
    }

    /// Upstream's slow path: round a non-zero magnitude up to whole nanounits, cap binary values at 2^63-1,
    /// and write a binary value between 0 and 1 as decimal SI.
    private init(roundingUpToNano isNegative: Bool, digits: [UInt8], exponent: Int, format: Format) {
        var digits = Self.stripLeadingZeros(digits)
        var exponent = exponent
        Self.stripTrailingZeros(&digits, exponent: &exponent)
        if !digits.isEmpty, exponent < -9 {
            let dropped = -9 - exponent
            if dropped >= digits.count {
                digits = [1]
            } else {
                let hadFraction = digits.suffix(dropped).contains { $0 != 0 }
                digits.removeLast(dropped)
                if hadFraction { Self.increment(&digits) }
            }
            exponent = -9
            Self.stripTrailingZeros(&digits, exponent: &exponent)
        }
        var format = format
        if format == .binarySI, Self.compareMagnitudes(digits, exponent, Self.digitsInt64Max, 0) == .orderedDescending {
            digits = Self.digitsInt64Max
            exponent = 0
        }
        if format == .binarySI, !digits.isEmpty, digits.count + exponent <= 0 {
            format = .decimalSI  // 0 < |value| < 1
        }
        self.init(isNegative: isNegative, digits: digits, exponent: exponent, format: format, preservedSpelling: nil)
    }
}

// MARK: - Digit arithmetic

extension Quantity {
    private static let digitsInt64Max = digits(of: UInt64(Int64.max))
    private static let digits1024 = digits(of: 1024)

    private static func digits(of value: UInt64) -> [UInt8] {
        String(value).utf8.map { $0 - ASCII.zero }
    }

    private static func stripLeadingZeros(_ digits: [UInt8]) -> [UInt8] {
        Array(digits.drop { $0 == 0 })
    }

    private static func stripTrailingZeros(_ digits: inout [UInt8], exponent: inout Int) {
        while let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
    }

    private static func increment(_ digits: inout [UInt8]) {
        var index = digits.count - 1
        while index >= 0 {
            if digits[index] < 9 {
                digits[index] += 1
                return
            }
            digits[index] = 0
            index -= 1
        }
        digits.insert(1, at: 0)
    }

    /// Multiplies by 2^bits (bits a multiple of ten, at most 60) as repeated products with 1024.
    private static func multiply(_ digits: inout [UInt8], byPowerOfTwo bits: Int) {
        guard !digits.isEmpty else { return }
        for _ in 0..<(bits / 10) {
            var carry = 0
            for index in digits.indices.reversed() {
                let product = Int(digits[index]) * 1024 + carry
                digits[index] = UInt8(product % 10)
                carry = product / 10
            }
            while carry > 0 {
                digits.insert(UInt8(carry % 10), at: 0)
                carry /= 10
            }
        }
    }

    /// Orders `a × 10^aExponent` against `b × 10^bExponent`, both normalized, without expanding exponents.
    private static func compareMagnitudes(_ a: [UInt8], _ aExponent: Int, _ b: [UInt8], _ bExponent: Int) -> ComparisonResult {
        if a.isEmpty || b.isEmpty {
            return a.isEmpty == b.isEmpty ? .orderedSame : (a.isEmpty ? .orderedAscending : .orderedDescending)
        }
        // The position of the leading digit decides first.
        let aLead = a.count + aExponent, bLead = b.count + bExponent
        if aLead != bLead { return aLead < bLead ? .orderedAscending : .orderedDescending }
        for (x, y) in zip(a, b) where x != y {
            return x < y ? .orderedAscending : .orderedDescending
        }
        // Same leading digits: the longer coefficient has a non-zero digit further on.
        if a.count == b.count { return .orderedSame }
        return a.count < b.count ? .orderedAscending : .orderedDescending
    }

    private static func text(_ digits: [UInt8]) -> String {
        String(decoding: digits.map { $0 + ASCII.zero }, as: UTF8.self)
    }

    /// The magnitude as an integer when it is one and fits `UInt64`.
    private var integralMagnitude: UInt64? {
        guard exponent >= 0, let value = magnitude(inUnitsOfTenToThe: 0), value <= UInt128(UInt64.max) else { return nil }
        return UInt64(value)
    }

    /// `ceil(|value| / 10^unitExponent)`, or `nil` when it exceeds `UInt128`.
    private func magnitude(inUnitsOfTenToThe unitExponent: Int) -> UInt128? {
        if isZero { return 0 }
        let shift = exponent - unitExponent
        var kept = coefficient[...]
        var roundsUp = false
        if shift < 0 {
            let dropped = -shift
            if dropped >= coefficient.count { return 1 }
            kept = coefficient.dropLast(dropped)
            roundsUp = coefficient.suffix(dropped).contains { $0 != 0 }
        }
        // UInt128 holds at most 39 digits; anything longer cannot fit.
        guard kept.count + max(shift, 0) <= 39 else { return nil }
        var value: UInt128 = 0
        for digit in kept {
            guard let next = Self.timesTen(value, plus: UInt128(digit)) else { return nil }
            value = next
        }
        for _ in 0..<max(shift, 0) {
            guard let next = Self.timesTen(value, plus: 0) else { return nil }
            value = next
        }
        if roundsUp {
            let (next, overflow) = value.addingReportingOverflow(1)
            return overflow ? nil : next
        }
        return value
    }

    private static func timesTen(_ value: UInt128, plus digit: UInt128) -> UInt128? {
        let (product, overflow) = value.multipliedReportingOverflow(by: 10)
        let (sum, carry) = product.addingReportingOverflow(digit)
        return overflow || carry ? nil : sum
    }

    private static func saturated(_ magnitude: UInt128?, isNegative: Bool) -> Int64 {
        if isNegative {
            // Int64.min is -2^63 itself, so clamping there is exact for a magnitude of 2^63.
            guard let magnitude, magnitude <= UInt128(Int64.max) else { return .min }
            return -Int64(magnitude)
        }
        guard let magnitude, magnitude <= UInt128(Int64.max) else { return .max }
        return Int64(magnitude)
    }
}

extension Array where Element == UInt8 {
    fileprivate func hasSuffix(_ suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
