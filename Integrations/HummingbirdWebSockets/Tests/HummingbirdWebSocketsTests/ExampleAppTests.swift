import Testing
import WebSocketTestSupport

/// HummingbirdExample started for real and met the way its users meet it: plain HTTP, Python
/// websockets, headless Chromium, nginx in front, SIGTERM from a service manager.
@Suite("HummingbirdExample: HTTP and WebSocket on one port", .serialized, .timeLimit(.minutes(3)))
struct ExampleAppTests {
    @Test("GET /health 200; a plain GET /ws 426; a bad handshake 400; Python websockets echoes with deflate; the standalone server's records, schema-valid")
    func onePort() async throws { try await MountedAppChecks.onePort("HummingbirdExample") }

    @Test("headless Chromium on /ws: UTF-8, 200 KB, binary and a 1,000-message burst echoed; close 4000 logged")
    func browser() async throws { try await MountedAppChecks.browser("HummingbirdExample") }

    @Test("over TLS with a test CA the clients trust: headless Chromium on wss://…/ws, the room checks with Python websockets")
    func browserTLS() async throws { try await MountedAppChecks.browserTLS("HummingbirdExample") }

    @Test("behind a real nginx: the client address from X-Forwarded-For, because the proxy is trusted")
    func behindNginx() async throws { try await MountedAppChecks.behindNginx("HummingbirdExample") }

    @Test("the authenticated room route: 401 without the token (logged with the client address), joined ROOM, messages to one room only, 1009 above the route's limit and not on /ws, route beside path on the records")
    func rooms() async throws { try await MountedAppChecks.rooms("HummingbirdExample") }

    @Test("SIGTERM: a client on /ws and a room member are closed with 1001, the records say so, the app exits 0")
    func gracefulStop() async throws { try await MountedAppChecks.gracefulStop("HummingbirdExample") }

    @Test("bad arguments: exit 64 naming the option and the value")
    func badArguments() async throws { try await MountedAppChecks.badArguments("HummingbirdExample") }

    @Test("the README's Hummingbird snippet is this example's code, line for line")
    func readmeSnippet() throws {
        try MountedAppChecks.readmeSnippet("Hummingbird", exampleSource: repositoryRoot
            .appendingPathComponent("Integrations/HummingbirdWebSockets/Sources/HummingbirdExample/main.swift").path)
    }
}
