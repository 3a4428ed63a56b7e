import Foundation
import GantryCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Writes the contract's error envelope.
enum ErrorRendering {
    static func response(_ error: AppError, requestID: String, extraHeaders: HTTPFields = [:]) -> Response {
        var object: [String: Any] = ["code": error.code.rawValue, "message": error.message, "requestId": requestID]
        if let details = error.details { object["details"] = details.mapValues(json) }
        let data = (try? JSONSerialization.data(withJSONObject: ["error": object], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var headers = extraHeaders
        headers[.contentType] = "application/json; charset=utf-8"
        if error.code == .unauthenticated { headers[.wwwAuthenticate] = "Bearer" }
        return Response(
            status: .init(code: error.code.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func json(_ value: JSONValue) -> Any {
        switch value {
        case .null: NSNull()
        case .string(let s): s
        case .int(let i): i
        case .double(let d): d
        case .bool(let b): b
        case .array(let a): a.map(json)
        case .object(let o): o.mapValues(json)
        }
    }
}
