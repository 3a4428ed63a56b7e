import Foundation
import GantryAPI

typealias Schemas = Components.Schemas

extension Schemas.Project: Displayable {
    static var columns: [String] { ["ID", "NAME", "DESCRIPTION", "CREATED"] }
    var cells: [String] { [id, name, Format.text(description), Format.date(createdAt)] }
    var fields: [(String, String)] {
        [("ID", id), ("Name", name), ("Description", Format.text(description)), ("Created by", createdBy),
         ("Created", Format.date(createdAt)), ("Updated", Format.date(updatedAt)), ("Version", String(version))]
    }
}

extension Schemas.ProjectStats: Displayable {
    static var columns: [String] {
        ["PROJECT", "ID", "ENVS", "SERVICES", "RUNNING", "DEPLOYING", "DEGRADED", "FAILED", "STOPPED", "PENDING", "UNKNOWN", "LAST DEPLOY"]
    }
    var cells: [String] {
        let b = statusBuckets
        return [name, projectId, String(environmentCount), String(serviceCount), String(b.running), String(b.deploying),
                String(b.degraded), String(b.failed), String(b.stopped), String(b.pending), String(b.unknown), Format.date(lastDeployAt)]
    }
}

extension Schemas.DeletionPreview: Displayable {
    static var columns: [String] { ["DELETABLE", "ENVIRONMENTS", "DEPLOYMENTS"] }
    var cells: [String] { [Format.yesNo(deletable), String(environmentCount), String(deploymentCount)] }
    var fields: [(String, String)] {
        [("Deletable", Format.yesNo(deletable)), ("Environments", String(environmentCount)), ("Deployments", String(deploymentCount))]
    }
}

extension Schemas.Environment: Displayable {
    static var columns: [String] { ["ID", "NAME", "SPACE", "NAMESPACE", "REGISTRY", "EXPIRES", "CREATED"] }
    var cells: [String] { [id, name, spaceId, namespace, Format.text(registryUrl), expiry, Format.date(createdAt)] }
    /// When the deployer deletes it; `preview` for a clone that does not expire; `-` for the others.
    var expiry: String { expiresAt.map { Format.date($0) } ?? (clonedFromId == nil ? "-" : "preview") }
    var fields: [(String, String)] {
        [("ID", id), ("Name", name), ("Project", projectId), ("Space", spaceId), ("Namespace", namespace),
         ("Registry integration", Format.text(registryIntegrationId)), ("Registry URL", Format.text(registryUrl)),
         ("Cloned from", Format.text(clonedFromId)), ("Expires", expiresAt.map { Format.date($0) } ?? "never"),
         ("Created by", createdBy), ("Created", Format.date(createdAt)), ("Updated", Format.date(updatedAt)), ("Version", String(version))]
    }
}

/// An environment with its project's name, for lists across projects.
struct EnvironmentRow: Displayable {
    var project: String
    var environment: Schemas.Environment
    static var columns: [String] { ["PROJECT"] + Schemas.Environment.columns }
    var cells: [String] { [project] + environment.cells }
    func encode(to encoder: any Encoder) throws { try environment.encode(to: encoder) }
}

extension Schemas.EnvironmentStats: Displayable {
    static var columns: [String] { ["DEPLOYMENTS", "RUNNING", "FAILED", "CPU (CORES)", "MEMORY (GIB)", "PODS", "NAMESPACE", "OBSERVED"] }
    var cells: [String] {
        [String(deploymentCount), String(runningCount), String(failedCount), Format.number(cpuRequestedCores),
         Format.number(memoryRequestedGB), String(podCount), namespaceExists ? "exists" : "missing", Format.date(observedAt)]
    }
    var fields: [(String, String)] {
        [("Deployments", String(deploymentCount)), ("Running", String(runningCount)), ("Failed", String(failedCount)),
         ("CPU requested", Format.number(cpuRequestedCores) + " cores"), ("Memory requested", Format.number(memoryRequestedGB) + " GiB"),
         ("Pods", String(podCount)), ("Namespace exists", Format.yesNo(namespaceExists)), ("Observed", Format.date(observedAt))]
    }
}

extension Schemas.ClusterDiscovery: Displayable {
    static var columns: [String] { ["KIND", "NAME", "DETAIL", "DEFAULT/READY"] }
    var cells: [String] { [] }
    var rows: [[String]] {
        var rows = ingressControllers.map { ["ingress", $0.className, "\($0.vendor.rawValue) (\($0.controller))", Format.yesNo($0.isDefault)] }
        for manager in certManagers {
            rows.append(["cert-manager", manager.name, manager.installed ? "installed" : "not installed", "-"])
            rows += manager.issuers.map { ["issuer", $0.name, $0.kind.rawValue, Format.yesNo($0.ready)] }
        }
        return rows
    }
}

