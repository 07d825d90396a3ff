import Logging
import NIOHTTP1
import Synchronization
import W3CTraceContext
import WebSocketCore

/// What every record of one connection carries: its id, the socket peer, the resolved client
/// address and the request headers.
///
/// Immutable and rendered **once**: the JSON fragment of `event_data` and the plain format's
/// `[id address]` are built in the initializer, so formatting a record only copies bytes. When
/// the client address becomes known (after the request headers arrive) the I/O layer makes a
/// new context with ``with(clientAddress:source:requestHeaders:traceContext:)``; counters are shared.
public final class ConnectionContext: Sendable, CustomStringConvertible {
    /// The connection id.
    public let id: ConnectionID
    /// The socket peer's address (IP, or the Unix socket path), or `nil` when unknown.
    public let peerAddress: String?
    /// The socket peer's port, if any.
    public let peerPort: Int?
    /// The client's address: from a trusted proxy's forwarding header, else the peer address.
    public let clientAddress: String?
    /// Where ``clientAddress`` came from: `peer`, `x-forwarded-for` or `forwarded`.
    public let clientAddressSource: String
    /// The opening handshake's request headers, once received (for enrichers). Rebuilt from a
    /// packed copy on each access; ``LogEnricher/requestHeader(_:as:maxLength:)`` reads one
    /// header without rebuilding the rest.
    public var requestHeaders: HTTPHeaders? { packedHeaders?.headers }
    /// The request headers, kept packed: a connection holds them for its whole life.
    package let packedHeaders: PackedHead?
    /// The W3C trace context the opening handshake carried (`traceparent`, `tracestate`), or
    /// that the client sent: its ids are on every record of the connection.
    public let traceContext: TraceContext?
    /// The opening handshake's request target (path and query, redacted as the records'
    /// `path` field), once the request head arrived: every later record of the connection
    /// carries it, `connection_closed` included, so that "closes on /chat" is one query.
    public let path: String?
    /// The route that took the connection in a framework's router (its pattern, `/rooms/:room`),
    /// beside ``path`` (`/rooms/lobby`): few values, for dashboards and metric labels; `nil`
    /// for the standalone server and a plain ``WebSocketHTTPUpgrader``-style mount.
    public let route: String?
    /// The server node that holds the connection (``ServerConfiguration/node``, `serve --node`):
    /// which of several servers wrote the record.
    public let node: String?

    let counters: Counters
    /// `"connection_id":"…","node":"…","remote_addr":"…","peer_addr":"…","peer_port":N`, `,"route":"…"` for
    /// a routed connection, then `,"path":"…"` once the request head arrived (from ``jsonPathStart`` on: written unless
    /// the event has a path of its own). One array: one allocation per context.
    let jsonFields: [UInt8]
    let jsonPathStart: Int
    /// `[id address]`
    let plainTag: [UInt8]
    /// `,"trace":{"id":"…"},"span":{"id":"…"}` (ECS), empty without a trace context.
    let ecsTraceFields: [UInt8]

    final class Counters: Sendable {
        /// DEBUG frame records seen so far, for per-connection sampling.
        let frameRecords = Atomic<Int>(0)
    }

    /// The metadata key under which connection loggers carry the context.
    public static let metadataKey = "ws.connection"

    /// The context of the connection whose handler is running (set by the server around the
    /// handler), so application log calls inside it are tagged automatically.
    @TaskLocal public static var current: ConnectionContext?

    /// A context for a new connection from its socket peer; the client address is the peer until ``with(clientAddress:source:requestHeaders:traceContext:)`` says otherwise.
    public convenience init(id: ConnectionID = ConnectionID(), peerAddress: String?, peerPort: Int? = nil,
                            clientAddress: String? = nil, clientAddressSource: String = "peer",
                            requestHeaders: HTTPHeaders? = nil, traceContext: TraceContext? = nil, node: String? = nil) {
        self.init(id: id, peerAddress: peerAddress, peerPort: peerPort, clientAddress: clientAddress ?? peerAddress,
                  clientAddressSource: clientAddressSource, requestHeaders: requestHeaders, traceContext: traceContext,
                  path: nil, route: nil, node: node, counters: Counters())
    }

