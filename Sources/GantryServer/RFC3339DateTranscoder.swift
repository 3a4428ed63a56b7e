import Foundation
import OpenAPIRuntime

/// RFC 3339 timestamps in UTC with a `Z`, written without a date formatter.
///
/// The runtime's default transcoder goes through a locked `ISO8601DateFormatter`, which dominated
/// the cost of list and stats answers; formatting by hand is exact and an order of magnitude cheaper.
/// Reading accepts fractional seconds and numeric offsets, as clients send them.
struct RFC3339DateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int32, at index: Int, width: Int) {
            var value = value
            for offset in stride(from: width - 1, through: 0, by: -1) {
                bytes[index + offset] = UInt8(48 + value % 10)
                value /= 10
            }
        }
        put(parts.tm_year + 1900, at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(parts.tm_mon + 1, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(parts.tm_mday, at: 8, width: 2)
        bytes[10] = UInt8(ascii: "T")
        put(parts.tm_hour, at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(parts.tm_min, at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(parts.tm_sec, at: 17, width: 2)
        bytes[19] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    func decode(_ string: String) throws -> Date {
        guard Self.fieldsInRange(string) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: Self.invalidPrefix + string + Self.invalidSuffix))
        }
        if let date = try? Date(string, strategy: Self.withFraction) { return date }
        if let date = try? Date(string, strategy: Self.withoutFraction) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: Self.invalidPrefix + string + Self.invalidSuffix))
    }

    // A transcoder is not told where its string came from, so its error carries the string itself and
    // `ErrorMiddleware` finds the field that holds it (the runtime's decoder reports an empty coding path).
    static let invalidPrefix = "Expected an RFC 3339 date-time, got '"
    static let invalidSuffix = "'."

    /// The string a failed `decode` was given, read back from its error's description.
    static func invalidValue(in description: String) -> String? {
        guard description.hasPrefix(invalidPrefix), description.hasSuffix(invalidSuffix),
              description.count >= invalidPrefix.count + invalidSuffix.count else { return nil }
        return String(description.dropFirst(invalidPrefix.count).dropLast(invalidSuffix.count))
    }

    /// Foundation's parser rolls `25:61:99` or February 30 over into a later time instead of refusing them: each field
    /// is checked against its range first (RFC 3339 §5.7; a leap second's `60` is allowed).
    static func fieldsInRange(_ string: String) -> Bool {
        let bytes = Array(string.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[13] == UInt8(ascii: ":"),
              bytes[16] == UInt8(ascii: ":") else { return false }
        func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for byte in bytes[from..<from + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2) else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour <= 23, minute <= 59, second <= 60 else { return false }
        // A numeric offset's hours and minutes too; and a leap second only at 23:59:60 UTC.
        var offset = 0
        if let sign = bytes.lastIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }), sign > 18, bytes.count == sign + 6 {
            guard let offsetHours = number(sign + 1, 2), let offsetMinutes = number(sign + 4, 2), offsetHours <= 23, offsetMinutes <= 59 else {
                return false
            }
            offset = (bytes[sign] == UInt8(ascii: "+") ? 1 : -1) * (offsetHours * 60 + offsetMinutes)
        }
        if second == 60 { return ((hour * 60 + minute - offset) % 1440 + 1440) % 1440 == 1439 }
        return true
    }

    static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    static let withoutFraction = Date.ISO8601FormatStyle()
}
