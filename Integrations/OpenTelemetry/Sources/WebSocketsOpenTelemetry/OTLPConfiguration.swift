#if canImport(Glibc)
import Glibc
#endif

extension OTLPLogExporter {
    /// Where and how records are exported.
    public struct Configuration: Sendable {
        /// The logs endpoint (default `http://localhost:4318/v1/logs`).
        public var endpoint: OTLPEndpoint
        /// Extra request headers (an API key).
        public var headers: [(String, String)]
        /// Resource attributes; `service.name` is always set (default `unknown_service:websockets`).
        public var resource: [String: String]
        /// Records kept while waiting for an export; beyond it records are dropped and counted.
        public var maxQueueSize: Int
        /// Records per request.
        public var maxBatchSize: Int
        /// The longest a record waits before it is exported.
        public var scheduleDelay: Duration
        /// How long an export may take (connect, send, answer) before it counts as failed.
        public var exportTimeout: Duration

        /// A configuration; each parameter sets the property of the same name.
        public init(endpoint: OTLPEndpoint = OTLPEndpoint("http://localhost:4318/v1/logs")!, headers: [(String, String)] = [],
                    resource: [String: String] = [:], maxQueueSize: Int = 4096, maxBatchSize: Int = 512,
                    scheduleDelay: Duration = .seconds(1), exportTimeout: Duration = .seconds(10)) {
            self.endpoint = endpoint
            self.headers = headers
            self.resource = resource
            self.maxQueueSize = max(1, maxQueueSize)
            self.maxBatchSize = max(1, maxBatchSize)
            self.scheduleDelay = scheduleDelay
            self.exportTimeout = exportTimeout
        }

        /// The configuration the standard OpenTelemetry variables describe:
        /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/logs`),
        /// `OTEL_EXPORTER_OTLP_HEADERS`/`_LOGS_HEADERS`, `OTEL_EXPORTER_OTLP_PROTOCOL`
        /// (`http/protobuf` only), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
        /// - Throws: ``OTLPConfigurationError`` naming the variable and what is wrong with it.
        public static func fromEnvironment(_ environment: [String: String] = currentEnvironment()) throws -> Configuration {
            var configuration = Configuration()
            if let proto = environment["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"] ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"],
               proto != "http/protobuf" {
                throw OTLPConfigurationError(variable: "OTEL_EXPORTER_OTLP_PROTOCOL", value: proto,
                                             problem: "only http/protobuf is supported")
            }
            if let url = environment["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] {
                guard let endpoint = OTLPEndpoint(url) else {
                    throw OTLPConfigurationError(variable: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", value: url, problem: "not an http(s) URL")
                }
                configuration.endpoint = endpoint
            } else if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"] {
                // The signal's path goes after the base URL's own path (OTLP/HTTP exporter spec).
                let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
                guard let endpoint = OTLPEndpoint(trimmed + "/v1/logs") else {
                    throw OTLPConfigurationError(variable: "OTEL_EXPORTER_OTLP_ENDPOINT", value: base, problem: "not an http(s) URL")
                }
                configuration.endpoint = endpoint
            }
            for variable in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"] {
                guard let text = environment[variable] else { continue }
                configuration.headers += try Self.pairs(text, variable: variable)
            }
            if let text = environment["OTEL_RESOURCE_ATTRIBUTES"] {
                for (key, value) in try Self.pairs(text, variable: "OTEL_RESOURCE_ATTRIBUTES") { configuration.resource[key] = value }
            }
            if let name = environment["OTEL_SERVICE_NAME"], !name.isEmpty { configuration.resource["service.name"] = name }
            return configuration
        }

        /// `k1=v1,k2=v2` with percent-encoded values (the W3C Baggage form the variables use).
        static func pairs(_ text: String, variable: String) throws -> [(String, String)] {
            try text.split(separator: ",").map { item in
                guard let eq = item.firstIndex(of: "="), item[..<eq].trimmingWhitespace() != "" else {
                    throw OTLPConfigurationError(variable: variable, value: text, problem: "'\(item)' is not key=value")
                }
                let key = item[..<eq].trimmingWhitespace()
                let raw = item[item.index(after: eq)...].trimmingWhitespace()
                return (key, raw.removingPercentEncodingOrSelf())
            }
        }

        /// This process's environment.
        public static func currentEnvironment() -> [String: String] {
            var result: [String: String] = [:]
            var pointer = environ
            while let entry = pointer.pointee {
                let text = String(cString: entry)
                if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
                pointer += 1
            }
            return result
        }
    }
}

/// An OTLP setting from the environment that cannot be used, named with the reason.
public struct OTLPConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The variable's name.
    public var variable: String
    /// Its value.
    public var value: String
    /// What is wrong with it.
    public var problem: String
    public var description: String { "\(variable)=\(value): \(problem)" }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    func removingPercentEncodingOrSelf() -> String {
        var bytes: [UInt8] = []
        var i = utf8.startIndex
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == UInt8(ascii: "%"), let h1 = utf8.index(i, offsetBy: 1, limitedBy: utf8.endIndex), h1 < utf8.endIndex,
               let h2 = utf8.index(i, offsetBy: 2, limitedBy: utf8.endIndex), h2 < utf8.endIndex,
               let v = UInt8(String(decoding: [utf8[h1], utf8[h2]], as: UTF8.self), radix: 16) {
                bytes.append(v)
                i = utf8.index(i, offsetBy: 3)
            } else {
                bytes.append(b)
                i = utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
