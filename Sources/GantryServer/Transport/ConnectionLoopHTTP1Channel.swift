import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 channel, with each connection's requests run on the connection's own event loop and the
/// flushes of one loop tick sent as one.
///
/// Left to itself Hummingbird runs a connection's handler on Swift's global executor: the request reaches the handler
/// through a wake-up of a pool thread, and every part of the answer goes back through `EventLoop.execute`, a wake-up
/// of the loop. On the connection's loop the handler reads and writes in place. Measured with `perf` and server CPU
/// per request (README, Benchmarks): on the loop alone every write flushed at once, three `writev` calls an answer,
/// and `/healthz` cost 40 % more; with `FlushCoalescingHandler` every route costs less than before.
struct ConnectionLoopHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let http1: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await http1.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 served by ``ConnectionLoopHTTP1Channel``.
    static func connectionLoopHTTP1() -> HTTPServerBuilder {
        .init { responder in
            ConnectionLoopHTTP1Channel(
                http1: HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [FlushCoalescingHandler()]))
            )
        }
    }
}