extension Schemas.Space: Displayable {
    static var columns: [String] { ["ID", "NAME", "PROVIDER", "SERVER", "STATUS", "CREATED"] }
    var cells: [String] { [id, name, provider.rawValue, Format.text(server), status.rawValue, Format.date(createdAt)] }
    var fields: [(String, String)] {
        var settings: [String] = []
        if let value = config.context { settings.append("context=\(value)") }
        if let value = config.clusterName { settings.append("clusterName=\(value)") }
        if let value = config.region { settings.append("region=\(value)") }
        if let value = config.resourceGroup { settings.append("resourceGroup=\(value)") }
        if let value = config.subscriptionId { settings.append("subscriptionId=\(value)") }
        if let value = config.projectId { settings.append("projectId=\(value)") }
        return [("ID", id), ("Name", name), ("Provider", provider.rawValue), ("Cloud account", Format.text(cloudAccountId)),
                ("Config", settings.isEmpty ? "-" : settings.joined(separator: ", ")), ("Server", Format.text(server)),
                ("Pricing", Format.pricing(pricing)), ("Status", status.rawValue), ("Created", Format.date(createdAt)), ("Updated", Format.date(updatedAt)), ("Version", String(version))]
    }
}

extension Format {
    /// `0.04 USD per core-hour, 0.005 USD per GiB-hour`; `-` for none.
    static func pricing(_ pricing: Schemas.SpacePricing?) -> String {
        guard let pricing else { return "-" }
        return "\(number(pricing.cpuCoreHour)) \(pricing.currency) per core-hour, \(number(pricing.memoryGiBHour)) \(pricing.currency) per GiB-hour"
    }

    /// `0.075 USD`.
    static func money(_ amount: Double, _ currency: String) -> String { "\(number(amount)) \(currency)" }
}

extension Schemas.EnvironmentCost {
    static let note = "An estimate from the live pods' resource requests, not a bill."
    var fields: [(String, String)] {
        [("Hourly", Format.money(hourly, currency)), ("Monthly", Format.money(monthly, currency) + " (730 hours)"),
         ("CPU requested", Format.number(cpuRequestedCores) + " cores"), ("Memory requested", Format.number(memoryRequestedGiB) + " GiB"),
         ("Pods without requests", String(podsWithoutRequests)), ("Observed", Format.date(observedAt))]
    }
}

/// A row of `envs cost`: pods no Gantry deployment owns are `(not Gantry)`.
extension Schemas.DeploymentCost: Displayable {
    static var columns: [String] { ["DEPLOYMENT", "PODS", "CORES", "GIB", "HOURLY"] }
    var cells: [String] {
        [name ?? "(not Gantry)", String(pods), Format.number(cpuRequestedCores), Format.number(memoryRequestedGiB), Format.number(hourly)]
    }
}

extension Schemas.ProjectCost {
    static let note = "An estimate from the catalog (replicas × requests × the space's prices), not a bill."
    var fields: [(String, String)] {
        guard let currency else {
            return [("Hourly", "no pricing (no environment's space has prices)"), ("Deployments without requests", String(deploymentsWithoutRequests))]
        }
        return [("Hourly", Format.money(hourly, currency)), ("Monthly", Format.money(monthly, currency) + " (730 hours)"),
                ("Deployments without requests", String(deploymentsWithoutRequests))]
    }
}

/// A row of `projects cost`: an environment whose space has no prices says so instead of a number.
extension Schemas.EnvironmentCatalogCost: Displayable {
    static var columns: [String] { ["ENVIRONMENT", "ID", "HOURLY", "MONTHLY", "WITHOUT REQUESTS"] }
    var cells: [String] {
        [name, environmentId, hourly.map(Format.number) ?? "no pricing", monthly.map(Format.number) ?? "-", String(deploymentsWithoutRequests)]
    }
}

extension Schemas.SpaceNamespace: Displayable {
    static var columns: [String] { ["NAME", "PHASE", "ENVIRONMENT"] }
    var cells: [String] { [name, phase, Format.text(environmentId)] }
}

extension Schemas.CloudAccount: Displayable {
    static var columns: [String] { ["ID", "NAME", "PROVIDER", "CREATED"] }
    var cells: [String] { [id, name, provider.rawValue, Format.date(createdAt)] }
    var fields: [(String, String)] {
        [("ID", id), ("Name", name), ("Provider", provider.rawValue), ("Created", Format.date(createdAt)),
         ("Updated", Format.date(updatedAt)), ("Version", String(version))]
    }
}

