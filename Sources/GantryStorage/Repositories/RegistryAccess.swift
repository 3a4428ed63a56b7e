import SQLKit

/// The environment's registry integration, as the pull secret is made from it.
public struct RegistryAccess: Sendable {
    public var integrationID: String
    public var kind: String
    public var registry: String
    public var sealedCredentials: String?
    public var cloudAccountID: String?
    public var cloudProvider: String?
    public var sealedCloudCredentials: String?
}

extension RegistryAccess {
    /// The select-list part that reads the integration of the environment aliased `e`, with `joins`.
    static let columns = """
        i.id AS integration_id, i.kind AS integration_kind, i.registry, i.sealed_credentials AS integration_credentials,
        i.cloud_account_id AS integration_account_id, c.provider AS account_provider, c.sealed_credentials AS account_credentials
        """
    static let joins = """
        LEFT JOIN integrations i ON i.id = e.registry_integration_id AND i.deleted_at IS NULL
        LEFT JOIN cloud_accounts c ON c.id = i.cloud_account_id AND c.deleted_at IS NULL
        """

    private struct Columns: Decodable {
        var integrationId: String?; var integrationKind: String?; var registry: String?; var integrationCredentials: String?
        var integrationAccountId: String?; var accountProvider: String?; var accountCredentials: String?
    }

    /// The integration a row read with `columns` names, or nil when the environment has none.
    static func decode(_ row: any SQLRow) throws -> RegistryAccess? {
        let row = try row.decode(model: Columns.self, keyDecodingStrategy: ColumnNames.fromProperties)
        return row.integrationId.map {
            RegistryAccess(integrationID: $0, kind: row.integrationKind ?? "generic", registry: row.registry ?? "",
                           sealedCredentials: row.integrationCredentials, cloudAccountID: row.integrationAccountId,
                           cloudProvider: row.accountProvider, sealedCloudCredentials: row.accountCredentials)
        }
    }
}
