import GantryStorage
import OpenAPIRuntime

/// Error text for logs, shared by the HTTP layer, start-up and the deployer: database errors can carry bound
/// values, so those are logged by type and code only.
enum LoggableError {
    static func describe(_ error: any Error) -> String {
        if let error = error as? ServerError { return "\(error.operationID): \(describe(error.underlyingError))" }
        return DatabaseFailure.loggable(error) ?? String(describing: error).prefix(500).description
    }
}