extension Schemas.Integration: Displayable {
    static var columns: [String] { ["ID", "NAME", "KIND", "REGISTRY", "AUTH", "CREATED"] }
    var auth: String { hasCredentials ? "password" : (cloudAccountId != nil ? "cloud account" : "none") }
    var cells: [String] { [id, name, kind.rawValue, registry, auth, Format.date(createdAt)] }
    var fields: [(String, String)] {
        [("ID", id), ("Name", name), ("Kind", kind.rawValue), ("Registry", registry), ("Cloud account", Format.text(cloudAccountId)),
         ("Credentials", Format.yesNo(hasCredentials)), ("Created", Format.date(createdAt)), ("Updated", Format.date(updatedAt)),
         ("Version", String(version))]
    }
}

extension Schemas.Deployment: Displayable {
    static var columns: [String] { ["ID", "NAME", "IMAGE", "REPLICAS", "PORT", "STATUS", "LAST DEPLOYED"] }
    var cells: [String] { [id, name, image, String(replicas), Format.int(port), status.rawValue, Format.date(lastDeployedAt)] }
    /// Secret variables show by name only: their values never reach the CLI.
    var fields: [(String, String)] {
        [("ID", id), ("Name", name), ("Project", projectId), ("Environment", environmentId), ("Image", image),
         ("Replicas", String(replicas)), ("Port", Format.int(port)),
         ("Resources", Format.resources(resources)),
         ("Env", Format.env(env)), ("Secret env", Format.names(secretEnvNames)),
         ("Ingress", Format.ingress(ingress)), ("Health check", Format.healthCheck(healthCheck, port: port)),
         ("Status", status.rawValue), ("Current revision", Format.int(currentRevision)),
         ("Pending changes", Format.yesNo(pendingChanges)),
         ("Drift", drift.map { "\($0.fields.map(\.rawValue).joined(separator: ", ")) (since \(Format.date($0.detectedAt)))" } ?? "-"),
         ("Last deployed", Format.date(lastDeployedAt)),
         ("Canvas", canvasPosition.map { "x=\(Format.number($0.x)) y=\(Format.number($0.y))" } ?? "-"),
         ("Created", Format.date(createdAt)), ("Updated", Format.date(updatedAt)), ("Version", String(version))]
    }
}

extension Schemas.Revision: Displayable {
    static var columns: [String] { ["REVISION", "STATUS", "IMAGE", "CREATED BY", "CREATED", "MESSAGE"] }
    var cells: [String] {
        [String(number), status.rawValue, image, createdBy, Format.date(createdAt), Format.text(summary)]
    }
    /// The message, or what a rollback went back to.
    var summary: String? {
        if let message, !message.isEmpty { return message }
        return rollbackOf.map { "rollback to revision \($0)" }
    }
    var fields: [(String, String)] {
        [("ID", id), ("Deployment", deploymentId), ("Revision", String(number)), ("Status", status.rawValue),
         ("Message", Format.text(message)), ("Rollback of", Format.int(rollbackOf)), ("Image", image),
         ("Replicas", String(replicas)), ("Port", Format.int(port)),
         ("Resources", Format.resources(resources)),
         ("Env", Format.env(env)), ("Injected env", Format.env(injectedEnv)),
         ("Secret env", Format.names(secretEnvNames)),
         ("Ingress", Format.ingress(ingress)), ("Health check", Format.healthCheck(healthCheck, port: port)),
         ("Created by", createdBy), ("Created", Format.date(createdAt)), ("Applied", Format.date(appliedAt)),
         ("Finished", Format.date(finishedAt))]
    }
}

extension Schemas.DeploymentEvent: Displayable {
    static var columns: [String] { ["TIME", "SOURCE", "TYPE", "REASON", "OBJECT", "MESSAGE"] }
    var cells: [String] {
        [Format.date(time), source.rawValue, _type.rawValue, reason, object, count > 1 ? "\(message) (×\(count))" : message]
    }
}

extension Format {
    static func resources(_ resources: Schemas.Resources?) -> String {
        resources.map { "cpu \($0.cpuRequest), memory \($0.memoryRequest)" } ?? "-"
    }

    static func env(_ variables: [Schemas.EnvVar]) -> String {
        names(variables.map { "\($0.name)=\($0.value)" })
    }

