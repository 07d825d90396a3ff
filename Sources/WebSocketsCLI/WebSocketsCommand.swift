// The `websockets` command: an echo server that logs every connection, and an interactive
// client, like `python -m websockets`.
import ArgumentParser
import Logging
import WebSocketLogging

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case json, plain, ecs
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct LoggingOptions: ParsableArguments {
    @Option(help: "Log line format: json (one object per line), ecs (Elastic Common Schema, one object per line) or plain.")
    var logFormat: LogFormat = .json

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    /// Bootstraps swift-log so that the library's and the application's records share the format.
    func bootstrap(sink: StreamSink) {
        let format = logFormat, level = logLevel
        let ecs = LogPipeline(formatter: ECSFormatter(), sink: sink)
        LoggingSystem.bootstrap({ label, provider in
            switch format {
            case .json: JSONLogHandler(label: label, sink: sink, logLevel: level, metadataProvider: provider)
            case .ecs: JSONLogHandler(label: label, pipeline: ecs, logLevel: level, metadataProvider: provider)
            case .plain: PlainLogHandler(label: label, sink: sink, logLevel: level, metadataProvider: provider)
            }
        }, metadataProvider: ConnectionContext.metadataProvider)
    }
}

@main
struct WebSocketsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "websockets",
        abstract: "WebSocket echo server and interactive client with structured logs.",
        version: "swift-websockets 0.9.0",
        subcommands: [Serve.self, Connect.self])
}

/// A failure the command reports in one line (`Error: …`, exit status 1): what (the file,
/// address or URL), why in words, and the remedy when there is one.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
