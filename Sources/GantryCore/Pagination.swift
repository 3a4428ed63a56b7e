import Foundation

/// A page request: at most `limit` rows after the row whose ID is `after`.
public struct PageRequest: Sendable, Equatable {
    public static let defaultLimit = 50
    public static let maximumLimit = 200

    public let limit: Int
    public let after: String?

    public init(limit: Int = PageRequest.defaultLimit, after: String? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Validates `limit` and `cursor` query parameters; a bad one is a 400 naming it. `isKey` says what a cursor
    /// of this list may hold: an ID for lists in creation order, something else for lists keyed otherwise.
    public static func parse(limit: Int?, cursor: String?, isKey: (String) -> Bool = Cursor.isID) throws(AppError) -> PageRequest {
        var validator = Validator()
        if let limit, !(1...maximumLimit).contains(limit) {
            validator.fail("limit", "must be between 1 and \(maximumLimit)")
        }
        var after: String?
        if let cursor {
            after = Cursor.decode(cursor, isKey: isKey)
            if after == nil { validator.fail("cursor", "is not a cursor this server issued; pass the nextCursor of the previous page") }
        }
        try validator.check()
        return PageRequest(limit: limit ?? defaultLimit, after: after)
    }
}

/// A page of rows plus the cursor for the next one (nil on the last page).
public struct Page<Element: Sendable>: Sendable {
    public var items: [Element]
    public var nextCursor: String?

    public init(items: [Element], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row only says another page exists.
    public init(rows: [Element], limit: Int, key: (Element) -> String) {
        if rows.count > limit {
            items = Array(rows.prefix(limit))
            nextCursor = Cursor.encode(key(items[items.count - 1]))
        } else {
            items = rows
            nextCursor = nil
        }
    }

    public func map<T>(_ transform: (Element) throws -> T) rethrows -> Page<T> {
        Page<T>(items: try items.map(transform), nextCursor: nextCursor)
    }
}

/// Opaque keyset cursors: the last row's ID, versioned and base64url-encoded.
public enum Cursor {
    public static func encode(_ lastID: String) -> String {
        Data("v1:\(lastID)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ cursor: String, isKey: (String) -> Bool = isID) -> String? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard cursor.count <= 200, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("v1:") else { return nil }
        let key = String(text.dropFirst(3))
        return isKey(key) ? key : nil
    }

    /// The key of a list in creation order: a time-ordered ID.
    public static func isID(_ key: String) -> Bool {
        guard let prefix = IDPrefix.allCases.first(where: { key.hasPrefix($0.rawValue + "_") }) else { return false }
        return IDGenerator.isValid(key, prefix: prefix)
    }
}

/// A list request: name filter plus keyset page.
public struct ListQuery: Sendable {
    public var nameContains: String?
    public var page: PageRequest
    public init(nameContains: String? = nil, page: PageRequest = PageRequest()) {
        self.nameContains = nameContains.flatMap { $0.isEmpty ? nil : $0 }
        self.page = page
    }
}
