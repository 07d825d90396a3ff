import ArgumentParser
import Dispatch
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOSSL
import Synchronization
import WebSocketCore
import WebSocketLogging
import WebSockets

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to a server: each stdin line is sent as a text message, each message received is printed after '< '.",
        discussion: """
            At the end of standard input the client keeps reading until the server has been quiet for \
            --linger seconds (at most 10 s in all), so that replies to the last lines are printed, then \
            closes the connection with 1000 and still prints every message that arrives before the \
            server's close frame. Ctrl-C closes at once; a second Ctrl-C exits. Exit status 0 after a \
            normal close, 1 otherwise.
            """)

    @Argument(help: "ws:// or wss:// URL.") var url: String
    @Option(name: .customLong("subprotocol"), help: "A subprotocol to offer (repeatable, in order of preference).")
    var subprotocols: [String] = []
    @Option(help: "PEM file of a CA to trust for wss:// (e.g. a test certificate).") var caFile: String?
    @Flag(help: "Do not verify the server certificate.") var insecure = false
    @Option(help: "At the end of input, wait until the server has been quiet this long (seconds, 0 to 10) before closing.")
    var linger: Double = 0.3
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try validateSubprotocols(subprotocols)
        guard linger.isFinite, (0...10).contains(linger) else {
            throw ValidationError("--linger \(linger): must be 0 to 10 seconds")
        }
    }

    func run() async throws {
        let sink = logging.makeSink(otherwise: .standardError)
        logging.bootstrap(sink: sink)
        defer { logging.finish(sink) }
        var configuration = ClientConfiguration(subprotocols: subprotocols)
        configuration.logger.logLevel = logging.logLevel
        if let caFile {
            try requireReadable(caFile, what: "CA certificates", option: "--ca-file")
            guard (try? NIOSSLCertificate.fromPEMFile(caFile))?.isEmpty == false else {
                throw CommandError("--ca-file \(caFile): not a PEM certificate file (expected -----BEGIN CERTIFICATE-----)")
            }
            configuration.tls.trustRoots = .file(caFile)
        }
        if insecure { configuration.tls.certificateVerification = .none }
        let ws: WebSocket
        do {
            ws = try await WebSocketClient.connect(to: url, configuration: configuration)
        } catch let error as WebSocketError {
            throw CommandError(Self.explain(error, url: url))
        }
        let interrupts = Interrupts { Task { await ws.close(code: .normalClosure) } }
        defer { interrupts.cancel() }
        let quiet = QuietClock()
        let printer = Task { () -> Bool in
            do {
                for try await message in ws.messages {
                    quiet.heard()
                    // Straight to the descriptor, a line at a time: stdio's `fflush(NULL)` would
                    // wait for stdin's lock, held by the thread blocked reading it.
                    switch message {
                    case .text(let s): writeOutput(1, "< " + escapeControlCharacters(s) + "\n")
                    case .binary(let b): writeOutput(1, "< (binary) " + b.readableBytesView.map { String(format: "%02x", $0) }.joined() + "\n")
                    }
                }
                return true
            } catch {
                writeOutput(2, "connection closed: \(error)\n")
                return false
            }
        }
        let sender = Task {
            for await line in stdinLines() {
                do { try await ws.send(line) } catch { break }
            }
            // Replies to the last lines may still be on their way: a server that answers our
            // close before the messages queued ahead of it would otherwise drop them.
            await quiet.waitForQuiet(.milliseconds(Int64(linger * 1000)), atMost: .seconds(10))
            await ws.close(code: .normalClosure)
        }
        let normal = await printer.value
        sender.cancel()
        if !normal { throw ExitCode(1) }
    }

    /// The library's error with what the command's user can do about it.
    static func explain(_ error: WebSocketError, url: String) -> String {
        switch error.kind {
        case .tlsFailed:
            "\(url): \(error.message); for a test certificate pass --ca-file PEM (its CA), or --insecure to skip verification"
        case .connectionClosed where url.lowercased().hasPrefix("ws:"):
            "\(url): \(error.message); if the server serves TLS, use wss://"
        default: "\(url): \(error.message)"
        }
    }
}

/// SIGINT while connected: the first runs `onFirst` (a close with 1000), a second exits at once.
final class Interrupts: @unchecked Sendable {
    private let source: any DispatchSourceSignal
    private var count = 0  // touched only on the source's queue

    init(onFirst: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "websockets.connect.sigint"))
        source.setEventHandler { [unowned self] in
            count += 1
            if count == 1 { onFirst() } else { exit(130) }
        }
        source.resume()
    }

    func cancel() { source.cancel() }
}

/// When a message last arrived: `connect` lingers at the end of its input until the server has
/// been quiet for a while.
final class QuietClock: Sendable {
    private let last = Mutex(ContinuousClock.now)

    func heard() { last.withLock { $0 = .now } }

    /// Returns once nothing arrived for `quiet`, or after `limit` in all.
    func waitForQuiet(_ quiet: Duration, atMost limit: Duration) async {
        guard quiet > .zero else { return }
        heard()  // the quiet is counted from the end of input
        let giveUp = ContinuousClock.now + limit
        while !Task.isCancelled {
            let until = min(last.withLock { $0 } + quiet, giveUp)
            if ContinuousClock.now >= until { return }
            try? await Task.sleep(until: until, clock: .continuous)
        }
    }
}
