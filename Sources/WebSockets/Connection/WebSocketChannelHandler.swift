import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import WebSocketCompression
import WebSocketCore
import WebSocketLogging

/// The I/O adapter around ``WebSocketEngine`` for one channel, in the NIO style: an
/// event-loop-bound handler that feeds socket bytes to the sans-I/O engine, writes what it
/// produces, runs the timers (open, keepalive, close) and bridges to ``WebSocket`` with
/// backpressure both ways. Every step is logged through the connection's
/// ``WebSocketEventLogger``; protocol traces only while its level allows them.
final class WebSocketChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What every connection of one server shares, made once per server: a handler holds a
    /// reference, not a copy of the configuration (an idle connection's memory counts).
    final class ServerSide: Sendable {
        let configuration: ServerConfiguration
        /// ``ServerConfiguration/effectiveHandshake``, computed once.
        let handshake: ServerHandshakeOptions
        let rejectionLog: RejectionLogLimiter?
        /// The server's callbacks, when it has no handler task per connection.
        let callbacks: (any WebSocketCallbacks)?
        let onOpen: @Sendable (WebSocket) -> Void
        /// Called when a connection handled by callbacks closes.
        let onClose: @Sendable (WebSocket) -> Void

        init(configuration: ServerConfiguration, rejectionLog: RejectionLogLimiter?, callbacks: (any WebSocketCallbacks)?,
             onOpen: @escaping @Sendable (WebSocket) -> Void, onClose: @escaping @Sendable (WebSocket) -> Void) {
            self.configuration = configuration
            self.handshake = configuration.effectiveHandshake
            self.rejectionLog = rejectionLog
            self.callbacks = callbacks
            self.onOpen = onOpen
            self.onClose = onClose
        }
    }

    /// One client connection's handshake and options (a reference, like ``ServerSide``: the
    /// handler's `side` stays one word).
    final class ClientSide {
        let handshake: ClientHandshake
        let promise: EventLoopPromise<WebSocket>
        let compression: PerMessageDeflateConfiguration?
        let options: ConnectionOptions

        init(handshake: ClientHandshake, promise: EventLoopPromise<WebSocket>, compression: PerMessageDeflateConfiguration?,
             options: ConnectionOptions) {
            self.handshake = handshake
            self.promise = promise
            self.compression = compression
            self.options = options
        }
    }

    enum Side {
        case server(ServerSide)
        case client(ClientSide)
    }

    private enum Phase {
        case handshake
        case processingRequest
        case open
        case closed
    }

    private let side: Side
    private var log: WebSocketEventLogger
    private var logContext: ConnectionContext
    private var engine: WebSocketEngine
    private var headParser: HTTPHeadParser
    /// Bytes of the opening handshake's head not consumed yet (a head may span many reads).
    private var headBuffer = ByteBuffer()
    private var phase = Phase.handshake
    private var request: HTTPRequestHead?
    private var socket: WebSocket?
    private var source: WebSocket.Inbound.Source?
    private var delegateBox: NIOLoopBoundBox<WebSocketChannelHandler?>?
    private var context: ChannelHandlerContext?

    private var readAllowed = true
    private var readPending = false
    private var openTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    /// Bounds how long a deferred protocol violation waits for the application.
    private var violationTimer: Scheduled<Void>?
    /// Inbound items handed to the application's sequence.
    private var itemsYielded = 0
    private var keepaliveTask: RepeatedTask?
    private var keepaliveTimeout: Scheduled<Void>?
    private var pings: [(id: PingID, sentAt: NIODeadline, promise: EventLoopPromise<Duration>?)] = []
    private var startedAt = NIODeadline.now()
    private var handshakeDuration: Double?
    private var transportClosing = false
    private var shuttingDown = false
    private var clientPromise: EventLoopPromise<WebSocket>?

    init(side: Side, logger: WebSocketEventLogger, logContext: ConnectionContext) {
        self.side = side
        self.logContext = logContext
        self.log = logger.with(connection: logContext)
        let (role, options): (Role, ConnectionOptions)
        switch side {
        case .server(let server): (role, options) = (.server, server.configuration.connection)
        case .client(let client): (role, options) = (.client, client.options)
        }
        self.engine = WebSocketEngine(role: role, configuration: options.engineConfiguration)
        self.headParser = HTTPHeadParser(limits: options.httpLimits)
        if case .client(let client) = side { clientPromise = client.promise }
    }

    /// The server's callbacks, if its connections are handled by callbacks.
    private var callbacks: (any WebSocketCallbacks)? {
        if case .server(let server) = side { server.callbacks } else { nil }
    }

    /// Calls a callback; one that throws closes the connection with 1011 and an ERROR
    /// `handler_failed` record, as a throwing handler task does.
    private func callBack(_ body: (any WebSocketCallbacks, WebSocket) throws -> Void) {
        guard let callbacks, let socket else { return }
        do {
            try body(callbacks, socket)
        } catch {
            log.handlerFailed(error)
            closeLocally(code: .internalError, reason: "")
        }
    }

    /// The connection's limits and timeouts: the server's (shared by its connections) or the client's.
    private var options: ConnectionOptions {
        switch side {
        case .server(let server): server.configuration.connection
        case .client(let client): client.options
        }
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private var started = false

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        startedAt = .now()
        engine.isTracing = log.wantsTraces
        if engine.isTracing { log.emit(trace: .stateChanged(.connecting)) }
        if let timeout = options.openTimeout {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            openTimer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { bound.value.openTimedOut() }
        }
        if case .client(let client) = side {
            let head = engine.request(client.handshake)
            var buffer = context.channel.allocator.buffer(capacity: 512)
            buffer.writeHTTPRequestHead(head)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            request = head
            drainTraces()
        }
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        switch phase {
        case .handshake:
            handshakeBytes(&buffer, context: context)
        case .processingRequest:
            // Bytes behind the request while an async hook runs: keep them for the engine.
            engine.receive(buffer)
        case .open:
            engine.isTracing = log.wantsTraces
            engine.receive(buffer)
            pump(context: context)
        case .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        if readAllowed {  // also while closed: a lingering close drains the peer's input
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        socket?.update { $0.writable = writable }
        if callbacks != nil && phase == .open {  // callbacks cannot wait to send: reading waits instead
            if writable { resumeReading() } else { readAllowed = false }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.emit(.errorHandled(error: "\(error)", code: nil, reason: "transport error"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context)
        context.fireChannelInactive()
    }

    // MARK: - Opening handshake

    private func handshakeBytes(_ data: inout ByteBuffer, context: ChannelHandlerContext) {
        if headBuffer.readableBytes == 0 {
            headBuffer = data
        } else {
            headBuffer.writeBuffer(&data)
        }
        var buffer = headBuffer
        defer { headBuffer = buffer.readableBytes > 0 && phase == .handshake ? buffer : ByteBuffer() }
        switch side {
        case .server(let server):
            let head: HTTPRequestHead?
            do {
                head = try headParser.parseRequest(&buffer)
            } catch {
                reject(error.rejection, path: nil, context: context)
                return
            }
            guard let head else { return }
            if buffer.readableBytes > 0 { engine.receive(buffer) }
            serverReceived(head, server: server, context: context)
        case .client(let client):
            let head: HTTPResponseHead?
            do {
                head = try headParser.parseResponse(&buffer)
            } catch {
                clientFailed(WebSocketError(.invalidResponse, "invalid HTTP response: \(error)"), context: context)
                return
            }
            guard let head else { return }
            // Frames right behind the 101 (a server may send at once) wait until the
            // negotiated compression is in place: RSV1 means nothing before that.
            let early = buffer
            do {
                let result = try engine.processResponse(head, for: client.handshake)
                if let configuration = client.compression, let response = result.extensions.first {
                    // RFC 7692 §7.1: a response the client did not allow fails the connection.
                    do {
                        guard result.extensions.count == 1 else { throw PerMessageDeflateError(message: "more than one extension accepted") }
                        engine.compression = try PerMessageDeflate.clientAccept(response: response, configuration: configuration)
                    } catch {
                        drainTraces()
                        clientFailed(WebSocketError(.handshakeFailed, "invalid permessage-deflate response: \(error)", status: 101), context: context)
                        return
                    }
                }
                openTimer?.cancel()
                drainTraces()
                open(request: request!, response: head, subprotocol: result.subprotocol, extensions: result.extensions,
                     context: context)
                clientPromise?.succeed(socket!)
                clientPromise = nil
                if early.readableBytes > 0 { engine.receive(early) }
                pump(context: context)
            } catch {
                drainTraces()
                clientFailed(WebSocketError(.handshakeFailed, error.message, status: error.status), context: context)
            }
        }
    }

    private func serverReceived(_ head: HTTPRequestHead, server: ServerSide, context: ChannelHandlerContext) {
        let configuration = server.configuration
        request = head
        let (address, source) = configuration.clientAddress(peer: logContext.peerAddress, headers: head.headers)
        logContext = logContext.with(clientAddress: address, source: source, requestHeaders: head.headers)
        log = log.with(connection: logContext)  // replaces the context the logger carried
        if shuttingDown {
            reject(HandshakeRejection(kind: .shuttingDown, status: .serviceUnavailable, reason: "server shutting down"),
                   path: head.uri, request: head, context: context)
            return
        }
        if let origins = configuration.origins, !origins.allows(head.headers["Origin"].first) {
            reject(HandshakeRejection(kind: .refused, status: .forbidden, reason: "origin not allowed"), path: head.uri,
                   request: head, context: context)
            return
        }
        guard let hook = configuration.processRequest else {
            accept(head, server: server, context: context)
            return
        }
        phase = .processingRequest
        let ctx = logContext
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await hook(head, ctx) }.whenComplete { result in
            let handler = loopBound.value
            guard handler.phase == .processingRequest, let context = handler.context else { return }
            switch result {
            case .success(let response?):
                handler.respond(response, request: head, context: context)
            case .success(nil):
                handler.accept(head, server: server, context: context)
            case .failure(let error):
                handler.log.emit(.internalError(description: "processRequest failed: \(error)"), error: error)
                handler.reject(HandshakeRejection(kind: .refused, status: .internalServerError, reason: "internal server error"),
                               path: head.uri, request: head, context: context)
            }
        }
    }

    private func accept(_ head: HTTPRequestHead, server: ServerSide, context: ChannelHandlerContext) {
        engine.isTracing = log.wantsTraces
        switch engine.accept(head, options: server.handshake) {
        case .failure(let rejection):
            drainTraces()
            reject(rejection, path: head.uri, request: head, context: context, alreadyTraced: true)
        case .success(var accepted):
            server.configuration.processResponse?(head, &accepted.response)
            openTimer?.cancel()
            var buffer = context.channel.allocator.buffer(capacity: 256)
            buffer.writeHTTPResponseHead(accepted.response)
            context.write(wrapOutboundOut(buffer), promise: nil)
            drainTraces()
            open(request: head, response: accepted.response, subprotocol: accepted.subprotocol,
                 extensions: (try? ExtensionOffer.parse(accepted.response.headers["Sec-WebSocket-Extensions"])) ?? [], context: context)
            pump(context: context)
            context.flush()
        }
    }

    /// A plain HTTP answer from `processRequest` (health check, 401, ...).
    private func respond(_ response: HTTPResponse, request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        headers.replaceOrAdd(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        engine.reject(request: request, response: head)
        drainTraces()
        logRejection(ConnectionRejectedInfo(status: Int(response.status.code), reason: response.status.reasonPhrase,
                                            rejection: "refused", path: log.redaction.target(request.uri)), context: context)
        writeAndClose(head, body: response.body, context: context)
    }

    private func reject(_ rejection: HandshakeRejection, path: String?, request: HTTPRequestHead? = nil,
                        context: ChannelHandlerContext, alreadyTraced: Bool = false) {
        openTimer?.cancel()
        let serverHeader: String?
        if case .server(let s) = side { serverHeader = s.configuration.handshake.serverHeader } else { serverHeader = nil }
        let head = rejection.responseHead(serverHeader: serverHeader)
        if !alreadyTraced {
            if let request { engine.reject(request: request, response: head) }
            drainTraces()
        }
        logRejection(ConnectionRejectedInfo(status: Int(rejection.status.code), reason: rejection.reason,
                                            rejection: rejection.kind.rawValue, path: path.map(log.redaction.target)), context: context)
        writeAndClose(head, body: ByteBuffer(string: rejection.body), context: context)
    }

    /// `connection_rejected`, within the server's ``ServerConfiguration/rejectionLogLimit``.
    private func logRejection(_ info: ConnectionRejectedInfo, context: ChannelHandlerContext) {
        guard case .server(let server) = side, let limiter = server.rejectionLog else {
            return log.emit(.connectionRejected(info))
        }
        switch limiter.admit() {
        case .log:
            log.emit(.connectionRejected(info))
        case .suppress(let reportIn?):
            let configuration = server.configuration
            context.eventLoop.scheduleTask(in: reportIn) {
                let count = limiter.takeSuppressed()
                guard count > 0 else { return }
                configuration.eventLogger.emit(.logRecordsSuppressed(event: "connection_rejected", count: count,
                                                interval: Double(limiter.interval.nanoseconds) / 1e9))
            }
        case .suppress(nil):
            break
        }
    }

    private func writeAndClose(_ head: HTTPResponseHead, body: ByteBuffer, context: ChannelHandlerContext) {
        phase = .closed
        var buffer = context.channel.allocator.buffer(capacity: 256 + body.readableBytes)
        buffer.writeHTTPResponseHead(head)
        var body = body
        buffer.writeBuffer(&body)
        // Lingering close: half-close our side and drain what the peer is still sending.
        // Closing with unread input makes the kernel send a reset, which can destroy the
        // response before the peer reads it (e.g. a 414 while the long request still arrives).
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            let handler = bound.value
            guard let context = handler.context else { return }
            context.close(mode: .output, promise: nil)
            handler.closeTimer = context.eventLoop.scheduleTask(in: .seconds(2)) { bound.value.context?.close(promise: nil) }
        }
    }

    private func clientFailed(_ error: WebSocketError, context: ChannelHandlerContext) {
        phase = .closed
        openTimer?.cancel()
        clientPromise?.fail(error)
        clientPromise = nil
        context.close(promise: nil)
    }

    private func openTimedOut() {
        guard let context, phase == .handshake || phase == .processingRequest else { return }
        log.emit(.errorHandled(error: "opening handshake timed out", code: nil, reason: "open timeout"))
        switch side {
        case .server:
            reject(HandshakeRejection(kind: .timeout, status: .requestTimeout, reason: "opening handshake timed out"),
                   path: request?.uri, request: request, context: context)
        case .client:
            clientFailed(WebSocketError(.timeout, "opening handshake timed out"), context: context)
        }
    }

    private func open(request: HTTPRequestHead, response: HTTPResponseHead, subprotocol: String?, extensions: [ExtensionOffer],
                      context: ChannelHandlerContext) {
        phase = .open
        handshakeDuration = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        var inbound: WebSocket.Inbound?
        if callbacks == nil {  // a handler task iterates the messages; callbacks get them from `pump`
            let box = NIOLoopBoundBox<WebSocketChannelHandler?>(self, eventLoop: context.eventLoop)
            delegateBox = box
            let sequence = WebSocket.Inbound.makeSequence(
                elementType: WebSocket.InboundItem.self, failureType: (any Error).self,
                backPressureStrategy: .init(lowWatermark: options.inboundQueue.low, highWatermark: options.inboundQueue.high),
                finishOnDeinit: false, delegate: InboundDelegate(eventLoop: context.eventLoop, handler: box))
            source = sequence.source
            inbound = sequence.sequence
        }
        let role: Role
        if case .server = side { role = .server } else { role = .client }
        let ws = WebSocket(id: logContext.id, role: role, remoteAddress: context.channel.remoteAddress, logContext: logContext,
                           request: request, response: response, subprotocol: subprotocol, extensions: extensions,
                           logger: log.logger, eventLoop: context.eventLoop,
                           handler: NIOLoopBound(self, eventLoop: context.eventLoop), inbound: inbound,
                           closed: context.channel.closeFuture, writeBufferHighMark: options.writeBuffer.high)
        socket = ws
        // Both roles: one INFO record when the connection opens, one when it closes.
        log.emit(.connectionOpen(ConnectionOpenInfo(path: log.redaction.target(request.uri), subprotocol: subprotocol,
                                                    extensions: extensions.isEmpty ? nil : extensions.map(\.description).joined(separator: ", "),
                                                    handshakeDuration: handshakeDuration)))
        startKeepalive(context: context)
        if case .server(let server) = side {
            server.onOpen(ws)
            callBack { try $0.opened($1) }
        }
    }

    // MARK: - Open connection

    /// Writes what the engine produced, delivers its events and logs its traces. Writes are
    /// flushed at once, or with `flush: .whenBatchEnds` once the application's batch is answered.
    private func pump(context: ChannelHandlerContext, flush: FlushPolicy = .now) {
        // A callback that sends or closes calls back in here: the running pump goes round again
        // instead (no recursion per message, replies written in order behind what is queued).
        if pumping {
            pumpAgain = true
            return
        }
        pumping = true
        defer { pumping = false }
        var wrote = false
        repeat {
            pumpAgain = false
            pumpOnce(context: context, flush: flush, wrote: &wrote)
        } while pumpAgain
    }

    /// Whether ``pump(context:flush:)`` is running, and whether it must go round again.
    private var pumping = false
    private var pumpAgain = false

    /// One round of ``pump(context:flush:)``. The flush, the close timer and the transport's
    /// close wait for the last round: a callback may have queued replies or a close frame that
    /// must reach the channel before it closes.
    private func pumpOnce(context: ChannelHandlerContext, flush: FlushPolicy, wrote: inout Bool) {
        while let bytes = engine.nextOutput() {
            context.write(wrapOutboundOut(bytes), promise: nil)
            wrote = true
        }
        drainTraces()
        while let event = engine.nextEvent() {
            switch event {
            case .message(let m): deliver(.message(m))
            case .fragment(let f): deliver(.fragment(f))
            case .ping: break
            case .pong(_, let acknowledged): pongArrived(acknowledged)
            case .closeReceived(let frame): socket?.update { $0.closeReceived = frame }
            }
        }
        if engine.pendingViolation != nil && violationTimer == nil {
            deferViolation(context: context)  // the rest still runs: what this read produced is flushed
        }
        if let sent = engine.closeSent {
            socket?.update { s in
                s.closeSent = sent
                if s.state == .open { s.state = .closing }
            }
        }
        if pumpAgain { return }
        if wrote {
            if flush == .now || !applicationHasMore { context.flush() } else { queueFlush(context: context) }
        }
        // The stored fields, not `engine.closeExpected`: reading a computed property of the
        // engine through this class's stored property copied the whole engine (664 B, every
        // reference retained and released) on each pump.
        if (engine.state == .closing || engine.transportCloseRequested) && closeTimer == nil {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(options.closeTimeout)) {
                let handler = bound.value
                guard let context = handler.context else { return }
                handler.log.emit(.closeStep(step: "close timeout: closing TCP connection", code: nil, reason: nil))
                context.close(promise: nil)
            }
        }
        if engine.transportCloseRequested && !transportClosing {
            transportClosing = true
            // Close once every queued write has gone out (writes complete in order).
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in bound.value.context?.close(promise: nil) }
        }
    }

    enum FlushPolicy {
        case now
        /// While the application still has inbound items it has not asked for, it is working
        /// through a batch and will answer again before it waits: its replies share one flush
        /// (one `writev`) when it answers the last one. A queued flush bounds the wait in case it
        /// does something else instead.
        case whenBatchEnds
    }

    /// A flush queued on the event loop by ``pump(context:flush:)``.
    private var flushQueued = false

    /// Whether inbound items handed to the application's sequence were not asked for yet.
    private var applicationHasMore: Bool {
        guard let socket else { return false }
        return itemsYielded > socket.itemsRequested.load(ordering: .relaxed)
    }

    private func queueFlush(context: ChannelHandlerContext) {
        guard !flushQueued else { return }
        flushQueued = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = bound.value
            handler.flushQueued = false
            handler.context?.flush()
        }
    }

    /// A protocol violation arrived behind messages the application has not finished with:
    /// the connection fails once the application asks for the next message (so an echo of the
    /// earlier ones still goes out, as RFC 6455 §7.1.7 leaves room for and Autobahn checks
    /// strictly), or after at most a second, or at once if there is nothing to wait for.
    private func deferViolation(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        violationTimer = context.eventLoop.scheduleTask(in: min(TimeAmount(options.closeTimeout), .seconds(1))) {
            bound.value.failPendingViolation()
        }
        socket?.violationPending.store(true, ordering: .sequentiallyConsistent)
        checkPendingViolation()
    }

    func checkPendingViolation() {
        guard engine.pendingViolation != nil, let context else { return }
        guard let socket, source != nil else { return failPendingViolation() }
        if socket.itemsRequested.load(ordering: .sequentiallyConsistent) > itemsYielded {
            // Through the loop's task queue: a `send` the application made before asking for
            // the next message is already queued there and must reach the engine first.
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.failPendingViolation() }
        }
    }

    private func failPendingViolation() {
        guard engine.pendingViolation != nil, let context else { return }
        violationTimer?.cancel()
        socket?.violationPending.store(false, ordering: .relaxed)
        engine.failPendingViolation()
        pump(context: context)
    }

    private func deliver(_ item: WebSocket.InboundItem) {
        if callbacks != nil {
            if case .message(let m) = item { callBack { try $0.received(m, on: $1) } }
            return
        }
        guard let source else { return }
        itemsYielded += 1
        switch source.yield(item) {
        case .stopProducing: readAllowed = false
        case .produceMore, .dropped: break
        }
    }

    private func drainTraces() {
        while let trace = engine.nextTrace() { log.emit(trace: trace) }
    }

    func resumeReading() {
        readAllowed = true
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func inboundTerminated() {
        // The application stopped iterating: keep reading so close frames and pings are handled.
        resumeReading()
        source = nil
        checkPendingViolation()
    }

    func send(_ message: Message) {
        guard let context, phase == .open else { return }
        do {
            switch message {
            case .text(let s): try engine.sendText(s)
            case .binary(let b): try engine.sendBinary(b)
            }
        } catch {
            return  // closed meanwhile: `send` already reported the state it saw
        }
        pump(context: context, flush: .whenBatchEnds)
    }

    func sendFragment(_ bytes: ByteBuffer, text: Bool, first: Bool, fin: Bool) {
        guard let context, phase == .open else { return }
        do {
            if first {
                if text { try engine.sendText(String(buffer: bytes), fin: fin) } else { try engine.sendBinary(bytes, fin: fin) }
            } else {
                try engine.sendContinuation(bytes, fin: fin)
            }
        } catch {
            return
        }
        pump(context: context)
    }

    func sendPing(_ payload: ByteBuffer, promise: EventLoopPromise<Duration>?) {
        guard let context, phase == .open else {
            promise?.fail(ConnectionClosed(received: engine.closeReceived, sent: engine.closeSent))
            return
        }
        do {
            let id = try engine.sendPing(payload)
            pings.append((id, .now(), promise))
        } catch {
            promise?.fail(error)
            return
        }
        pump(context: context)
    }

    private func pongArrived(_ acknowledged: PingID?) {
        guard let acknowledged else { return }
        let now = NIODeadline.now()
        while let first = pings.first, first.id <= acknowledged {
            pings.removeFirst()
            let rtt = Duration.nanoseconds((now - first.sentAt).nanoseconds)
            socket?.update { $0.latency = rtt }  // before resuming the waiter, which may read it
            first.promise?.succeed(rtt)
            if first.promise == nil {
                keepaliveTimeout?.cancel()
                keepaliveTimeout = nil
                log.emit(.pongReceived(roundTrip: Double(rtt.components.attoseconds) / 1e18 + Double(rtt.components.seconds)))
            }
        }
    }

    private func startKeepalive(context: ChannelHandlerContext) {
        guard let interval = options.pingInterval else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepaliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: TimeAmount(interval), delay: TimeAmount(interval)) { _ in
            bound.value.keepalivePing()
        }
    }

    private func keepalivePing() {
        guard let context, phase == .open, engine.state == .open else { return }
        sendPing(ByteBuffer(integer: UInt32.random(in: 0...UInt32.max)), promise: nil)
        log.emit(.pingSent)
        guard let timeout = options.pingTimeout, keepaliveTimeout == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepaliveTimeout = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            let handler = bound.value
            guard let context = handler.context, handler.phase == .open else { return }
            handler.log.emit(.keepaliveTimeout(timeout: Double(timeout.components.seconds)))
            handler.engine.fail(code: .internalError, reason: "keepalive ping timeout")
            handler.pump(context: context)
            // A client would wait for the server's EOF; a dead peer never sends one.
            context.close(promise: nil)
        }
    }

    /// Starts the closing handshake (application or server shutdown).
    func closeLocally(code: CloseCode, reason: String) {
        guard let context else { return }
        switch phase {
        case .open:
            try? engine.close(code: code, reason: reason)
            pump(context: context)
        case .handshake, .processingRequest:
            context.close(promise: nil)
        case .closed:
            break
        }
    }

    /// Server shutdown: open connections close with 1001, handshakes in progress get 503.
    func shutdown() {
        shuttingDown = true
        guard let context else { return }
        switch phase {
        case .open: closeLocally(code: .goingAway, reason: "server shutting down")
        case .handshake:
            if request == nil && headParser.isIdle {
                context.close(promise: nil)
            }
        case .processingRequest, .closed: break
        }
    }

    private func finish(context: ChannelHandlerContext) {
        openTimer?.cancel()
        closeTimer?.cancel()
        violationTimer?.cancel()
        keepaliveTask?.cancel()
        keepaliveTimeout?.cancel()
        let wasOpen = phase == .open
        phase = .closed
        engine.receiveEOF()
        drainTraces()
        let closed = ConnectionClosed(received: engine.closeReceived, sent: engine.closeSent)
        for ping in pings { ping.promise?.fail(closed) }
        pings.removeAll()
        // Status first: a consumer woken by the end of the messages reads the close code.
        socket?.update { s in
            s.state = .closed
            s.closeSent = self.engine.closeSent
            s.closeReceived = self.engine.closeReceived
        }
        if let source {
            if closed.isNormal { source.finish() } else { source.finish(closed) }
        }
        source = nil
        if wasOpen, case .server(let server) = side, server.callbacks != nil, let socket {
            server.onClose(socket)
            callBack { callbacks, ws in callbacks.closed(ws) }
        }
        if wasOpen {
            let duration = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
            let latency = socket?.latency.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
            log.emit(.connectionClosed(ConnectionClosedInfo(engine: engine, duration: duration, latency: latency)))
        } else {
            clientPromise?.fail(WebSocketError(.connectionClosed, "connection closed during the opening handshake"))
            clientPromise = nil
        }
        delegateBox?.value = nil
        // Break the cycle WebSocket → handler → WebSocket: the application may keep the
        // WebSocket (and reach this closed handler through it); the handler lets it go.
        socket = nil
        self.context = nil
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
