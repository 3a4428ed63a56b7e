@testable import GantryCore
import Testing

// The tables below are carried from kubernetes/apimachinery, pkg/api/resource/quantity_test.go:
// TestQuantityParse (values, formats and its invalid list), TestQuantityParseZero,
// TestQuantityParseNonNumericPanic, TestQuantityParseEmit, TestQuantityString, TestParseQuantity,
// TestQuantityCmp and the round trips of TestNewSet / TestMilliNewSet / TestNewScaledSet / TestScaledValue.
// Upstream writes an expected value as decQuantity(coefficient, exponent, format), meaning
// coefficient × 10^exponent; the rows here keep that form.

@Suite("Kubernetes quantities")
struct QuantityTests {
    typealias Format = Quantity.Format

    /// TestQuantityParse: input → coefficient, exponent, format.
    static let parseTable: [(String, Int64, Int, Format)] = [
        // Zeroes
        ("0", 0, 0, .decimalSI),
        ("0n", 0, 0, .decimalSI),
        ("0u", 0, 0, .decimalSI),
        ("0m", 0, 0, .decimalSI),
        ("0Ki", 0, 0, .binarySI),
        ("0k", 0, 0, .decimalSI),
        ("0Mi", 0, 0, .binarySI),
        ("0M", 0, 0, .decimalSI),
        ("0Gi", 0, 0, .binarySI),
        ("0G", 0, 0, .decimalSI),
        ("0Ti", 0, 0, .binarySI),
        ("0T", 0, 0, .decimalSI),
        // Quantity-less numbers are allowed
        ("1", 1, 0, .decimalSI),
        // Binary suffixes
        ("1Ki", 1024, 0, .binarySI),
        ("8Ki", 8192, 0, .binarySI),
        ("7Mi", 7340032, 0, .binarySI),
        ("6Gi", 6442450944, 0, .binarySI),
        ("5Ti", 5497558138880, 0, .binarySI),
        ("4Pi", 4503599627370496, 0, .binarySI),
        ("3Ei", 3458764513820540928, 0, .binarySI),
        ("10Ti", 10995116277760, 0, .binarySI),
        ("100Ti", 109951162777600, 0, .binarySI),
        // Decimal suffixes
        ("5n", 5, -9, .decimalSI),
        ("4u", 4, -6, .decimalSI),
        ("3m", 3, -3, .decimalSI),
        ("9", 9, 0, .decimalSI),
        ("8k", 8, 3, .decimalSI),
        ("50k", 5, 4, .decimalSI),
        ("7M", 7, 6, .decimalSI),
        ("6G", 6, 9, .decimalSI),
        ("5T", 5, 12, .decimalSI),
        ("40T", 4, 13, .decimalSI),
        ("300T", 3, 14, .decimalSI),
        ("2P", 2, 15, .decimalSI),
        ("1E", 1, 18, .decimalSI),
        // Decimal exponents
        ("1E-3", 1, -3, .decimalExponent),
        ("1e3", 1, 3, .decimalExponent),
        ("1E6", 1, 6, .decimalExponent),
        ("1e9", 1, 9, .decimalExponent),
        ("1E12", 1, 12, .decimalExponent),
        ("1e15", 1, 15, .decimalExponent),
        ("1E18", 1, 18, .decimalExponent),
        // Nonstandard but still parsable
        ("1e14", 1, 14, .decimalExponent),
        ("1e13", 1, 13, .decimalExponent),
        ("100.035k", 100035, 0, .decimalSI),
        // Things that look like floating point
        ("0.001", 1, -3, .decimalSI),
        ("0.0005k", 5, -1, .decimalSI),
        ("0.005", 5, -3, .decimalSI),
        ("0.05", 5, -2, .decimalSI),
        ("0.5", 5, -1, .decimalSI),
        ("0.00050k", 5, -1, .decimalSI),
        ("0.00500", 5, -3, .decimalSI),
        ("0.05000", 5, -2, .decimalSI),
        ("0.50000", 5, -1, .decimalSI),
        ("0.5e0", 5, -1, .decimalExponent),
        ("0.5e-1", 5, -2, .decimalExponent),
        ("0.5e-2", 5, -3, .decimalExponent),
        ("10.035M", 10035, 3, .decimalSI),
        ("1.2e3", 12, 2, .decimalExponent),
        ("1.3E+6", 13, 5, .decimalExponent),
        ("1.40e9", 14, 8, .decimalExponent),
        ("1.53E12", 153, 10, .decimalExponent),
        ("1.6e15", 16, 14, .decimalExponent),
        ("1.7E18", 17, 17, .decimalExponent),
        ("9.01", 901, -2, .decimalSI),
        ("8.1k", 81, 2, .decimalSI),
        ("7.123456M", 7123456, 0, .decimalSI),
        ("6.987654321G", 6987654321, 0, .decimalSI),
        ("5.444T", 5444, 9, .decimalSI),
        ("40.1T", 401, 11, .decimalSI),
        ("300.2T", 3002, 11, .decimalSI),
        ("2.5P", 25, 14, .decimalSI),
        ("1.01E", 101, 16, .decimalSI),
        // Things that saturate/round
        ("3.001n", 4, -9, .decimalSI),
        ("1.1E-9", 2, -9, .decimalExponent),
        ("0.0000000001", 1, -9, .decimalSI),
        ("0.0000000005", 1, -9, .decimalSI),
        ("0.00000000050", 1, -9, .decimalSI),
        ("0.5e-9", 1, -9, .decimalExponent),
        ("0.9n", 1, -9, .decimalSI),
        ("0.00000012345", 124, -9, .decimalSI),
        ("0.00000012354", 124, -9, .decimalSI),
        ("9Ei", 9223372036854775807, 0, .binarySI),
        ("9223372036854775807Ki", 9223372036854775807, 0, .binarySI),
        ("12E", 12, 18, .decimalSI),
        // We'll accept fractional binary stuff, too.
        ("100.035Ki", 10243584, -2, .binarySI),
        ("0.5Mi", 524288, 0, .binarySI),
        ("0.05Gi", 536870912, -1, .binarySI),
        ("0.025Ti", 274877906944, -1, .binarySI),
        // Things written by trolls
        ("0.000000000001Ki", 2, -9, .decimalSI),
        (".001", 1, -3, .decimalSI),
        (".0001k", 100, -3, .decimalSI),
        ("1.", 1, 0, .decimalSI),
        ("1.G", 1, 9, .decimalSI),
    ]

