import Crypto
import Foundation
import GantryCore
import Testing

/// The pure rules behind preview environments and cost (docs/api.md §8).
struct PreviewRulesTests {
    @Test("A clone's ingress host gets the environment's name, made a DNS label, before its first label")
    func hostPrefix() {
        let ingress = IngressSpec(host: "shop.example.com", className: "nginx")
        #expect(ingress.prefixingHost(with: "pr-42").host == "pr-42-shop.example.com")
        #expect(ingress.prefixingHost(with: "PR 42 / Checkout!").host == "pr-42-checkout-shop.example.com")
        #expect(IngressSpec(host: "*.apps.example.com", className: "nginx").prefixingHost(with: "pr-1").host == "*.pr-1-apps.example.com")
        #expect(ingress.prefixingHost(with: "???").host == "preview-shop.example.com")
        let long = ingress.prefixingHost(with: String(repeating: "a", count: 100)).host
        #expect(long.split(separator: ".").first!.count <= 63)
        #expect(Rules.isIngressHost(long))
    }

    @Test("The catalog estimate prices each environment with its space and counts deployments without requests")
    func catalogEstimate() throws {
        let pricing = SpacePricing(cpuCoreHour: Decimal(string: "0.04")!, memoryGiBHour: Decimal(string: "0.005")!, currency: "USD")
        let web = try #require(ResourceRequests(cpuRequest: "500m", memoryRequest: "1Gi").scheduled)
        var prod = RequestedCapacity()
        prod.add(cpuMilli: web.cpuMilli, memoryBytes: web.memoryBytes, times: 3)
        let cost = try CatalogCost.estimate([
            .init(environmentID: "env_a", name: "prod", pricing: pricing, requested: prod, deploymentsWithoutRequests: 2),
            .init(environmentID: "env_b", name: "lab", pricing: nil, requested: RequestedCapacity(cpuMilli: 1000, memoryBytes: 1_073_741_824),
                  deploymentsWithoutRequests: 0),
        ])
        #expect(cost.hourly.rounded() == 0.075)
        #expect(cost.monthly.rounded() == 54.75)
        #expect(cost.currency == "USD")
        #expect(cost.deploymentsWithoutRequests == 2)
        #expect(cost.lines.map { $0.hourly?.rounded() } == [0.075, nil])
        let euro = SpacePricing(cpuCoreHour: 1, memoryGiBHour: 1, currency: "EUR")
        #expect(throws: AppError.self) {
            try CatalogCost.estimate([.init(environmentID: "a", name: "a", pricing: pricing, requested: .init(), deploymentsWithoutRequests: 0),
                                      .init(environmentID: "b", name: "b", pricing: euro, requested: .init(), deploymentsWithoutRequests: 0)])
        }
    }

    @Test("Money in integers agrees with Decimal arithmetic, and falls back to it when the integers would overflow")
    func money() {
        let cases: [(cpu: String, memory: String, milli: Int128, bytes: Int128)] = [
            ("0.04", "0.005", 1500, 3 << 30), ("0.0416", "0.00457", 810, 1_442_840_576), ("3", "0.1", 1, 1),
            ("0.000001", "0.0000000001", 123_456_789, 987_654_321_000), ("0.04", "0.005", Int128(Int64.max) * 1000, Int128(Int64.max) * 1000),
        ]
        for (cpu, memory, milli, bytes) in cases {
            let pricing = SpacePricing(cpuCoreHour: Decimal(string: cpu)!, memoryGiBHour: Decimal(string: memory)!, currency: "USD")
            let requested = RequestedCapacity(cpuMilli: milli, memoryBytes: bytes)
            let exact = requested.cores * pricing.cpuCoreHour + requested.gibibytes * pricing.memoryGiBHour
            let hourly = requested.hourly(at: pricing)
            #expect(hourly.rounded() == Cost.rounded(exact), "\(cpu) \(memory) \(milli) \(bytes)")
            #expect(hourly.times(730).rounded() == Cost.rounded(exact * 730), "\(cpu) \(memory) \(milli) \(bytes)")
            #expect((hourly + hourly).rounded() == Cost.rounded(exact * 2))
        }
    }

    @Test("Prices keep the decimals the client wrote, through storage")
    func exactPrices() {
        #expect(SpacePricing.decimal(0.1) == Decimal(string: "0.1"))
        let pricing = SpacePricing(cpuCoreHour: SpacePricing.decimal(0.0416), memoryGiBHour: SpacePricing.decimal(0.00457), currency: "EUR")
        #expect(SpacePricing(stored: pricing.stored) == pricing)
    }

    @Test("A copy's secrets are sealed to the copy; without the private key the copy carries the original's binding")
    func rebind() throws {
        let key = Curve25519.KeyAgreement.PrivateKey()
        let deployer = CredentialSealer(privateKey: key)
        let config = CredentialSealer(publicKey: key.publicKey)
        let sealed = try config.seal(Data("s3cret".utf8), context: "dep_source")
        let resealed = try deployer.rebind(sealed, from: "dep_source", to: "dep_copy")
        #expect(try deployer.open(resealed, context: "dep_copy") == Data("s3cret".utf8))
        #expect(throws: (any Error).self) { try deployer.open(resealed, context: "dep_source") }
        let carried = try config.rebind(sealed, from: "dep_source", to: "dep_copy")
        #expect(carried.hasPrefix("g1@dep_source:"))
        #expect(try deployer.open(carried, context: "dep_copy") == Data("s3cret".utf8))
        #expect(try config.rebind(carried, from: "dep_copy", to: "dep_third") == carried, "a carried binding is kept, not nested")
    }
}
