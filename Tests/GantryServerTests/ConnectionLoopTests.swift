import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import GantryServer

/// How a connection's requests are run: on the connection's own event loop, with the flushes of one loop tick sent
/// together (README, Benchmarks).
@Suite("Connection event loops")
struct ConnectionLoopTests {
    @Test("A task that prefers an event loop runs on it, after a suspension and in its child tasks too")
    func taskRunsOnTheLoop() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let observed = await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            var seen = [loop.inEventLoop]
            try? await Task.sleep(for: .milliseconds(5))
            seen.append(loop.inEventLoop)
            seen += await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { loop.inEventLoop } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            return seen
        }
        #expect(observed == Array(repeating: true, count: 6))
        #expect(!loop.inEventLoop, "the test itself is back where it was")
    }

    @Test("Flushes asked for in one loop tick leave as one flush when the tick ends, writes in order")
    func flushesCoalesce() throws {
        let counter = FlushCounter()
        let channel = EmbeddedChannel(handlers: [counter, FlushCoalescingHandler()])
        for part in ["head", "body", "end"] {
            channel.write(ByteBuffer(string: part), promise: nil)
            channel.flush()
        }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing leaves before the tick ends")
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1)
        var written: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written.append(String(buffer: buffer)) }
        #expect(written == ["head", "body", "end"])

        channel.write(ByteBuffer(string: "next"), promise: nil)
        channel.flush()
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 2, "a later tick flushes again")
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "next")
        _ = try channel.finish()
    }

    @Test("A close right after a write flushes the write before the close goes on")
    func closeFlushesFirst() throws {
        let counter = FlushCounter()
        let channel = EmbeddedChannel(handlers: [counter, FlushCoalescingHandler()])
        channel.write(ByteBuffer(string: "end"), promise: nil)
        channel.flush()
        channel.close(promise: nil)
        #expect(counter.events == ["flush", "close"], "unflushed writes fail when the channel closes")
        channel.embeddedEventLoop.run()
        #expect(counter.events == ["flush", "close"], "the deferred flush does not run again")
    }

    @Test("A flush still pending when the handler is removed is sent at once")
    func removalFlushes() throws {
        let counter = FlushCounter()
        let coalescing = FlushCoalescingHandler()
        let channel = EmbeddedChannel(handlers: [counter, coalescing])
        channel.write(ByteBuffer(string: "last"), promise: nil)
        channel.flush()
        try channel.pipeline.syncOperations.removeHandler(coalescing).wait()
        #expect(counter.flushes == 1)
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1, "the deferred flush does not run twice")
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "last")
        _ = try channel.finish()
    }

    @Test("Pipelined requests on one connection are answered in order, each whole")
    func pipelinedRequests() async throws {
        try await TestApp.run(.sqlite, mode: .live) { app in
            let port = try #require(app.client.port)
            let token = app.token
            let paths = ["/healthz", "/api/policies", "/api/projects", "/api/projects/prj_00000000000000000000000000", "/healthz"]
            let answers = try await OversizedBodyTests.onThread {
                let socket = try RawHTTPSocket(port: port)
                defer { socket.close() }
                let requests = paths.map { "GET \($0) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n\r\n" }.joined()
                try socket.send(Data(requests.utf8))
                return try paths.map { _ in try socket.readResponse() }
            }
            #expect(answers.map(\.status) == [200, 200, 200, 404, 200])
            #expect(answers[1].body.contains("projects:read"))
            #expect(answers[3].body.contains("not_found"))
        }
    }
}

/// Records the flushes and closes that reach the socket side of the pipeline.
private final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var events: [String] = []
    var flushes: Int { events.filter { $0 == "flush" }.count }

    func flush(context: ChannelHandlerContext) {
        events.append("flush")
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        events.append("close")
        context.close(mode: mode, promise: promise)
    }
}
