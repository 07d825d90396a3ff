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
    let timeout: TimeAmount
    let group: any EventLoopGroup
    let sslContext: NIOSSLContext?

    init(endpoint: OTLPEndpoint, headers: [(String, String)], timeout: TimeAmount, group: any EventLoopGroup) throws {
        self.endpoint = endpoint
        self.headers = headers
        self.timeout = timeout
        self.group = group
        self.sslContext = endpoint.secure ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
    }

    /// Posts `body` and returns the response status.
    func post(_ body: [UInt8]) async throws -> HTTPResponseStatus {
        let loop = group.next()
        let promise = loop.makePromise(of: HTTPResponseStatus.self)
        let endpoint = self.endpoint, sslContext = self.sslContext
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: endpoint.host))
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
        let timer = loop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(self.timeout)) }
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

    /// Completes with the status once the whole response has arrived (or fails on close before it).
    private final class StatusReader: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<HTTPResponseStatus>
        var status: HTTPResponseStatus?

        init(promise: EventLoopPromise<HTTPResponseStatus>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = head.status
            case .body: break
            case .end: if let status { promise.succeed(status) }
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