    /// `A, B`; `-` for none.
    static func names(_ names: [String]) -> String {
        names.isEmpty ? "-" : names.joined(separator: ", ")
    }

    /// `shop.example.com/api → class nginx, TLS from letsencrypt`.
    static func ingress(_ ingress: Schemas.IngressSpec?) -> String {
        guard let ingress else { return "-" }
        var text = "\(ingress.host)\(ingress.path ?? "/") → class \(ingress.className)"
        if let issuer = ingress.tlsIssuer { text += ", TLS from \(issuer)" }
        return text
    }

    /// `GET /healthz on port 8080`; the port defaults to the deployment's.
    static func healthCheck(_ check: Schemas.HealthCheck?, port: Int?) -> String {
        guard let check else { return "-" }
        guard let port = check.port ?? port else { return "GET \(check.path)" }
        return "GET \(check.path) on port \(port)"
    }
}

extension Schemas.Connection: Displayable {
    static var columns: [String] { ["ID", "FROM", "TO", "HINT", "VARIABLE", "CREATED"] }
    var cells: [String] { [id, fromDeploymentId, toDeploymentId, sourceHint.rawValue, Format.text(injectedVar), Format.date(createdAt)] }
}

extension Schemas.AuditLogEntry: Displayable {
    static var columns: [String] { ["ID", "TIME", "ACTION", "ACTOR", "RESOURCE", "REQUEST ID"] }
    var actorText: String { actor.email ?? (actor._type == .system ? "system" : Format.text(actor.id)) }
    var cells: [String] { [id, Format.date(createdAt), action, actorText, resourceId, Format.text(requestId)] }
    var fields: [(String, String)] {
        var changeText = "-"
        if let changes, let data = try? JSONEncoder().encode(changes), let value = try? JSONDecoder().decode(JSONValue.self, from: data) {
            changeText = value.text
        }
        return [("ID", id), ("Time", Format.date(createdAt)), ("Action", action), ("Actor", actorText),
                ("Resource", "\(resourceType) \(resourceId)"), ("Project", Format.text(projectId)),
                ("Environment", Format.text(environmentId)), ("Deployment", Format.text(deploymentId)),
                ("Request id", Format.text(requestId)), ("Changes", changeText), ("Hash", hash), ("Previous hash", Format.text(prevHash))]
    }
}

extension Schemas.AuditVerification: Displayable {
    static var columns: [String] { ["OK", "ENTRIES", "FIRST BAD"] }
    var cells: [String] { [String(ok), String(entries), Format.text(firstBadId)] }
    var fields: [(String, String)] { [("Chain intact", Format.yesNo(ok)), ("Entries", String(entries)), ("First bad entry", Format.text(firstBadId))] }
}

extension Schemas.Token: Displayable {
    static var columns: [String] { ["ID", "NAME", "CREATED", "EXPIRES", "LAST USED", "REVOKED"] }
    var cells: [String] { [id, name, Format.date(createdAt), Format.date(expiresAt), Format.date(lastUsedAt), Format.date(revokedAt)] }
}

extension Schemas.CreatedToken: Displayable {
    static var columns: [String] { ["ID", "NAME", "EXPIRES", "TOKEN"] }
    var cells: [String] { [id, name, Format.date(expiresAt), token] }
    var fields: [(String, String)] { [("ID", id), ("Name", name), ("Expires", Format.date(expiresAt)), ("Token", token)] }
}

extension Schemas.User: Displayable {
    static var columns: [String] { ["ID", "EMAIL", "NAME"] }
    var cells: [String] { [id, email, name] }
}

extension Schemas.Role: Displayable {
    static var columns: [String] { ["ID", "NAME", "BUILT-IN", "POLICIES", "DESCRIPTION"] }
    var cells: [String] { [id, name, Format.yesNo(builtIn), String(policies.count), Format.text(description)] }
    var fields: [(String, String)] {
        [("ID", id), ("Name", name), ("Description", Format.text(description)), ("Built-in", Format.yesNo(builtIn)),
         ("Policies", policies.joined(separator: ", ")), ("Version", String(version))]
    }
}

extension Schemas.Assignment: Displayable {
    static var columns: [String] { ["ID", "USER", "ROLE", "SCOPE"] }
    var cells: [String] { [id, userId, roleId, scope] }
}

/// `gantry roles policies`: one policy string per row.
struct PolicyRow: Displayable {
    var policy: String
    static var columns: [String] { ["POLICY"] }
    var cells: [String] { [policy] }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(policy)
    }
}

/// What a delete prints in JSON or YAML.
struct Deleted: Encodable {
    var id: String
    var deleted = true
}
