import ArgumentParser
import Foundation
import GantryAPI

/// The options `deployments create` and `deployments update` share: a deployment's spec beyond its name and image
/// (docs/api.md §4 Deployments, §7 Deployment fields added).
///
/// Secret values never come from the command line (argv ends up in shell history and in `ps`): `--secret-env` takes
/// a NAME only, and `secretValues()` reads the values from stdin, one line per name in order, or from a prompt that
/// does not echo when stdin is a terminal.
struct DeploymentSpecOptions: ParsableArguments {
    @Option(help: "Replicas (0–1000).") var replicas: Int?
    @Option(help: "Container port.") var port: Int?
    @Option(help: "CPU request, e.g. 250m (with --memory).") var cpu: String?
    @Option(help: "Memory request, e.g. 512Mi (with --cpu).") var memory: String?
    @Option(help: ArgumentHelp("Canvas position.", valueName: "x,y")) var canvas: String?

    @Option(name: .customLong("env"),
            help: ArgumentHelp("A plain variable (repeatable). On update, the variables given replace the current list.", valueName: "NAME=VALUE"))
    var env: [String] = []
    @Flag(help: "Remove every plain variable (update only).") var clearEnv = false
    @Option(name: .customLong("secret-env"),
            help: ArgumentHelp("""
                A secret variable's name (repeatable). Its value is read from stdin, one line per name in order, or \
                prompted for without echo on a terminal; never from the command line. On update, the names given \
                replace the current set.
                """, valueName: "NAME"))
    var secretEnv: [String] = []
    @Flag(help: "Remove every secret variable (update only).") var clearSecretEnv = false

    @Option(help: ArgumentHelp("Ingress host, a DNS name (with --ingress-class; needs --port).", valueName: "host")) var ingressHost: String?
    @Option(help: ArgumentHelp("Ingress path prefix (default /).", valueName: "path")) var ingressPath: String?
    @Option(help: ArgumentHelp("IngressClass of the cluster (see `gantry envs discover`).", valueName: "class")) var ingressClass: String?
    @Option(help: ArgumentHelp("cert-manager ClusterIssuer that issues TLS for the host (\"\" removes TLS on update).", valueName: "issuer"))
    var tlsIssuer: String?
    @Flag(help: "Remove the ingress (update only).") var noIngress = false

    @Option(help: ArgumentHelp("Path of the HTTP readiness probe, e.g. /healthz.", valueName: "path")) var healthPath: String?
    @Option(help: ArgumentHelp("Port of the readiness probe (default: the deployment's port).", valueName: "port")) var healthPort: Int?
    @Flag(help: "Remove the readiness probe (update only).") var noHealthCheck = false

    /// Stray positional arguments, caught here so that the refusal does not echo them: the likeliest stray is a
    /// secret value typed after `--secret-env NAME`.
    @Argument(help: .hidden) var unexpected: [String] = []

    /// `[A-Za-z_][A-Za-z0-9_]*`, as the server checks it.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first == "_" || first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    var ingressGiven: Bool { ingressHost != nil || ingressPath != nil || ingressClass != nil || tlsIssuer != nil }
    var healthGiven: Bool { healthPath != nil || healthPort != nil }

    /// Whether an update would send anything (besides `--image`).
    var changesSomething: Bool {
        replicas != nil || port != nil || cpu != nil || memory != nil || canvas != nil || !env.isEmpty || clearEnv
            || !secretEnv.isEmpty || clearSecretEnv || ingressGiven || noIngress || healthGiven || noHealthCheck
    }