    init(id: ConnectionID, peerAddress: String?, peerPort: Int?, clientAddress: String?, clientAddressSource: String,
         requestHeaders: HTTPHeaders?, traceContext: TraceContext?, path: String?, route: String?, node: String?, counters: Counters) {
        self.id = id
        self.peerAddress = peerAddress
        self.peerPort = peerPort
        self.clientAddress = clientAddress
        self.clientAddressSource = clientAddressSource
        self.packedHeaders = requestHeaders.map { PackedHead(headers: $0) }
        self.traceContext = traceContext
        self.path = path
        self.route = route
        self.node = node
        self.counters = counters

        var json = LogLine(capacity: 128)
        json.append("\"connection_id\":\"")
        id.write(into: &json)
        if let node {
            json.append("\",\"node\":")
            json.append(jsonString: node, limit: 128)
            json.append(",\"remote_addr\":")
        } else {
            json.append("\",\"remote_addr\":")
        }
        if let clientAddress { json.append(jsonString: clientAddress, limit: 64) } else { json.append("null") }   // addresses are short
        json.append(",\"peer_addr\":")
        if let peerAddress { json.append(jsonString: peerAddress, limit: 64) } else { json.append("null") }
        if let peerPort {
            json.append(",\"peer_port\":")
            json.append(int: peerPort)
        }
        if clientAddressSource != "peer" {
            json.append(",\"remote_addr_source\":")
            json.append(jsonString: clientAddressSource, limit: 32)
        }
        // The ids in hex, once for every fragment below.
        let trace = traceContext.map { (id: $0.traceID.hexBytes, span: $0.spanID.hexBytes, flags: Self.hex($0.flags.rawValue)) }
        if let trace {
            json.append(",\"trace_id\":\"")
            json.append(contentsOf: trace.id)
            json.append("\",\"span_id\":\"")
            json.append(contentsOf: trace.span)
            json.append("\",\"trace_flags\":\"")
            json.append(contentsOf: trace.flags)
            json.append(UInt8(ascii: "\""))
        }
        if let route {
            json.append(",\"route\":")
            json.append(jsonString: route, limit: 256)
        }
        jsonPathStart = json.count
        if let path {
            json.append(",\"path\":")
            json.append(jsonString: path, limit: 2048)
        }
        jsonFields = json.bytes

        var plain = LogLine(capacity: 64)
        plain.append(UInt8(ascii: "["))
        id.write(into: &plain)
        plain.append(UInt8(ascii: " "))
        plain.append(plain: clientAddress ?? "-", quoteIfNeeded: true, limit: 64)
        if let trace {
            plain.append(" trace_id=")
            plain.append(contentsOf: trace.id)
            plain.append(" span_id=")
            plain.append(contentsOf: trace.span)
        }
        plain.append(UInt8(ascii: "]"))
        plainTag = plain.bytes

        var ecs = LogLine(capacity: 80)
        if let trace {
            ecs.append(",\"trace\":{\"id\":\"")
            ecs.append(contentsOf: trace.id)
            ecs.append("\"},\"span\":{\"id\":\"")
            ecs.append(contentsOf: trace.span)
            ecs.append("\"}")
        }
        ecsTraceFields = ecs.bytes
    }

    /// A copy with the resolved client address, the request headers and the trace context they
    /// carried; same id and counters.
    public func with(clientAddress: String?, source: String, requestHeaders: HTTPHeaders?,
                     traceContext: TraceContext? = nil) -> ConnectionContext {
        with(clientAddress: clientAddress, source: source, requestHeaders: requestHeaders, traceContext: traceContext, path: path,
             route: route)
    }

    /// A copy with the resolved client address, the request headers, their trace context, the
    /// request's `path` (already redacted) and the `route` that took it; same id and counters.
    public func with(clientAddress: String?, source: String, requestHeaders: HTTPHeaders?,
                     traceContext: TraceContext?, path: String?, route: String? = nil) -> ConnectionContext {
        ConnectionContext(id: id, peerAddress: peerAddress, peerPort: peerPort, clientAddress: clientAddress ?? peerAddress,
                          clientAddressSource: source, requestHeaders: requestHeaders, traceContext: traceContext,
                          path: path, route: route, node: node, counters: counters)
    }

    /// The `trace_flags` form: two lowercase hex digits, as in `traceparent`.
    static func hex(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
    }

    /// `id address`: how handlers that do not know this type print the metadata value.
    public var description: String { "\(id) \(clientAddress ?? "-")" }

    /// A metadata provider that attaches ``current`` to every log call made inside a connection
    /// handler. Bootstrap swift-log with it (`LoggingSystem.bootstrap(_:metadataProvider:)`) so
    /// that any handler sees the context; this package's handlers also read ``current`` directly.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let current = ConnectionContext.current else { return [:] }
        return [metadataKey: .stringConvertible(current)]
    }
}
