import NIOCore
import Synchronization
import WebSocketCore

/// The bridge from a connection's channel handler to the ``WebSocket/messages`` sequence a
/// handler task iterates: it yields what the engine delivers, with backpressure (``InboundMarks``:
/// reading pauses at the queue's high mark in items or in bytes, resumes below both low marks)
/// and knows whether the application has caught up with what it was given (which decides when a
/// held close goes out).
///
/// Lives on the event loop, inside the handler; the application side is the sequence.
struct InboundBridge {
    typealias Source = WebSocket.Inbound.Source

    private var source: Source?
    /// Inbound items handed to the application's sequence.
    private(set) var itemsYielded = 0
    /// The bytes the application holds: queued, or the last item it was given (shared with its iterator).
    let held: HeldBytes

    /// Makes the sequence and its bridge; `handler` is told when to read again and when the
    /// application stopped iterating.
    static func make(eventLoop: any EventLoop, options: ConnectionOptions,
                     handler: NIOLoopBoundBox<WebSocketConnectionHandler?>) -> (InboundBridge, WebSocket.Inbound) {
        let held = HeldBytes()
        let sequence = WebSocket.Inbound.makeSequence(
            elementType: WebSocket.InboundItem.self, failureType: (any Error).self,
            backPressureStrategy: InboundMarks(count: options.inboundQueue, bytes: options.inboundQueueBytes, held: held),
            finishOnDeinit: false, delegate: InboundDelegate(eventLoop: eventLoop, handler: handler))
        return (InboundBridge(source: sequence.source, held: held), sequence.sequence)
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
        held.add(item.size)  // before the yield: the marks see it
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

/// The bytes of inbound items the application holds: added when an item is yielded, taken off
/// when the application asks for the item after it (so the one in hand still counts: a handler
/// busy with a 1 MiB message holds that memory).
final class HeldBytes: Sendable {
    private let bytes = Atomic<Int>(0)

    var value: Int { bytes.load(ordering: .relaxed) }
    func add(_ size: Int) { bytes.wrappingAdd(size, ordering: .relaxed) }
    func release(_ size: Int) { bytes.wrappingSubtract(size, ordering: .relaxed) }
}

/// The inbound queue's backpressure, in items and in bytes: reading pauses when the queue
/// reaches `count.high` items or the application holds `bytes.high` bytes (queued, or the item
/// in hand), and resumes once the queue is below `count.low` items and the bytes at most
/// `bytes.low`, or once the application waits on an empty queue. NIO calls it under its lock.
struct InboundMarks: NIOAsyncSequenceProducerBackPressureStrategy {
    let count: (high: Int, low: Int)
    let bytes: (high: Int, low: Int)
    let held: HeldBytes
    private var demanding = true

    init(count: (high: Int, low: Int), bytes: (high: Int, low: Int), held: HeldBytes) {
        self.count = count
        self.bytes = bytes
        self.held = held
    }

    mutating func didYield(bufferDepth: Int) -> Bool {
        if bufferDepth >= count.high || held.value >= bytes.high { demanding = false }
        return demanding
    }

    mutating func didConsume(bufferDepth: Int) -> Bool {
        if (bufferDepth == 0 || bufferDepth < count.low) && held.value <= bytes.low { demanding = true }
        return demanding
    }
}

extension WebSocket.InboundItem {
    /// Payload bytes, as the inbound byte marks count them.
    var size: Int {
        switch self {
        case .message(let message): message.payloadSize
        case .fragment(let fragment): fragment.payload.readableBytes
        }
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
