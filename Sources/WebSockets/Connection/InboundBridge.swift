import NIOCore

/// The bridge from a connection's channel handler to the ``WebSocket/messages`` sequence a
/// handler task iterates: it yields what the engine delivers, with backpressure (reading pauses
/// above the queue's high mark, resumes at its low mark) and knows whether the application has
/// caught up with what it was given (which decides when a held close goes out).
///
/// Lives on the event loop, inside the handler; the application side is the sequence.
struct InboundBridge {
    typealias Source = WebSocket.Inbound.Source

    private var source: Source?
    /// Inbound items handed to the application's sequence.
    private(set) var itemsYielded = 0

    /// Makes the sequence and its bridge; `handler` is told when to read again and when the
    /// application stopped iterating.
    static func make(eventLoop: any EventLoop, queue: (high: Int, low: Int),
                     handler: NIOLoopBoundBox<WebSocketConnectionHandler?>) -> (InboundBridge, WebSocket.Inbound) {
        let sequence = WebSocket.Inbound.makeSequence(
            elementType: WebSocket.InboundItem.self, failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: queue.low, highWatermark: queue.high),
            finishOnDeinit: false, delegate: InboundDelegate(eventLoop: eventLoop, handler: handler))
        return (InboundBridge(source: sequence.source), sequence.sequence)
    }

    /// Whether the application still iterates.
    var isAttached: Bool { source != nil }

    enum YieldResult {
        case keepReading
        /// The queue is above its high mark: pause reading until ``InboundDelegate`` says more.
        case pauseReading
    }

    mutating func yield(_ item: WebSocket.InboundItem) -> YieldResult {
        guard let source else { return .keepReading }
        itemsYielded += 1
        switch source.yield(item) {
        case .stopProducing: return .pauseReading
        case .produceMore, .dropped: return .keepReading
        }
    }

    /// Whether items handed over were not asked for yet: the application is still working
    /// through a batch and will answer before it waits again.
    func applicationHasMore(requested: Int) -> Bool { itemsYielded > requested }

    /// Whether the application asked for an item beyond those it was given: it is done with them.
    func applicationCaughtUp(requested: Int) -> Bool { requested > itemsYielded }

    /// The application stopped iterating: nothing more is yielded.
    mutating func detach() { source = nil }

    /// Ends the sequence: normally after 1000/1001, else with the ``ConnectionClosed`` error.
    mutating func finish(_ closed: ConnectionClosed) {
        if let source {
            if closed.isNormal { source.finish() } else { source.finish(closed) }
        }
        source = nil
    }
}

/// Resumes socket reads when the application consumed enough messages.
struct InboundDelegate: NIOAsyncSequenceProducerDelegate {
    let eventLoop: any EventLoop
    let handler: NIOLoopBoundBox<WebSocketConnectionHandler?>

    func produceMore() {
        let handler = self.handler
        eventLoop.execute { handler.value?.resumeReading(.inboundQueueFull) }
    }

    func didTerminate() {
        let handler = self.handler
        eventLoop.execute { handler.value?.inboundTerminated() }
    }
}
