// The `websockets` command: an echo server that logs every connection, and an interactive
// client, like `python -m websockets`.
import ArgumentParser
import Logging
import WebSocketCore
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

    @Option(help: ArgumentHelp(
        "Send the records to a syslog daemon instead: relp://HOST:PORT, tcp://HOST:PORT, udp://HOST:PORT or unix:PATH.",
        discussion: "RELP (rsyslog's imrelp) loses nothing across a daemon restart; TCP loses what the daemon had not read when it stopped; UDP loses what is sent while it is down. Records wait (1 MiB) while the daemon is unreachable; any dropped are counted in a log_records_dropped record. The message is the --log-format line (json, ecs) or RFC 5424 structured data (plain).",
        valueName: "url"))
    var logSyslog: String?

    func validate() throws {
        if let logSyslog {
            do { _ = try SyslogSink.Transport(parsing: logSyslog) } catch { throw ValidationError("--log-syslog \(error)") }
        }
    }

    /// The syslog sink of `--log-syslog`, or `stream`.
    func makeSink(otherwise stream: StreamSink) -> any LogSink {
        guard let logSyslog, let transport = try? SyslogSink.Transport(parsing: logSyslog) else { return stream }
        return SyslogSink(transport: transport)
    }

    /// Bootstraps swift-log so that the library's and the application's records share the
    /// format and one pipeline.
    func bootstrap(sink: any LogSink) {
        let formatter: any LogFormatter
        if sink is SyslogSink {
            let body: SyslogFormatter.Body = switch logFormat {
            case .json: .json
            case .ecs: .ecs
            case .plain: .structuredData
            }
            formatter = SyslogFormatter(body: body)
        } else {
            formatter = switch logFormat {
            case .json: JSONFormatter()
            case .ecs: ECSFormatter()
            case .plain: PlainFormatter()
            }
        }
        let pipeline = LogPipeline(formatter: formatter, sink: sink)
        let level = logLevel
        LoggingSystem.bootstrap({ label, provider in
            StructuredLogHandler(label: label, pipeline: pipeline, logLevel: level, metadataProvider: provider)
        }, metadataProvider: ConnectionContext.metadataProvider)
    }

    /// At exit: everything written (a syslog sink delivers what it can, then closes).
    func finish(_ sink: any LogSink) {
        if let syslog = sink as? SyslogSink { syslog.close() } else { sink.flush() }
    }
}

@main
struct WebSocketsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "websockets",
        abstract: "WebSocket echo server and interactive client with structured logs.",
        version: "swift-websockets 0.9.0",
        subcommands: [Serve.self, Connect.self, Logs.self])
}

/// A failure the command reports in one line (`Error: …`, exit status 1): what (the file,
/// address or URL), why in words, and the remedy when there is one.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `--subprotocol` values, for `serve` and `connect` alike: each one token (RFC 6455 §4.1),
/// checked over the bytes (a CR LF pair is one Character, and would pass a check of Characters).
func validateSubprotocols(_ names: [String]) throws {
    for name in names {
        if let problem = HTTPHeadValidation.tokenProblem(name) {
            throw ValidationError("--subprotocol '\(escapeControlCharacters(name))': a subprotocol is one token (RFC 6455 §4.1); this one \(problem)")
        }
    }
}
