import Foundation
import Synchronization

/// The kinds of resource identifiers, each with its contract prefix.
public enum IDPrefix: String, Sendable, CaseIterable {
    case organization = "org"
    case user = "usr"
    case token = "tok"
    case project = "prj"
    case environment = "env"
    case space = "spc"
    case cloudAccount = "ca"
    case integration = "int"
    case deployment = "dep"
    case connection = "conn"
    case role = "role"
    case assignment = "asgn"
    case auditLog = "log"
    case revision = "rev"
    case job = "job"
    case event = "evt"
}

/// Makes `<prefix>_<ULID>` identifiers: 26 lowercase Crockford base32 characters, time-ordered.
///
/// IDs made by one generator are strictly increasing even within a millisecond, so ordering by ID
/// is ordering by creation, which is what keyset pagination relies on.
public final class IDGenerator: Sendable {
    private let state = Mutex<(millis: UInt64, random: (UInt16, UInt64))>((0, (0, 0)))

    public init() {}

    public func make(_ prefix: IDPrefix, now: Date = Date()) -> String {
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (ms, random) = state.withLock { state -> (UInt64, (UInt16, UInt64)) in
            if millis > state.millis {
                state = (millis, (UInt16.random(in: 0...UInt16.max), UInt64.random(in: 0...UInt64.max)))
            } else {
                // Same (or earlier, after a clock step back) millisecond: increment the random part.
                var (high, low) = state.random
                low &+= 1
                if low == 0 { high &+= 1 }
                state.random = (high, low)
            }
            return (state.millis, state.random)
        }
        return "\(prefix.rawValue)_\(Self.encode(millis: ms, high: random.0, low: random.1))"
    }

    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")

    static func encode(millis: UInt64, high: UInt16, low: UInt64) -> String {
        // 48-bit time + 80-bit randomness = 128 bits, written as 26 base32 digits (130 bits).
        var chars = [Character](repeating: "0", count: 26)
        var time = millis
        for i in stride(from: 9, through: 0, by: -1) {
            chars[i] = alphabet[Int(time & 31)]
            time >>= 5
        }
        // 80 random bits: high 16 + low 64, written as 16 digits.
        var lowBits = low
        var highBits = UInt64(high)
        for i in stride(from: 25, through: 10, by: -1) {
            chars[i] = alphabet[Int(lowBits & 31)]
            lowBits = (lowBits >> 5) | ((highBits & 31) << 59)
            highBits >>= 5
        }
        return String(chars)
    }

    /// True when `id` has the given prefix and a well-formed ULID body.
    public static func isValid(_ id: String, prefix: IDPrefix) -> Bool {
        let expected = prefix.rawValue + "_"
        guard id.hasPrefix(expected) else { return false }
        let body = id.dropFirst(expected.count)
        return body.count == 26 && body.allSatisfy { alphabet.contains($0) }
    }
}