    @Test("Upstream's parse table gives the exact value and format", arguments: parseTable)
    func parsesUpstreamTable(_ input: String, _ coefficient: Int64, _ exponent: Int, _ format: Format) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.exactDecimalString == Self.plainDecimal(coefficient, exponent))
        #expect(quantity.format == format)
    }

    @Test("A leading '-' negates every row of the parse table and keeps its format", arguments: parseTable)
    func negatesUpstreamTable(_ input: String, _ coefficient: Int64, _ exponent: Int, _ format: Format) throws {
        let quantity = try Quantity(parsing: "-" + input)
        let magnitude = Self.plainDecimal(coefficient, exponent)
        #expect(quantity.exactDecimalString == (magnitude == "0" ? "0" : "-" + magnitude))
        #expect(quantity.isNegative == (magnitude != "0"))
        #expect(quantity.format == format)
    }

    @Test("A leading '+' changes neither value nor format", arguments: parseTable)
    func explicitPlusSign(_ input: String, _ coefficient: Int64, _ exponent: Int, _ format: Format) throws {
        let quantity = try Quantity(parsing: "+" + input)
        #expect(quantity == (try Quantity(parsing: input)))
        #expect(quantity.exactDecimalString == Self.plainDecimal(coefficient, exponent))
        #expect(quantity.format == format)
    }

    enum Failure: Sendable {
        case malformed, unknownSuffix, unreadableNumber

        func error(_ input: String) -> QuantityError {
            switch self {
            case .malformed: .malformed(input)
            case .unknownSuffix: .unknownSuffix(input)
            case .unreadableNumber: .unreadableNumber(input)
            }
        }
    }

    /// TestQuantityParse's invalid list, TestQuantityParseNonNumericPanic, TestQuantityValueSet, then ours.
    static let invalidTable: [(String, Failure)] = [
        ("1.1.M", .malformed), ("1+1.0M", .malformed), ("0.1mi", .unknownSuffix), ("0.1am", .malformed),
        ("aoeu", .malformed), (".5i", .unknownSuffix), ("1i", .unknownSuffix), ("-3.01i", .unknownSuffix),
        ("-3.01e-", .unknownSuffix), (" 1", .malformed), ("1 ", .malformed), ("", .malformed),
        ("Non-Numeric", .malformed), ("invalid", .malformed),
        // Not upstream's rows, but upstream's answers.
        ("1.1.1", .malformed), ("1Mi1", .unknownSuffix), ("1ii", .unknownSuffix), ("1e", .unknownSuffix),
        ("1e-", .unknownSuffix), ("1E+", .unknownSuffix), ("1K", .unknownSuffix), ("1KiB", .malformed),
        ("1 Gi", .malformed), ("1k1", .unknownSuffix), ("1e1.5", .malformed), ("--1", .unknownSuffix),
        ("1e9223372036854775808", .unknownSuffix), ("0x10", .malformed), ("1_000", .malformed),
        ("1Gi\n", .malformed), ("\u{FF11}", .malformed), ("NaN", .malformed),
        ("Pi", .unreadableNumber), ("Ei", .unreadableNumber), (".Pi", .unreadableNumber), ("e-10", .unreadableNumber),
    ]

    @Test("Malformed quantities are refused with upstream's error", arguments: invalidTable)
    func refusesInvalid(_ input: String, _ failure: Failure) {
        #expect(throws: failure.error(input)) { try Quantity(parsing: input) }
    }

    /// kubernetes/apimachinery#165: upstream reads a bare unit, or a sign or point alone, as zero.
    @Test("A bare unit without digits parses as zero, as upstream's does", arguments: [
        ("Ki", Format.binarySI), ("Mi", .binarySI), ("Gi", .binarySI), ("Ti", .binarySI), ("-Ki", .binarySI),
        (".Ki", .binarySI), ("k", .decimalSI), ("m", .decimalSI), ("n", .decimalSI), ("P", .decimalSI), ("E", .decimalSI),
        (".", .decimalSI), ("-.", .decimalSI), ("+", .decimalSI), ("-", .decimalSI), ("e5", .decimalExponent), ("e-9", .decimalExponent),
    ])
    func bareUnitIsZero(_ input: String, _ format: Format) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.isZero)
        #expect(!quantity.isNegative)
        #expect(quantity.format == format)
        #expect(quantity.description == "0")
    }

    @Test("Zero is written as 0 (TestQuantityParseZero)", arguments: ["0", "00", "-0", "0.000", "0Ki", "0e9", "+0m"])
    func zero(_ input: String) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.isZero)
        #expect(!quantity.isNegative)
        #expect(quantity.canonical == "0")
        #expect(quantity.description == "0")
    }

    /// TestQuantityParseEmit: input → what upstream's String() writes.
    static let emitTable: [(String, String)] = [
        ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"),
        (".001Ki", "1024m"), (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
    ]

    @Test("Parsed quantities are written back as upstream writes them", arguments: emitTable)
    func emits(_ input: String, _ expected: String) throws {
        #expect(try Quantity(parsing: input).description == expected)
        #expect(try Quantity(parsing: "-" + input).description == "-" + expected)
    }

    /// TestQuantityString: canonical spelling → another spelling of the same value ("" when upstream has none).
    static let stringTable: [(String, String)] = [
        ("1Gi", "1024Mi"), ("300Mi", "307200Ki"), ("6Ki", ""), ("1001Gi", "1025024Mi"), ("1Ti", "1024Gi"),
        ("5", "5000m"), ("500m", "0.5"), ("1G", "1000M"), ("1G", "0.001T"), ("1m", "1000u"), ("80m", ""),
        ("1080m", "1.08"), ("1080m", "1080000000n"), ("300M", ""), ("1T", ""), ("1E", ""),
        ("1e21", "1000E"), ("5e21", "5000E"), ("1e24", "1000000E"), ("1234567M", ""), ("1234567m", ""),
        ("3k", ""), ("1025", ""), ("0", "00"), ("1e9", ".001e12"), ("1e-3", "0.001e0"), ("1e-9", "1000e-12"),
        ("80e-3", ""), ("300e6", ""), ("1e12", ""), ("1e3", ""), ("3e3", ""), ("1n", ""), ("80n", ""),
        ("1080n", ""), ("1u", ""), ("80u", ""), ("1080u", ""),
    ]

    @Test("A canonical spelling is kept as given and is its own canonical form", arguments: stringTable)
    func canonicalSpellingIsKept(_ canonical: String, _ alternate: String) throws {
        let quantity = try Quantity(parsing: canonical)
        #expect(quantity.preservedSpelling == canonical)
        #expect(quantity.canonical == canonical)
        #expect(quantity.description == canonical)
        if canonical != "0" {
            #expect(try Quantity(parsing: "-" + canonical).canonical == "-" + canonical)
        }
    }

    @Test("Another spelling is rewritten to the canonical one", arguments: stringTable.filter { !$0.1.isEmpty })
    func alternateSpellingIsCanonicalized(_ canonical: String, _ alternate: String) throws {
        let quantity = try Quantity(parsing: alternate)
        #expect(quantity.preservedSpelling == nil)
        #expect(quantity.description == canonical)
        #expect(quantity == (try Quantity(parsing: canonical)))
        if canonical != "0" {
            #expect(try Quantity(parsing: "-" + alternate).description == "-" + canonical)
        }
    }

    /// TestParseQuantity: input → exact value → what String() writes, around the int64 boundaries.
    static let boundaryTable: [(String, String, String)] = [
        ("-999999999999999999", "-999999999999999999", "-999999999999999999"),
        ("999999999999999999", "999999999999999999", "999999999999999999"),
        ("-999999999999999999.0", "-999999999999999999", "-999999999999999999"),
        ("999999999999999999.0", "999999999999999999", "999999999999999999"),
        ("-999999999999999999.1", "-999999999999999999.1", "-999999999999999999100m"),
        ("999999999999999999.1", "999999999999999999.1", "999999999999999999100m"),
        ("-9999999999999999999", "-9999999999999999999", "-9999999999999999999"),
        ("9999999999999999999", "9999999999999999999", "9999999999999999999"),
        ("-1E", "-1000000000000000000", "-1E"),
        ("1E", "1000000000000000000", "1E"),
        ("-1000000000000000000", "-1000000000000000000", "-1E"),
        ("1000000000000000000", "1000000000000000000", "1E"),
        ("-9999999999999999999.0", "-9999999999999999999", "-9999999999999999999"),
        ("9999999999999999999.0", "9999999999999999999", "9999999999999999999"),
        ("-1.0E", "-1000000000000000000", "-1E"),
        ("1.0E", "1000000000000000000", "1E"),
        ("-1000000000000000000.0", "-1000000000000000000", "-1E"),
        ("1000000000000000000.0", "1000000000000000000", "1E"),
        ("-9999999999999999999000m", "-9999999999999999999", "-9999999999999999999"),
        ("9999999999999999999000m", "9999999999999999999", "9999999999999999999"),
        ("-9999999999999999999.1", "-9999999999999999999.1", "-9999999999999999999100m"),
        ("9999999999999999999.1", "9999999999999999999.1", "9999999999999999999100m"),
        ("-1.0000000000000000001E", "-1000000000000000000.1", "-1000000000000000000100m"),
        ("1.0000000000000000001E", "1000000000000000000.1", "1000000000000000000100m"),
        ("-1000000000000000000.1", "-1000000000000000000.1", "-1000000000000000000100m"),
        ("1000000000000000000.1", "1000000000000000000.1", "1000000000000000000100m"),
        ("-1.000000000000000001E", "-1000000000000000001", "-1000000000000000001"),
        ("1.000000000000000001E", "1000000000000000001", "1000000000000000001"),
        ("-1000000000000000001", "-1000000000000000001", "-1000000000000000001"),
        ("1000000000000000001", "1000000000000000001", "1000000000000000001"),
        ("-10E", "-10000000000000000000", "-10E"),
        ("10E", "10000000000000000000", "10E"),
        ("-10000000000000000000", "-10000000000000000000", "-10E"),
        ("10000000000000000000", "10000000000000000000", "10E"),
        ("-10.0E", "-10000000000000000000", "-10E"),
        ("10.0E", "10000000000000000000", "10E"),
        ("-10000000000000000000.0", "-10000000000000000000", "-10E"),
        ("10000000000000000000.0", "10000000000000000000", "10E"),
        ("-10000000000000000000000m", "-10000000000000000000", "-10E"),
        ("10000000000000000000000m", "10000000000000000000", "10E"),
        ("-10.0000000000000000001E", "-10000000000000000000.1", "-10000000000000000000100m"),
        ("10.0000000000000000001E", "10000000000000000000.1", "10000000000000000000100m"),
        ("-10000000000000000000.1", "-10000000000000000000.1", "-10000000000000000000100m"),
        ("10000000000000000000.1", "10000000000000000000.1", "10000000000000000000100m"),
        ("-10.000000000000000001E", "-10000000000000000001", "-10000000000000000001"),
        ("10.000000000000000001E", "10000000000000000001", "10000000000000000001"),
        ("-10000000000000000001", "-10000000000000000001", "-10000000000000000001"),
        ("10000000000000000001", "10000000000000000001", "10000000000000000001"),
        ("-9223372036854775809", "-9223372036854775809", "-9223372036854775809"),
        ("9223372036854775806", "9223372036854775806", "9223372036854775806"),
        ("-9223372036854775809.0", "-9223372036854775809", "-9223372036854775809"),
        ("9223372036854775806.0", "9223372036854775806", "9223372036854775806"),
        ("-9223372036854775809000m", "-9223372036854775809", "-9223372036854775809"),
        ("9223372036854775806000m", "9223372036854775806", "9223372036854775806"),
        ("-9223372036854775809.1", "-9223372036854775809.1", "-9223372036854775809100m"),
        ("9223372036854775806.1", "9223372036854775806.1", "9223372036854775806100m"),
        ("-9223372036854775808", "-9223372036854775808", "-9223372036854775808"),
        ("9223372036854775807", "9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808.0", "-9223372036854775808", "-9223372036854775808"),
        ("9223372036854775807.0", "9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808000m", "-9223372036854775808", "-9223372036854775808"),
        ("9223372036854775807000m", "9223372036854775807", "9223372036854775807"),
        ("-9223372036854775808.1", "-9223372036854775808.1", "-9223372036854775808100m"),
        ("9223372036854775807.1", "9223372036854775807.1", "9223372036854775807100m"),
        ("-9223372036854775807", "-9223372036854775807", "-9223372036854775807"),
        ("9223372036854775808", "9223372036854775808", "9223372036854775808"),
        ("-9223372036854775807.0", "-9223372036854775807", "-9223372036854775807"),
        ("9223372036854775808.0", "9223372036854775808", "9223372036854775808"),
        ("-9223372036854775807000m", "-9223372036854775807", "-9223372036854775807"),
        ("9223372036854775808000m", "9223372036854775808", "9223372036854775808"),
        ("-9223372036854775807.1", "-9223372036854775807.1", "-9223372036854775807100m"),
        ("9223372036854775808.1", "9223372036854775808.1", "9223372036854775808100m"),
    ]

    @Test("Values beyond int64 stay exact and are written as upstream writes them", arguments: boundaryTable)
    func boundaries(_ input: String, _ exact: String, _ written: String) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.exactDecimalString == exact)
        #expect(quantity.description == written)
    }

    @Test("Upstream keeps some non-canonical input as the written form, as its fast path does", arguments: [
        ("+1", "+1", "1"), ("05", "05", "5"), ("1.050", "1.050", "1050m"), ("1.", "1.", "1"), ("1.G", "1.G", "1G"),
        ("1E3", "1E3", "1e3"), ("+5Ki", "+5Ki", "5Ki"), ("05Ki", "05Ki", "5Ki"), ("+5Pi", "5Pi", "5Pi"), ("8Ki", "8Ki", "8Ki"),
    ])
    func preservedSpelling(_ input: String, _ written: String, _ canonical: String) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.description == written)
        #expect(quantity.canonical == canonical)
    }

    @Test("Binary suffixes are capped at 2^63-1, decimal ones are not", arguments: [
        ("9Ei", "9223372036854775807"), ("9223372036854775807Ki", "9223372036854775807"), ("8Ei", "9223372036854775807"),
        ("-9Ei", "-9223372036854775807"), ("7.99999Ei", "9223360507639729739.53024"), ("12E", "12000000000000000000"),
    ])
    func binaryCap(_ input: String, _ exact: String) throws {
        #expect(try Quantity(parsing: input).exactDecimalString == exact)
    }

    @Test("Values finer than a nanounit round up, away from zero", arguments: [
        ("0.9n", "0.000000001"), ("-0.9n", "-0.000000001"), ("1.0000000001", "1.000000001"), ("1e-2000000000", "0.000000001"),
        ("0.000000001000", "0.000000001"), ("1000e-12", "0.000000001"), ("1001e-12", "0.000000002"),
    ])
    func roundsUpBelowNano(_ input: String, _ exact: String) throws {
        #expect(try Quantity(parsing: input).exactDecimalString == exact)
    }

    @Test("A binary value between 0 and 1 becomes decimal SI, a larger fraction stays binary")
    func binaryFractionFormat() throws {
        #expect(try Quantity(parsing: "0.0001Ki").format == .decimalSI)     // 0.1024
        #expect(try Quantity(parsing: "0.0001Ki").description == "102400u")
        #expect(try Quantity(parsing: "1.5Ki").format == .binarySI)         // 1536: whole, so still binary
        #expect(try Quantity(parsing: "1.5Ki").description == "1536")       // but no power of 1024 divides it
        #expect(try Quantity(parsing: "1.5Gi").description == "1536Mi")
        #expect(try Quantity(parsing: "1.1Ki").description == "1126400m")  // 1126.4 is not whole: decimal
    }

    @Test("The e<n> exponent is truncated to 32 bits, as upstream's int32(parsed) does")
    func exponentWraps() throws {
        // 4294967296 is 2^32, whose low 32 bits are 0: upstream reads 1e4294967296 as 1.
        #expect(try Quantity(parsing: "1e4294967296") == Quantity(parsing: "1"))
        #expect(try Quantity(parsing: "1e4294967299") == Quantity(parsing: "1e3"))
        // -2147483648 - 1 wraps to 2147483647, so half of 10^-2147483648 is a huge number upstream.
        #expect(try Quantity(parsing: "0.5e-2147483648").valueRoundedUp() == .max)
        #expect(try Quantity(parsing: "0.5e-2147483648") == Quantity(parsing: "5e2147483647"))
    }

    @Test("Huge exponents stay symbolic: comparing, writing and rounding them is immediate")
    func hugeExponents() throws {
        let huge = try Quantity(parsing: "1e2000000000")
        #expect(huge.canonical == "100e1999999998")
        #expect(huge.valueRoundedUp() == .max)
        #expect(huge.milliValueRoundedUp() == .max)
        #expect(try Quantity(parsing: "-1e2000000000").valueRoundedUp() == .min)
        #expect(try huge > Quantity(parsing: "9Ei"))
        #expect(try Quantity(parsing: "1e-2000000000").milliValueRoundedUp() == 1)
    }

    /// TestNewSet, TestMilliNewSet and TestNewScaledSet read back: spelling → value → milli value.
    static let valueTable: [(String, Int64, Int64)] = [
        ("1", 1, 1000), ("1k", 1000, 1_000_000), ("1234k", 1_234_000, 1_234_000_000), ("1Ki", 1024, 1_024_000),
        ("1e6", 1_000_000, 1_000_000_000), ("1Mi", 1_048_576, 1_048_576_000), ("1m", 1, 1), ("1234", 1234, 1_234_000),
        ("1e3", 1000, 1_000_000), ("1048576m", 1049, 1_048_576), ("1n", 1, 1), ("1u", 1, 1), ("0", 0, 0),
        // The spellings of the pod request tests.
        ("100m", 1, 100), ("0.5", 1, 500), ("128Mi", 134_217_728, 134_217_728_000), ("1G", 1_000_000_000, 1_000_000_000_000),
        ("500M", 500_000_000, 500_000_000_000), ("1.5", 2, 1500), ("250m", 1, 250), ("0.1m", 1, 1),
    ]

    @Test("Values and milli values round up to whole units", arguments: valueTable)
    func roundedValues(_ input: String, _ value: Int64, _ milli: Int64) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.valueRoundedUp() == value)
        #expect(quantity.milliValueRoundedUp() == milli)
    }

    @Test("Negative values round away from zero", arguments: [("-1.5", Int64(-2), Int64(-1500)), ("-0.1m", -1, -1), ("-1n", -1, -1), ("-2k", -2000, -2_000_000)])
    func negativeRounding(_ input: String, _ value: Int64, _ milli: Int64) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.isNegative)
        #expect(quantity.valueRoundedUp() == value)
        #expect(quantity.milliValueRoundedUp() == milli)
    }

    @Test("Conversions clamp to Int64 instead of overflowing", arguments: [
        ("9223372036854775807", Int64.max, Int64.max), ("9223372036854775808", .max, .max), ("9Ei", .max, .max),
        ("9223372036854775m", 9_223_372_036_855, 9_223_372_036_854_775), ("9223372036854776", 9_223_372_036_854_776, .max),
        ("-9223372036854775808", .min, .min), ("-9223372036854775809", .min, .min), ("-10E", .min, .min), ("1e40", .max, .max),
    ])
    func saturates(_ input: String, _ value: Int64, _ milli: Int64) throws {
        let quantity = try Quantity(parsing: input)
        #expect(quantity.valueRoundedUp() == value)
        #expect(quantity.milliValueRoundedUp() == milli)
    }

    /// TestQuantityCmp, then spellings of one value in different formats.
    @Test("Quantities compare by exact value", arguments: [
        ("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1),
        ("1k", "1000", 0), ("1e3", "1k", 0), ("1Ki", "1024", 0), ("0.5Mi", "512Ki", 0), ("-1", "1m", -1),
        ("-2", "-1", -1), ("9999999999999999999.1", "9999999999999999999", 1), ("1n", "0", 1), ("-0", "0", 0),
    ])
    func compares(_ lhs: String, _ rhs: String, _ order: Int) throws {
        let left = try Quantity(parsing: lhs), right = try Quantity(parsing: rhs)
        #expect((left < right) == (order < 0))
        #expect((left == right) == (order == 0))
        #expect((left > right) == (order > 0))
        if order == 0 { #expect(left.hashValue == right.hashValue) }
    }

    @Test("Formats follow the suffix", arguments: [("1", Format.decimalSI), ("1m", .decimalSI), ("1Ki", .binarySI), ("1e3", .decimalExponent), ("1E", .decimalSI), ("1E3", .decimalExponent)])
    func formats(_ input: String, _ format: Format) throws {
        #expect(try Quantity(parsing: input).format == format)
    }

    @Test("Request validation uses the parser but refuses negatives, bare units and long strings", arguments: [
        ("250m", true), ("1e3", true), ("+1", true), ("-0", true), ("1.", true), ("0.5Gi", true), ("1E", true),
        ("-1", false), ("Ki", false), (".", false), ("-.", false), ("+", false), ("e5", false), ("1Mi1", false),
        ("1ii", false), (" 1", false), ("1 ", false), ("", false), ("1" + String(repeating: "0", count: 63), true),
        ("1" + String(repeating: "0", count: 64), false),
    ])
    func requestValidation(_ value: String, _ valid: Bool) {
        #expect(Rules.isQuantity(value) == valid)
    }

    /// Writes coefficient × 10^exponent as a plain decimal, independently of the code under test.
    static func plainDecimal(_ coefficient: Int64, _ exponent: Int) -> String {
        if coefficient == 0 { return "0" }
        var digits = String(coefficient)
        if exponent >= 0 { return digits + String(repeating: "0", count: exponent) }
        if digits.count <= -exponent { digits = String(repeating: "0", count: -exponent - digits.count + 1) + digits }
        digits.insert(".", at: digits.index(digits.endIndex, offsetBy: exponent))
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.hasSuffix(".") { digits.removeLast() }
        return digits
    }
}
