import Foundation

/// Timestamps are stored as microseconds since the Unix epoch (BIGINT): exact, ordered and the same on both databases.
public enum Timestamp {
    public static func now() -> Int64 { micros(Date()) }
    public static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
    public static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }
}

