import Foundation
import GantryCore
import SQLKit

/// Preview environments (docs/api.md §8): listing across projects, and cloning.
extension SQLEnvironmentRepository {
    public func listAll(_ query: ListQuery, _ filter: EnvironmentFilter, for caller: Caller) async throws -> Page<Environment> {
        let page = SQLFragments.page(query.page, column: "e.id")
        var conditions: SQLQueryString = ""
        if let projectID = filter.projectID { conditions = conditions + " AND e.project_id = \(bind: projectID)" }
        if let spaceID = filter.spaceID { conditions = conditions + " AND e.space_id = \(bind: spaceID)" }
        if let before = filter.expiringBefore {
            conditions = conditions + " AND e.expires_at IS NOT NULL AND e.expires_at <= \(bind: Timestamp.micros(before))"
        }
        if let readable = caller.permissions.readableEnvironments {
            let projects = readable.projects.sorted(), environments = readable.environments.sorted()
            switch (projects.isEmpty, environments.isEmpty) {
            case (true, true): conditions = conditions + " AND 1 = 0"
            case (false, true): conditions = conditions + " AND e.project_id IN (\(binds: projects))"
            case (true, false): conditions = conditions + " AND e.id IN (\(binds: environments))"
            case (false, false): conditions = conditions + " AND (e.project_id IN (\(binds: projects)) OR e.id IN (\(binds: environments)))"
            }
        }
        let filters = conditions
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: EnvironmentRow.columns) FROM environments e JOIN projects p ON p.id = e.project_id AND p.deleted_at IS NULL
                WHERE e.org_id = \(bind: caller.organizationID) AND e.deleted_at IS NULL
                """ + filters + SQLFragments.nameFilter(query, column: "e.name_key") + page.filter + page.tail).all(EnvironmentRow.self)
        }
        return Page(rows: rows.map(\.environment), limit: query.page.limit, key: \.id)
    }

    public func clone(_ sourceID: String, _ request: CloneRequest, reseal: @Sendable (String, String, String) throws -> String,
                      by caller: Caller, requiring policy: String, deployPolicy: String) async throws -> Environment {
        let org = caller.organizationID
        let now = Timestamp.now()
        return try await database.transaction { [ids] sql in
            let source = try await EnvironmentRow.fetchLive(sourceID, org: org, lock: RowLocking(.share, of: EnvironmentRow.alias), on: sql).environment
            try caller.permissions.authorize("environments:read", on: source.target, resource: "environment")
            try caller.permissions.authorize(policy, on: .project(source.projectID), resource: "project")
            if request.deploy { try caller.permissions.authorize(deployPolicy, on: .project(source.projectID), resource: "project") }
            _ = try await ProjectRow.fetchLive(source.projectID, org: org, lock: RowLocking(.share, of: ProjectRow.alias), on: sql)
            try await Self.checkReferences(spaceID: request.spaceID, integrationID: nil, org: org, on: sql)

            var environment = Environment(
                id: ids.make(.environment), projectID: source.projectID, name: request.name, spaceID: request.spaceID ?? source.spaceID,
                namespace: request.namespace, registryIntegrationID: source.registryIntegrationID, registryURL: source.registryURL,
                createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now), createdBy: caller.email, version: 1
            )
            environment.clonedFromID = source.id
            environment.expiresAt = request.expiresAt
            try await Self.ensureUnique(environment, excluding: nil, org: org, on: sql)
            try await mappingUniqueViolation(Self.uniqueConflict(name: request.name, namespace: request.namespace)) {
                try await sql.raw("""
                    INSERT INTO environments (id, org_id, project_id, name, name_key, space_id, namespace, registry_integration_id,
                        registry_url, created_by, created_at, updated_at, version, cloned_from_id, expires_at)
                    VALUES (\(bind: environment.id), \(bind: org), \(bind: source.projectID), \(bind: request.name),
                        \(bind: Rules.nameKey(request.name)), \(bind: environment.spaceID), \(bind: request.namespace),
                        \(bind: source.registryIntegrationID), \(bind: source.registryURL), \(bind: caller.email), \(bind: now), \(bind: now), 1,
                        \(bind: source.id), \(bind: request.expiresAt.map(Timestamp.micros)))
                    """).run()
            }

            let copies = try await Self.copyDeployments(of: source.id, into: environment, request, reseal: reseal, org: org, ids: ids, now: now, on: sql)
            var changes = Changes.created(environment.auditFields)
            changes["clonedFromId"] = .object(["from": .null, "to": .string(source.id)])
            changes["deployments"] = .object(["from": .null, "to": .int(copies.count)])
            try await AuditTrail.record(Self.event("cloned", environment, changes: changes), by: caller, ids: ids, on: sql)
            if request.deploy, !copies.isEmpty {
                let injected = try await InjectedEnv.resolve(environment: environment.id, on: sql)
                let revisions = SQLRevisionRepository(database: database, ids: ids)
                for start in stride(from: 0, to: copies.count, by: 500) {
                    let batch = copies[start..<min(start + 500, copies.count)].map { ($0, GantryCore.DeployRequest(), injected[$0.id] ?? []) }
                    _ = try await revisions.makeRevisions(batch, by: caller, on: sql)
                }
            }
            return environment
        }
    }

    /// Inserts the copies of the chosen live deployments and of the connections between them; returns the copies.
    static func copyDeployments(of sourceID: String, into environment: Environment, _ request: CloneRequest,
                                reseal: (String, String, String) throws -> String, org: String, ids: IDGenerator, now: Int64,
                                on sql: any SQLDatabase) async throws -> [Deployment] {
        struct Sealed: Decodable { var id: String; var sealedSecretEnv: String? }
        let rows = try await sql.raw("""
            SELECT \(unsafeRaw: DeploymentRow.columns) FROM deployments d
            WHERE d.environment_id = \(bind: sourceID) AND d.deleted_at IS NULL ORDER BY d.id
            """).all(DeploymentRow.self)
        let sealed = try await sql.raw("""
            SELECT id, sealed_secret_env FROM deployments WHERE environment_id = \(bind: sourceID) AND deleted_at IS NULL
            """).all(Sealed.self)
        let sealedByID = Dictionary(uniqueKeysWithValues: sealed.map { ($0.id, $0.sealedSecretEnv) })

        var validator = Validator()
        let live = Set(rows.map(\.id))
        for (index, id) in (request.deploymentIDs ?? []).enumerated() where !live.contains(id) {
            validator.fail("deploymentIds[\(index)]", "\(id) is not a live deployment of the environment being cloned")
        }
        let chosen = request.deploymentIDs.map { wanted in rows.filter { Set(wanted).contains($0.id) } } ?? rows
        let chosenNames = Set(chosen.map(\.name))
        for name in request.overrides.keys.sorted() where !chosenNames.contains(name) {
            validator.fail("overrides.\(name)", "names no deployment being copied; the copied ones are: \(chosenNames.sorted().joined(separator: ", "))")
        }
        try validator.check()

        var copies: [(copy: Deployment, sourceID: String, sealed: String?)] = []
        for row in chosen {
            var copy = try row.deployment(injectedEnv: [])
            let originalID = copy.id
            copy.id = ids.make(.deployment)
            copy.projectID = environment.projectID
            copy.environmentID = environment.id
            copy.status = .pending
            copy.lastDeployedAt = nil
            copy.currentRevision = nil
            copy.drift = nil
            copy.createdAt = Timestamp.date(now)
            copy.updatedAt = Timestamp.date(now)
            copy.version = 1
            copy.secretEnvVersion = 0
            if let override = request.overrides[copy.name] {
                copy.image = override.image ?? copy.image
                copy.replicas = override.replicas ?? copy.replicas
            }
            if let ingress = copy.ingress {
                copy.ingress = ingress.prefixingHost(with: environment.name)
                if let host = copy.ingress?.host, !Rules.isIngressHost(host) {
                    validator.fail("name", "makes the host '\(host)' for the copy of \(copy.name), which is not a valid DNS name; choose a shorter name")
                }
            }
            let resealed = try sealedByID[originalID].flatMap { $0 }.map { try reseal($0, originalID, copy.id) }
            copies.append((copy, originalID, resealed))
        }
        try validator.check()

        try await SQLDeploymentRepository.insert(copies.map { ($0.copy, $0.sealed) }, org: org, now: now, on: sql)

        // Connections whose both ends were copied now join the copies.
        struct Link: Decodable { var fromDeploymentId: String; var toDeploymentId: String; var sourceHint: String; var injectedVar: String? }
        let links = try await sql.raw("""
            SELECT from_deployment_id, to_deployment_id, source_hint, injected_var FROM connections
            WHERE environment_id = \(bind: sourceID) AND deleted_at IS NULL ORDER BY id
            """).all(Link.self)
        let copyOf = Dictionary(uniqueKeysWithValues: copies.map { ($0.sourceID, $0.copy.id) })
        let copiedLinks = links.compactMap { link in
            copyOf[link.fromDeploymentId].flatMap { from in copyOf[link.toDeploymentId].map { (from, $0, link) } }
        }
        for start in stride(from: 0, to: copiedLinks.count, by: 500) {
            var insert = sql.insert(into: "connections")
                .columns("id", "org_id", "environment_id", "from_deployment_id", "to_deployment_id", "source_hint", "injected_var", "created_at")
            for (from, to, link) in copiedLinks[start..<min(start + 500, copiedLinks.count)] {
                insert = insert.values(SQLBind(ids.make(.connection)), SQLBind(org), SQLBind(environment.id), SQLBind(from), SQLBind(to),
                                       SQLBind(link.sourceHint), SQLBind(link.injectedVar), SQLBind(now))
            }
            try await insert.run()
        }
        return copies.map(\.copy)
    }
}
