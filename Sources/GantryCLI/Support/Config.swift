import Foundation

/// One named connection: a server and the token used on it. The config file is the credential
/// store, so it is written with mode 0600 in a directory created 0700.
struct Profile: Codable, Equatable {
    var server: String
    var token: String
    var user: String?
    var organization: String?
}

struct ConfigFile: Codable, Equatable {
    var currentProfile: String?
    var profiles: [String: Profile] = [:]
}

/// Where the config lives: `GANTRY_CONFIG`, else `$XDG_CONFIG_HOME/gantry/config.json`,
/// else `~/.config/gantry/config.json`.
struct ConfigStore {
    let path: String

    static var `default`: ConfigStore {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["GANTRY_CONFIG"], !explicit.isEmpty { return ConfigStore(path: explicit) }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return ConfigStore(path: xdg + "/gantry/config.json")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return ConfigStore(path: home + "/.config/gantry/config.json")
    }

    func load() throws -> ConfigFile {
        guard FileManager.default.fileExists(atPath: path) else { return ConfigFile() }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CLIError.usage("cannot read the config file \(path)")
        }
        if data.isEmpty { return ConfigFile() }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            Terminal.warn("\(path) is readable by other users; run: chmod 600 \(path)")
        }
        do { return try JSONDecoder().decode(ConfigFile.self, from: data) } catch {
            throw CLIError.usage("the config file \(path) is not valid (\(error.localizedDescription)); fix or remove it")
        }
    }

    /// Writes atomically: a 0600 temporary file beside the target, then rename.
    func save(_ config: ConfigFile) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CLIError.usage("cannot create the directory \(directory): \(error.localizedDescription)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(config)
        data.append(0x0a)
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw CLIError.usage("cannot write the config file \(path): \(String(cString: strerror(errno)))")
        }
        _ = fchmod(descriptor, 0o600)
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        _ = fsync(descriptor)
        close(descriptor)
        guard written == data.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CLIError.usage("cannot write the config file \(path)")
        }
    }
}

/// The server address a person types, normalised: scheme kept, trailing `/` and `/api` dropped.
enum ServerAddress {
    static func normalise(_ raw: String) throws -> String {
        var value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if !value.contains("://") { value = "https://" + value }
        while value.hasSuffix("/") { value.removeLast() }
        if value.hasSuffix("/api") { value.removeLast(4) }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else { throw CLIError.usage("'\(raw)' is not a server URL (expected http://HOST[:PORT] or https://HOST[:PORT])") }
        return value
    }

    static func apiURL(_ server: String) throws -> URL {
        guard let url = URL(string: server + "/api") else { throw CLIError.usage("'\(server)' is not a server URL") }
        return url
    }

    static func isLoopback(_ server: String) -> Bool {
        guard let host = URL(string: server)?.host?.lowercased() else { return false }
        return host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]"
    }
}
