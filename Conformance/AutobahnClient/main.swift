// The Autobahn|Testsuite client protocol on top of our client API (for `wstest -m fuzzingserver`,
// run by scripts/autobahn-client.sh): read the case count, run every case echoing each message
// back until the fuzzing server closes, then ask for the reports.
//
//   AUTOBAHN_URL=ws://127.0.0.1:9001 AUTOBAHN_AGENT=swift-websockets AutobahnClient
import Foundation
import Logging
import WebSocketCore
import WebSocketLogging
import WebSockets

let environment = ProcessInfo.processInfo.environment
let url = (environment["AUTOBAHN_URL"] ?? "ws://127.0.0.1:9001").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
let agent = environment["AUTOBAHN_AGENT"] ?? "swift-websockets"
let caseTimeout = Double(environment["AUTOBAHN_CASE_TIMEOUT"] ?? "") ?? 120

var configuration = ClientConfiguration()
configuration.connection.maxMessageSize = 32 << 20       // group 9 sends up to 16 MiB
configuration.connection.pingInterval = nil              // no unsolicited pings during cases
configuration.connection.openTimeout = .seconds(30)
let logLevel = environment["AUTOBAHN_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
configuration.logger = Logger(label: "websockets.client") { StructuredLogHandler.json(label: $0, sink: StreamSink.standardError, logLevel: logLevel) }

/// Runs `body` with a time limit; a case that hangs is abandoned, not fatal.
func withTimeout(_ seconds: Double, _ body: @escaping @Sendable () async throws -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { try? await body() }
        group.addTask { try? await Task.sleep(for: .seconds(seconds)) }
        await group.next()
        group.cancelAll()
    }
}

let config = configuration

/// Progress on stdout, unbuffered (the script shows it live).
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
/// The number of cases the fuzzing server has.
func caseCount() async throws -> Int? {
    let ws = try await WebSocketClient.connect(to: "\(url)/getCaseCount", configuration: config)
    defer { Task { await ws.close() } }
    for try await message in ws.messages {
        if case .text(let text) = message { return Int(text) }
    }
    return nil
}

guard let count = try await caseCount() else {
    FileHandle.standardError.write(Data("getCaseCount: no count\n".utf8))
    exit(2)
}
say("\(count) cases")
let started = Date()
for number in 1...max(count, 1) where count > 0 {
    await withTimeout(caseTimeout) {
        let ws = try await WebSocketClient.connect(to: "\(url)/runCase?case=\(number)&agent=\(agent)", configuration: config)
        do {
            for try await message in ws.messages { try await ws.send(message) }
        } catch {
            await ws.waitUntilClosed()   // a protocol error the case provoked: the fuzzer judges it
        }
    }
    if number % 50 == 0 { say("  \(number)/\(count) cases done (\(Int(Date().timeIntervalSince(started))) s)") }
}
await withTimeout(30) {
    let ws = try await WebSocketClient.connect(to: "\(url)/updateReports?agent=\(agent)", configuration: config)
    await ws.waitUntilClosed()
}
say("done: \(count) cases in \(Int(Date().timeIntervalSince(started))) s")
StreamSink.standardError.flush()
