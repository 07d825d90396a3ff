import Instrumentation
import NIOHTTP1
import W3CTraceContext

/// W3C trace context across the opening handshake. The log records take their ids from the
/// `traceparent` header itself (swift-w3c-trace-context), whatever tracer is bootstrapped; a
/// bootstrapped swift-distributed-tracing instrument also extracts its `ServiceContext` for the
/// handler (server) and injects the caller's into the request (client).
enum TracePropagation {
    /// The trace context of one valid `traceparent` (two are invalid, W3C §3.2.2), with
    /// `tracestate` when that is valid too. Anything invalid is ignored: never thrown, never logged.
    static func traceContext(in headers: HTTPHeaders) -> TraceContext? {
        let parents = headers["traceparent"]
        guard parents.count == 1, let parent = parents.first, parent.utf8.count == 55 else { return nil }
        let states = headers["tracestate"]
        if !states.isEmpty {
            let state = states.joined(separator: ",")  // a list header: several lines are one list
            if state.utf8.count <= 8192, let context = try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: state) {
                return context
            }
        }
        return try? TraceContext(traceParentHeaderValue: parent)
    }

    /// Whether an instrument is bootstrapped (or bound to the task): without one, there is
    /// nothing to extract or inject, and a connection pays nothing.
    static var isInstrumented: Bool { !(InstrumentationSystem.instrument is NoOpInstrument) }

    /// The instrument's context for a request (nil without an instrument).
    static func extract(_ headers: HTTPHeaders) -> ServiceContext? {
        guard isInstrumented else { return nil }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(headers, into: &context, using: HeaderExtractor())
        return context
    }

    /// The request headers with `context` injected by the instrument (as given without one).
    static func inject(_ context: ServiceContext, into headers: HTTPHeaders) -> HTTPHeaders {
        guard isInstrumented else { return headers }
        var headers = headers
        InstrumentationSystem.instrument.inject(context, into: &headers, using: HeaderInjector())
        return headers
    }

    struct HeaderExtractor: Extractor {
        func extract(key: String, from carrier: HTTPHeaders) -> String? { carrier.first(name: key) }
    }

    struct HeaderInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
            carrier.replaceOrAdd(name: key, value: value)
        }
    }
}
