// CoreSmoke: a client engine and a server engine talking through memory, no sockets.
//
// It runs the opening handshake, exchanges a text and a binary message, a ping, and the
// closing handshake, printing every typed protocol trace with its DEBUG prefix. It exits
// non-zero if anything does not go as RFC 6455 says, so CI can run it as a check.
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import WebSocketCore

var client = WebSocketEngine(role: .client)
var server = WebSocketEngine(role: .server)
client.isTracing = true
server.isTracing = true

func show(_ name: String, _ engine: inout WebSocketEngine) {
    while let t = engine.nextTrace() {
        switch t {
        case .stateChanged(let s): print("\(name) = connection is \(s)")
        case .handshakeRequest(let head, let d): print("\(name) \(d.prefix) \(head.method) \(head.uri) HTTP/1.1")
        case .handshakeResponse(let head, let d): print("\(name) \(d.prefix) HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)")
        case .frame(let f, let d): print("\(name) \(d.prefix) \(f)")
        case .compressedFrame(let f, let d, let inflated): print("\(name) \(d.prefix) \(f) (\(inflated.readableBytes) bytes inflated)")
        case .close(let step): print("\(name) x \(step)")
        case .errorHandled(let v): print("\(name) ! \(v)")
        }
    }
}

/// Moves every pending byte from one engine to the other.
func pump(_ from: inout WebSocketEngine, _ to: inout WebSocketEngine) {
    while let bytes = from.nextOutput() { to.receive(bytes) }
}

func check(_ condition: Bool, _ what: String) {
    if !condition {
        print("FAILED: \(what)")
        exit(1)
    }
}

let handshake = ClientHandshake(host: "127.0.0.1:8765", target: "/smoke")
let request = client.request(handshake)
guard case .success(let accepted) = server.accept(request) else { fatalError("server rejected the handshake") }
_ = try client.processResponse(accepted.response, for: handshake)
show("client", &client); show("server", &server)

try client.sendText("Hello, κόσμε")
try client.sendBinary(ByteBuffer(bytes: [0xDE, 0xAD, 0xBE, 0xEF]))
let ping = try client.sendPing(ByteBuffer(string: "p1"))
pump(&client, &server)
var echoed = 0
while let event = server.nextEvent() {
    if case .message(let m) = event {
        switch m {
        case .text(let s): try server.sendText(s)
        case .binary(let b): try server.sendBinary(b)
        }
        echoed += 1
    }
}
pump(&server, &client)
var received: [Message] = []
var acknowledged: PingID?
while let event = client.nextEvent() {
    switch event {
    case .message(let m): received.append(m)
    case .pong(_, let id): acknowledged = id
    default: break
    }
}
show("client", &client); show("server", &server)
check(echoed == 2, "server echoed both messages")
check(received == [.text("Hello, κόσμε"), .binary(ByteBuffer(bytes: [0xDE, 0xAD, 0xBE, 0xEF]))], "client got the echoes")
check(acknowledged == ping, "pong acknowledged the ping")

try client.close(code: .normalClosure, reason: "bye")
pump(&client, &server)
pump(&server, &client)
check(server.transportCloseRequested, "server closes the TCP connection first")
server.receiveEOF()
client.receiveEOF()
show("client", &client); show("server", &server)
check(client.closeCode == .normalClosure && server.closeCode == .normalClosure, "both sides closed with 1000")
print("smoke OK: \(client.statistics.messagesOut) messages out, \(client.statistics.wireBytesOut) wire bytes, close \(client.closeCode!)")
