import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// docs/api.md §2: a body over 1 MiB is 413 `payload_too_large` however it is framed, and the connection it came on
/// still serves the next request. Run over a real socket: the router test mode hands the body over whole, so it
/// cannot show what a `Transfer-Encoding: chunked` body does.
@Suite("Oversized request bodies")
struct OversizedBodyTests {
    /// 2 MiB of JSON: `{"name":"big","description":"aaa…"}`.
    static let hugeJSON = Data((#"{"name":"big","description":""# + String(repeating: "a", count: 2 << 20) + #""}"#).utf8)

    enum Framing: String, CaseIterable, Sendable { case contentLength, chunkedOneChunk, chunkedSmallChunks }

    static func request(_ framing: Framing, token: String) -> Data {
        var head = "POST /api/projects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
        var body = Data()
        switch framing {
        case .contentLength:
            head += "Content-Length: \(hugeJSON.count)\r\n"
            body = hugeJSON
        case .chunkedOneChunk, .chunkedSmallChunks:
            head += "Transfer-Encoding: chunked\r\n"
            let size = framing == .chunkedOneChunk ? hugeJSON.count : 8192
            var offset = 0
            while offset < hugeJSON.count {
                let chunk = hugeJSON[offset..<min(offset + size, hugeJSON.count)]
                body.append(Data((String(chunk.count, radix: 16) + "\r\n").utf8))
                body.append(chunk)
                body.append(Data("\r\n".utf8))
                offset += size
            }
            body.append(Data("0\r\n\r\n".utf8))
        }
        return Data((head + "\r\n").utf8) + body
    }

    @Test("A body over 1 MiB is 413 with the error envelope however it is framed, and the connection stays usable",
          arguments: Framing.allCases)
    func oversized(_ framing: Framing) async throws {
        try await TestApp.run(.sqlite, mode: .live) { app in
            let port = try #require(app.client.port)
            let token = app.token
            let (first, second) = try await Self.onThread {
                let socket = try RawHTTPSocket(port: port)
                defer { socket.close() }
                try socket.send(Self.request(framing, token: token))
                let first = try socket.readResponse()
                try socket.send(Data("GET /api/projects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8))
                let second = try socket.readResponse()
                return (first, second)
            }
            #expect(first.status == 413, "\(framing): \(first.body)")
            let envelope = (try? JSONSerialization.jsonObject(with: Data(first.body.utf8)) as? [String: Any])?["error"] as? [String: Any]
            #expect(envelope?["code"] as? String == "payload_too_large", "\(framing): \(first.body)")
            #expect(envelope?["requestId"] as? String != nil)
            #expect(second.status == 200, "\(framing): the same connection answers the next request: \(second.body)")
            #expect(try await app.get("/api/projects").items.isEmpty, "nothing was created")
        }
    }

    /// Blocking socket work on a thread of its own, off the cooperative pool the server also runs on.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }
}

/// A plain blocking TCP connection that speaks just enough HTTP/1.1 for these tests.
final class RawHTTPSocket {
    struct Failure: Error, CustomStringConvertible { let description: String }

    let fd: Int32
    var buffer = Data()

    init(port: Int) throws {
        fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { Glibc.close(fd); throw Failure(description: "connect: \(errno)") }
    }

    func close() { Glibc.close(fd) }

    func send(_ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EINTR { continue }
                    throw Failure(description: "send: \(errno) after \(offset) bytes")
                }
                offset += sent
            }
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { buffer.append(contentsOf: chunk[0..<count]); return }
            if count == 0 { throw Failure(description: "connection closed by the server") }
            if errno != EINTR { throw Failure(description: "recv: \(errno)") }
        }
    }

    /// One response with a `Content-Length` body: its status and body text.
    func readResponse() throws -> (status: Int, body: String) {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil { try fill() }
        let end = buffer.range(of: separator)!
        let head = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
        buffer = Data(buffer[end.upperBound...])
        let lines = head.components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        while buffer.count < length { try fill() }
        let body = String(decoding: buffer.prefix(length), as: UTF8.self)
        buffer = Data(buffer.dropFirst(length))
        return (status, body)
    }
}
