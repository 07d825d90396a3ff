import Instrumentation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import WebSocketCore
import WebSocketLogging

extension WebSocketServer {
    /// The server's connection bookkeeping: channels (for shutdown), open sockets (for
    /// broadcast) and the handler tasks, which the server owns (shutdown waits for them).
    final class Connections: Sendable {
        let handling: Handling
        let log: WebSocketEventLogger
        let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let sockets = NIOLockedValueBox<[ConnectionID: WebSocket]>([:])
        private let tasks = NIOLockedValueBox(HandlerTasks())
        let stopping = Atomic<Bool>(false)
        let handlersOnEventLoop: Bool
        let freedMemory: FreedMemoryPolicy

        private struct HandlerTasks {
            var running: [ConnectionID: Task<Void, Never>] = [:]
            var waiters: [CheckedContinuation<Void, Never>] = []
        }

        init(handling: Handling, log: WebSocketEventLogger, handlersOnEventLoop: Bool, freedMemory: FreedMemoryPolicy = .keep) {
            self.handling = handling
            self.log = log
            self.handlersOnEventLoop = handlersOnEventLoop
            self.freedMemory = freedMemory
        }

        func track(_ channel: any Channel) {
            let key = ObjectIdentifier(channel)
            channels.withLockedValue { $0[key] = channel }
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.channels.withLockedValue { _ = $0.removeValue(forKey: key) }
            }
            if stopping.load(ordering: .relaxed) { channel.close(promise: nil) }
        }

        /// A connection opened: kept for broadcast, its handler started in a task the server
        /// owns (callbacks are called by the channel handler).
        func run(_ ws: WebSocket) {
            guard case .task(let handler) = handling else { return run(ws, handler: nil) }
            run(ws, handler: handler)
        }

        /// A connection opened with a handler of its own (`nil`: callbacks).
        func run(_ ws: WebSocket, handler: (@Sendable (WebSocket) async throws -> Void)?) {
            sockets.withLockedValue { $0[ws.id] = ws }
            guard let handler else { return }
            let executor = handlersOnEventLoop ? EventLoopTaskExecutor(ws.eventLoop) : nil
            // Created under the lock: the task's own removal (which takes it) comes after its insertion.
            tasks.withLockedValue { t in
                t.running[ws.id] = Task(executorPreference: executor) {
                    do {
                        try await ConnectionContext.$current.withValue(ws.logContext) {
                            if let context = ws.serviceContext {
                                try await ServiceContext.withValue(context) { try await handler(ws) }
                            } else {
                                try await handler(ws)
                            }
                        }
                        await ws.close(code: .normalClosure)
                    } catch {
                        self.log.with(connection: ws.logContext).handlerFailed(error)  // ConnectionClosed is not logged
                        await ws.close(code: .internalError)
                    }
                    self.sockets.withLockedValue { _ = $0.removeValue(forKey: ws.id) }
                    self.handlerEnded(ws.id)
                }
            }
        }

        private func handlerEnded(_ id: ConnectionID) {
            let waiters = tasks.withLockedValue { t -> [CheckedContinuation<Void, Never>] in
                t.running.removeValue(forKey: id)
                guard t.running.isEmpty else { return [] }
                defer { t.waiters = [] }
                return t.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        /// Handler tasks still running.
        var runningHandlers: Int { tasks.withLockedValue { $0.running.count } }

        /// Cancels every handler task still running.
        func cancelHandlers() {
            for task in tasks.withLockedValue({ Array($0.running.values) }) { task.cancel() }
        }

        /// Returns once no handler task runs.
        func handlersFinished() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = tasks.withLockedValue { t in
                    if t.running.isEmpty { return true }
                    t.waiters.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }

        /// A connection closed: what it freed may go back to the system (``FreedMemoryPolicy``).
        func closed(_ ws: WebSocket) {
            sockets.withLockedValue { _ = $0.removeValue(forKey: ws.id) }
            FreedMemory.connectionClosed(freedMemory, on: ws.eventLoop)
        }

        /// Closes every connection with 1001 (a handshake in progress gets 503), waits up to
        /// `closeTimeout` (+1 s) for them, drops what is left, then waits for the handler tasks
        /// (cancelling those still running at that deadline).
        func closeAll(closeTimeout: Duration) async {
            let open = channels.withLockedValue { Array($0.values) }
            for child in open {
                child.eventLoop.execute {
                    let pipeline = child.pipeline.syncOperations
                    if let connection = try? pipeline.handler(type: WebSocketConnectionHandler.self) {
                        connection.closeLocally(code: .goingAway, reason: "server shutting down")
                    } else if let handshake = try? pipeline.handler(type: ServerHandshakeHandler.self) {
                        handshake.shutdown()
                    }
                }
            }
            let deadline = ContinuousClock.now + closeTimeout + .seconds(1)
            for child in open {
                let remaining = deadline - ContinuousClock.now
                if remaining > .zero {
                    _ = await waitFor(child.closeFuture, timeout: remaining)
                }
                child.close(promise: nil)
            }
            // Handler tasks see their connection end; those still running at the deadline are cancelled.
            let canceller = Task {
                try await Task.sleep(until: deadline)
                self.cancelHandlers()
            }
            await handlersFinished()
            canceller.cancel()
        }
    }
}
