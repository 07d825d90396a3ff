import Foundation
import Logging

/// A minimal foreign swift-log handler (not one of ours: records reach it through `Logger.log`
/// only): keeps messages and metadata as strings.
public final class CollectingHandler: LogHandler, @unchecked Sendable {
    public struct Entry: Sendable {
        public var message: String
        public var metadata: [String: String]
    }
    private let lock = NSLock()
    private var stored: [Entry] = []
    public var entries: [Entry] { lock.withLock { stored } }
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init() {}

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        lock.withLock { stored.append(Entry(message: event.message.description, metadata: all.mapValues { "\($0)" })) }
    }
}
