import NIOCore

/// A NIO event loop as a Swift task executor: a task that prefers it runs its jobs on the loop's thread, and so do
/// its child tasks (`withTaskExecutorPreference`).
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
