import Foundation
import SQLKit

/// Which deployer replica watches which space (docs/api.md §6, "Watching clusters"). Each replica calls `balance`
/// every few seconds: it heartbeats, renews its leases, gives up spaces beyond its share and takes free or expired
/// ones up to it, so the spaces are shared out between the live replicas and a dead replica's spaces are taken over
/// once its leases run out. The `space_watch_leases` primary key keeps a space with one replica at a time.
public protocol SpaceLeaseRepository: Sendable {
    /// The spaces `owner` holds after this round, out of `wanted` (the spaces with work to watch).
    func balance(owner: String, wanted: Set<String>, now: Date, leaseFor: TimeInterval) async throws -> Set<String>
    /// Gives every lease of `owner` back at shutdown, so another replica need not wait for them to expire.
    func release(owner: String) async throws
    /// Every live lease: space → owner (for tests and diagnostics).
    func leases(now: Date) async throws -> [String: String]
}

public struct SQLSpaceLeaseRepository: SpaceLeaseRepository {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func balance(owner: String, wanted: Set<String>, now: Date, leaseFor: TimeInterval) async throws -> Set<String> {
        let at = Timestamp.micros(now)
        let until = at + Int64(leaseFor * 1_000_000)
        return try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO deployer_replicas (owner, seen_until) VALUES (\(bind: owner), \(bind: until))
                ON CONFLICT (owner) DO UPDATE SET seen_until = excluded.seen_until
                """).run()
            try await sql.raw("DELETE FROM deployer_replicas WHERE seen_until < \(bind: at)").run()
            let replicas = max(1, try await sql.raw("SELECT COUNT(*) AS n FROM deployer_replicas").first(decodingColumn: "n", as: Int.self) ?? 1)
            var held = Set(try await sql.raw("SELECT space_id FROM space_watch_leases WHERE owner = \(bind: owner)")
                .all(decodingColumn: "space_id", as: String.self))
            // Spaces with no more work, and those beyond this replica's share, go back; the rest are renewed.
            let share = (wanted.count + replicas - 1) / replicas
            var giveBack = held.subtracting(wanted)
            let kept = held.intersection(wanted).sorted()
            if kept.count > share { giveBack.formUnion(kept[share...]) }
            for space in giveBack.sorted() {
                try await sql.raw("DELETE FROM space_watch_leases WHERE space_id = \(bind: space) AND owner = \(bind: owner)").run()
            }
            held.subtract(giveBack)
            try await sql.raw("UPDATE space_watch_leases SET lease_until = \(bind: until) WHERE owner = \(bind: owner)").run()
            guard held.count < share else { return held }
            let taken = Set(try await sql.raw("SELECT space_id FROM space_watch_leases WHERE lease_until >= \(bind: at)")
                .all(decodingColumn: "space_id", as: String.self))
            // In one order for every replica, so two replicas taking spaces together wait on each other instead of deadlocking.
            for space in wanted.subtracting(taken).subtracting(held).sorted() where held.count < share {
                let won = try await sql.raw("""
                    INSERT INTO space_watch_leases (space_id, owner, lease_until)
                    SELECT id, \(bind: owner), \(bind: until) FROM spaces WHERE id = \(bind: space)
                    ON CONFLICT (space_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
                        WHERE space_watch_leases.lease_until < \(bind: at)
                    RETURNING space_id
                    """).first() != nil
                if won { held.insert(space) }
            }
            return held
        }
    }

    public func release(owner: String) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM space_watch_leases WHERE owner = \(bind: owner)").run()
            try await sql.raw("DELETE FROM deployer_replicas WHERE owner = \(bind: owner)").run()
        }
    }

    public func leases(now: Date) async throws -> [String: String] {
        struct Row: Decodable { var spaceId: String; var owner: String }
        let rows = try await database.read { sql in
            try await sql.raw("SELECT space_id, owner FROM space_watch_leases WHERE lease_until >= \(bind: Timestamp.micros(now))").all(Row.self)
        }
        return Dictionary(rows.map { ($0.spaceId, $0.owner) }) { first, _ in first }
    }
}
