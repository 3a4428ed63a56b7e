import ArgumentParser
import Foundation
import Yams

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, yaml
}

/// A resource the CLI can show as a table row, a detail view, JSON or YAML.
protocol Displayable: Encodable {
    static var columns: [String] { get }
    var cells: [String] { get }
    /// The detail view of `get`: label and value per line. Defaults to the table's columns.
    var fields: [(String, String)] { get }
}

extension Displayable {
    var fields: [(String, String)] {
        Array(zip(Self.columns.map { $0.prefix(1) + $0.dropFirst().lowercased() }, cells))
    }
}

/// Writes command results on stdout in the chosen format.
struct Printer {
    let format: OutputFormat
    var colour: Bool = Terminal.colourOnStdout

    func list<T: Displayable>(_ items: [T], noun: String) throws {
        switch format {
        case .table:
            if items.isEmpty {
                Terminal.line("no \(noun) found")
                return
            }
            Terminal.out(table(header: T.columns, rows: items.map(\.cells)))
        case .json, .yaml:
            try encoded(items)
        }
    }

    func one<T: Displayable>(_ item: T) throws {
        switch format {
        case .table: Terminal.out(details(item.fields))
        case .json, .yaml: try encoded(item)
        }
    }

    /// An answer with a summary and parts: in table mode the summary's `label: value` lines, the note, then the
    /// parts as a table (`no NOUN` when there are none); in JSON or YAML, `value` as the server sent it.
    func summary<T: Encodable, Row: Displayable>(_ value: T, fields: [(String, String)], note: String, rows: [Row], noun: String) throws {
        switch format {
        case .table:
            var out = details(fields) + note + "\n\n"
            out += rows.isEmpty ? "no \(noun)\n" : table(header: Row.columns, rows: rows.map(\.cells))
            Terminal.out(out)
        case .json, .yaml:
            try encoded(value)
        }
    }

    /// A confirmation line in table mode (`deleted project prj_…`); `value` in JSON or YAML.
    func done<T: Encodable>(_ message: String, _ value: T) throws {
        switch format {
        case .table: Terminal.out(message + "\n")
        case .json, .yaml: try encoded(value)
        }
    }

    func encoded<T: Encodable>(_ value: T) throws {
        switch format {
        case .json, .table:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .custom { date, encoder in
                var container = encoder.singleValueContainer()
                try container.encode(Format.date(date))
            }
            Terminal.out(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
        case .yaml:
            Terminal.out(try YAMLEncoder().encode(value))
        }
    }

    /// Aligned columns, three spaces apart, no trailing blanks; bold header and coloured states on a terminal.
    func table(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        let statusColumns = Set(header.enumerated().filter { ["STATUS", "PHASE", "OK", "TYPE"].contains($0.element) }.map(\.offset))
        func render(_ cells: [String], isHeader: Bool) -> String {
            var line = ""
            for (index, cell) in cells.enumerated() {
                let last = index == cells.count - 1
                let padding = last ? "" : String(repeating: " ", count: widths[index] - cell.count + 3)
                var shown = cell
                if colour {
                    if isHeader { shown = Terminal.bold(cell) } else if statusColumns.contains(index) { shown = Terminal.state(cell) }
                }
                line += shown + padding
            }
            return line
        }
        var out = render(header, isHeader: true) + "\n"
        for row in rows { out += render(row, isHeader: false) + "\n" }
        return out
    }

    func details(_ fields: [(String, String)]) -> String {
        let width = fields.map(\.0.count).max() ?? 0
        var out = ""
        for (label, value) in fields {
            let key = label + ":" + String(repeating: " ", count: width - label.count + 1)
            out += (colour ? Terminal.bold(key) : key) + value + "\n"
        }
        return out
    }
}

/// stdout, stderr, colour and the no-echo prompt.
enum Terminal {
    static var colourOnStdout: Bool { colourAllowed && isatty(STDOUT_FILENO) == 1 }
    static var colourOnStderr: Bool { colourAllowed && isatty(STDERR_FILENO) == 1 }

    /// https://no-color.org: any non-empty `NO_COLOR` turns colour off; so does `TERM=dumb`.
    static var colourAllowed: Bool {
        let environment = ProcessInfo.processInfo.environment
        if let value = environment["NO_COLOR"], !value.isEmpty { return false }
        return environment["TERM"] != "dumb"
    }

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// A line on stderr (hints, notes).
    static func line(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        let prefix = colourOnStderr ? "\u{1B}[31mgantry:\u{1B}[0m " : "gantry: "
        line(prefix + text)
    }

    static func warn(_ text: String) {
        let prefix = colourOnStderr ? "\u{1B}[33mwarning:\u{1B}[0m " : "warning: "
        line(prefix + text)
    }

    static func bold(_ text: String) -> String { "\u{1B}[1m\(text)\u{1B}[0m" }

    static func state(_ text: String) -> String {
        let code: String
        switch text {
        case "running", "active", "Active", "true", "manual", "succeeded": code = "32"
        case "failed", "degraded", "unreachable", "revoked", "false", "Terminating", "Warning": code = "31"
        case "pending", "deploying", "suggestion", "queued", "applying", "applied": code = "33"
        case "stopped", "unknown", "superseded": code = "90"
        default: return text
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// Reads one line from the terminal with echo off; nil when stdin is not a terminal.
    static func readSecret(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1 else { return nil }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }

    /// All of stdin, for `--token-stdin`, `--password-stdin` and `FILE` = `-`.
    static func readStdin() -> Data {
        FileHandle.standardInput.readDataToEndOfFile()
    }
}

/// Cell formatting shared by every table.
enum Format {
    static func date(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }

    static func date(_ date: Date?) -> String { date.map { Self.date($0) } ?? "-" }

    static func parseDate(_ string: String) -> Date? {
        if let date = try? Date(string, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        if let date = try? Date(string, strategy: Date.ISO8601FormatStyle()) { return date }
        return nil
    }

    static func text(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "-" }
        return value
    }

    static func int(_ value: Int?) -> String { value.map(String.init) ?? "-" }

    static func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }

    /// A number without a trailing `.0` for whole values.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}

/// Any JSON value, for error details and audit changes.
enum JSONValue: Codable, Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Compact text: strings bare, everything else as JSON.
    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .number(let value): return Format.number(value)
        case .string(let value): return value
        case .array(let values): return "[" + values.map(\.quoted).joined(separator: ", ") + "]"
        case .object(let object): return "{" + object.keys.sorted().map { "\($0): \(object[$0]!.quoted)" }.joined(separator: ", ") + "}"
        }
    }

    private var quoted: String {
        if case .string(let value) = self { return "\"\(value)\"" }
        return text
    }
}
