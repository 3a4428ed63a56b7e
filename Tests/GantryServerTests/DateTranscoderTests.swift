import Foundation
@testable import GantryServer
import Testing

@Suite("RFC 3339 timestamps")
struct DateTranscoderTests {
    @Test("Dates are written in UTC with a Z, to the second")
    func encode() throws {
        let transcoder = RFC3339DateTranscoder()
        #expect(try transcoder.encode(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(try transcoder.encode(Date(timeIntervalSince1970: 1_795_910_400.75)) == "2026-11-29T00:00:00Z")
        #expect(try transcoder.encode(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }

    @Test("Dates are read with or without fractional seconds and offsets")
    func decode() throws {
        let transcoder = RFC3339DateTranscoder()
        #expect(try transcoder.decode("2026-11-29T00:00:00Z") == Date(timeIntervalSince1970: 1_795_910_400))
        #expect(try transcoder.decode("2026-11-29T00:00:00.500Z") == Date(timeIntervalSince1970: 1_795_910_400.5))
        #expect(try transcoder.decode("2026-11-29T01:00:00+01:00") == Date(timeIntervalSince1970: 1_795_910_400))
        #expect(throws: (any Error).self) { try transcoder.decode("yesterday") }
    }

    @Test("Fields out of range are refused, not rolled over into another time", arguments: [
        "2026-11-29T25:00:00Z", "2026-11-29T23:61:00Z", "2026-11-29T23:59:99Z", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-11-29T10:00:00+24:00", "2025-02-29T00:00:00Z", "8160-12-30T23:27:60.8893242+18:00",
    ])
    func outOfRange(_ text: String) throws {
        #expect(throws: DecodingError.self) { try RFC3339DateTranscoder().decode(text) }
    }

    @Test("Leap days and leap seconds are dates")
    func leapDays() throws {
        let transcoder = RFC3339DateTranscoder()
        #expect(try transcoder.decode("2028-02-29T00:00:00Z") == Date(timeIntervalSince1970: 1_835_395_200))
        _ = try transcoder.decode("2016-12-31T23:59:60Z")
        _ = try transcoder.decode("2017-01-01T00:59:60+01:00")
    }

    @Test("Writing then reading gives the same second")
    func roundTrip() throws {
        let transcoder = RFC3339DateTranscoder()
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        #expect(try transcoder.decode(transcoder.encode(now)) == now)
    }
}