    /// ArgumentParser cannot tell create from update in a group's `validate()`, so the commands call this one.
    func validate(creating: Bool) throws {
        if !unexpected.isEmpty {
            throw ValidationError("""
                \(unexpected.count) unexpected argument(s), not shown: values of --secret-env are read from stdin or a prompt, \
                never taken from the command line
                """)
        }
        _ = try resources()
        _ = try position()
        _ = try envList()
        var seen: Set<String> = []
        for name in secretEnv {
            if let equals = name.firstIndex(of: "=") {
                // Never echo what follows the `=`: it is the secret the user meant to keep out of argv.
                throw ValidationError("""
                    --secret-env takes a NAME only ('\(name[..<equals])=…' was given): secret values are read from stdin or \
                    a prompt, never from the command line
                    """)
            }
            guard Self.isVariableName(name) else {
                throw ValidationError("--secret-env takes a variable name matching [A-Za-z_][A-Za-z0-9_]*")
            }
            guard seen.insert(name).inserted else { throw ValidationError("--secret-env \(name) is given twice") }
        }
        if clearEnv, !env.isEmpty { throw ValidationError("pass --env or --clear-env, not both") }
        if clearSecretEnv, !secretEnv.isEmpty { throw ValidationError("pass --secret-env or --clear-secret-env, not both") }
        if noIngress, ingressGiven { throw ValidationError("--no-ingress cannot go with --ingress-host, --ingress-path, --ingress-class or --tls-issuer") }
        if noHealthCheck, healthGiven { throw ValidationError("--no-health-check cannot go with --health-path or --health-port") }
        if let healthPort, !(1...65535).contains(healthPort) { throw ValidationError("--health-port must be between 1 and 65535") }
        if creating {
            if clearEnv || clearSecretEnv || noIngress || noHealthCheck {
                throw ValidationError("--clear-env, --clear-secret-env, --no-ingress and --no-health-check only apply to update")
            }
            if ingressGiven, ingressHost == nil || ingressClass == nil {
                throw ValidationError("an ingress needs --ingress-host and --ingress-class")
            }
            if healthPort != nil, healthPath == nil { throw ValidationError("--health-port goes with --health-path") }
        }
    }

    /// `--cpu 250m --memory 512Mi` → `resources`; both or neither.
    func resources() throws -> Schemas.Resources? {
        switch (cpu, memory) {
        case (nil, nil): return nil
        case let (cpu?, memory?): return .init(cpuRequest: cpu, memoryRequest: memory)
        default: throw ValidationError("--cpu and --memory go together")
        }
    }

    func position() throws -> Schemas.CanvasPosition? {
        guard let canvas else { return nil }
        let parts = canvas.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2 else { throw ValidationError("--canvas must be X,Y (e.g. 40,80)") }
        return .init(x: parts[0], y: parts[1])
    }

    /// The plain variables to send: nil leaves them unchanged, `[]` clears them.
    func envList() throws -> [Schemas.EnvVar]? {
        if clearEnv { return [] }
        guard !env.isEmpty else { return nil }
        return try env.map { entry in
            let (name, value) = try Input.assignment(entry, flag: "--env", shape: "NAME=VALUE")
            return .init(name: name, value: value)
        }
    }

    /// The secret variables to send: nil leaves them unchanged, `[:]` clears them. Reads the values, one per name.
    func secretValues() throws -> [String: String]? {
        if clearSecretEnv { return [:] }
        guard !secretEnv.isEmpty else { return nil }
        return try Input.secretValues(for: secretEnv)
    }

    /// The ingress to send, merged over `current` (an update changes only the parts given). `clear`: send `null`.
    func ingress(current: Schemas.IngressSpec?) throws -> (value: Schemas.IngressSpec?, clear: Bool) {
        if noIngress { return (nil, true) }
        guard ingressGiven else { return (nil, false) }
        guard let host = ingressHost ?? current?.host, let className = ingressClass ?? current?.className else {
            throw CLIError.usage("the deployment has no ingress yet: pass both --ingress-host and --ingress-class")
        }
        let issuer = tlsIssuer.map { $0.isEmpty ? nil : $0 } ?? current?.tlsIssuer
        return (.init(host: host, path: ingressPath ?? current?.path, className: className, tlsIssuer: issuer), false)
    }

    /// The readiness probe to send, merged over `current`. `clear`: send `null`.
    func healthCheck(current: Schemas.HealthCheck?) throws -> (value: Schemas.HealthCheck?, clear: Bool) {
        if noHealthCheck { return (nil, true) }
        guard healthGiven else { return (nil, false) }
        guard let path = healthPath ?? current?.path else {
            throw CLIError.usage("the deployment has no health check yet: pass --health-path")
        }
        return (.init(path: path, port: healthPort ?? current?.port), false)
    }
}

extension Input {
    /// One value per name, in order: a line of stdin each, or a prompt without echo when stdin is a terminal.
    /// The values are never printed.
    static func secretValues(for names: [String]) throws -> [String: String] {
        let interactive = isatty(STDIN_FILENO) == 1
        var values: [String: String] = [:]
        for name in names {
            let value = interactive ? Terminal.readSecret(prompt: "Value of \(name): ") : readLine(strippingNewline: true)
            guard let value else {
                throw CLIError.usage("--secret-env \(name): stdin ended before its value (give one line per --secret-env name, in order)")
            }
            values[name] = value.hasSuffix("\r") ? String(value.dropLast()) : value
        }
        return values
    }
}
