import Foundation

/// Runs `work` while `renew` runs every `interval` seconds: how the deployer keeps the lease of a deploy job or an
/// environment's expiry for as long as it works on it. Renewing stops as soon as `work` returns or throws.
func whileRenewing<T>(every interval: TimeInterval, _ renew: @escaping @Sendable () async -> Void,
                      _ work: () async throws -> T) async rethrows -> T {
    let renewing = Task {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(interval))
            if Task.isCancelled { return }
            await renew()
        }
    }
    defer { renewing.cancel() }
    return try await work()
}

/// Who holds a lease: host, process and a random part, so a restarted process never mistakes an old lease for its own.
func leaseOwner(_ kind: String) -> String {
    "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(kind)-\(UUID().uuidString.prefix(8))"
}
