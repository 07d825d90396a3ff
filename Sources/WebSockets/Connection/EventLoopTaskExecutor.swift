import NIOCore

/// Runs Swift concurrency jobs on a NIO event loop.
///
/// A connection's handler task prefers the event loop of its channel: a message read on the loop
/// resumes the handler on the same thread, and the handler's `send` is queued right behind it —
/// no hop to the cooperative thread pool and back for every message.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
