import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One OTLP/HTTP export: `POST` of a protobuf body on a fresh connection, answered by a status.
/// Exports are at most one a second (or one per full batch), so a connection per export costs
/// little and never holds a broken keep-alive connection.
struct OTLPHTTPTransport: Sendable {
    let endpoint: OTLPEndpoint
    let headers: [(String, String)]
    let group: any EventLoopGroup
    let sslContext: NIOSSLContext?

    init(endpoint: OTLPEndpoint, headers: [(String, String)], tls: TLSConfiguration, group: any EventLoopGroup) throws {
        self.endpoint = endpoint
        self.headers = headers
        self.group = group
        self.sslContext = endpoint.secure ? try NIOSSLContext(configuration: tls) : nil
    }

    /// The collector's answer: its status, `Retry-After` in seconds if it sent one, and the body.
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var retryAfter: Int?
        var body: [UInt8]
    }

    /// Posts `body` and returns the answer, all within `timeout` (connect, send, answer).
    func post(_ body: [UInt8], timeout: TimeAmount) async throws -> Answer {
        let loop = group.next()
        let promise = loop.makePromise(of: Answer.self)
        let endpoint = self.endpoint, sslContext = self.sslContext
        // SNI names a host; an IP address is not sent as one (RFC 6066 §3), and BoringSSL refuses to.
        let isIP = endpoint.host.contains(":") || endpoint.host.allSatisfy { $0.isNumber || $0 == "." }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: isIP ? nil : endpoint.host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusReader(promise: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            promise.fail(error)  // its reader was never installed
            throw error
        }
        let timer = loop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.path)
        head.headers.add(name: "Host", value: endpoint.hostHeader)
        head.headers.add(name: "Content-Type", value: "application/x-protobuf")
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// Completes with the answer once the whole response has arrived (or fails on close before it).
    private final class StatusReader: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Answer>
        var answer: Answer?

        init(promise: EventLoopPromise<Answer>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                answer = Answer(status: head.status, retryAfter: head.headers.first(name: "Retry-After").flatMap { Int($0) }, body: [])
            case .body(let bytes):
                if (answer?.body.count ?? 0) < 64 << 10 { answer?.body += bytes.readableBytesView }  // a status is small
            case .end:
                if let answer { promise.succeed(answer) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
