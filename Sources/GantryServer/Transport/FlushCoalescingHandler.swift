import NIOCore

/// Sends the flushes asked for during one event-loop tick as one flush at the end of it.
///
/// Hummingbird writes an answer as three parts (head, body, end) and flushes after each; a handler that runs on the
/// connection's loop makes those writes in place, so each flush was a `writev` of its own. Deferred to the end of the
/// tick they leave together. Writes pass through untouched, in order.
final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            // Removed from the pipeline meanwhile: `handlerRemoved` has flushed already.
            guard self.flushScheduled else { return }
            self.flushScheduled = false
            context.flush()
        }
    }

    /// A close right after a write (Hummingbird's `Connection: close` and graceful shutdown: write the end, flush,
    /// close) would otherwise drop the answer: the writes not yet flushed fail when the channel closes.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        guard flushScheduled else { return }
        flushScheduled = false
        context.flush()
    }
}
