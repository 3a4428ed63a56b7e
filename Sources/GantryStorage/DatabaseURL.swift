import Foundation

/// The `--database` value: `sqlite:PATH`, `sqlite::memory:`, or `postgres(ql)://…`.
public enum DatabaseURL: Sendable, Equatable {
    case sqliteFile(path: String)
    case sqliteMemory
    case postgres(URL)

    public init(_ text: String) throws {
        if text == "sqlite::memory:" {
            self = .sqliteMemory
        } else if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw DatabaseURLError("sqlite: needs a file path, e.g. sqlite:gantry.db, or sqlite::memory:") }
            self = .sqliteFile(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URL(string: text), url.host != nil {
            self = .postgres(url)
        } else {
            throw DatabaseURLError("the database URL must be sqlite:PATH, sqlite::memory: or postgres://user:pass@host:port/db")
        }
    }

    /// The URL with any password replaced, for logs and error messages.
    public var redacted: String {
        switch self {
        case .sqliteFile(let path): return "sqlite:\(path)"
        case .sqliteMemory: return "sqlite::memory:"
        case .postgres(let url):
            if var components = URLComponents(url: url, resolvingAgainstBaseURL: false) {
                if components.password != nil { components.password = "redacted" }
                return components.string ?? "postgres://…"
            }
            return "postgres://…"
        }
    }
}
