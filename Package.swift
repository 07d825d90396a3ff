// swift-tools-version: 6.1
//
// swift-websockets: a WebSocket server and client (RFC 6455, RFC 7692) whose every
// connection emits typed, structured log events.
//
// Targets are split by dependency weight (see docs/ARCHITECTURE.md):
//   WebSocketCore  - sans-I/O protocol engine: bytes in, typed events and bytes out.
//                    Depends only on NIOCore/NIOHTTP1 value types (ByteBuffer, HTTP heads),
//                    swift-crypto (SHA-1) and ExtrasBase64. No sockets, no clocks, no threads.
//   WebSocketLogging - typed log events, the formatter chain (enrichers, filters, JSON/plain/
//                    syslog formatters, sinks) and swift-log handlers.
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swift-websockets",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WebSocketCore", targets: ["WebSocketCore"]),
        .library(name: "WebSocketLogging", targets: ["WebSocketLogging"]),
        .library(name: "WebSocketCompression", targets: ["WebSocketCompression"]),
        .library(name: "WebSockets", targets: ["WebSockets"]),
        .executable(name: "websockets", targets: ["WebSocketsCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "WebSocketCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ExtrasBase64", package: "swift-extras-base64"),
            ],
            swiftSettings: strictSettings
        ),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // glibc's malloc.h: returning freed memory to the system (FreedMemoryPolicy).
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "WebSocketCompression",
            dependencies: ["CZlib", "WebSocketCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "WebSocketLogging",
            dependencies: [
                "WebSocketCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "WebSockets",
            dependencies: [
                "CMalloc",
                "WebSocketCore",
                "WebSocketCompression",
                "WebSocketLogging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "WebSocketsCLI",
            dependencies: [
                "WebSockets",
                "WebSocketCore",
                "WebSocketCompression",
                "WebSocketLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ClientBench",
            dependencies: ["WebSockets", "WebSocketCore", "WebSocketLogging", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/ClientBench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MicroBench",
            dependencies: [
                "WebSocketCore",
                "WebSocketCompression",
                "WebSocketLogging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/MicroBench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "CoreSmoke",
            dependencies: [
                "WebSocketCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Examples/CoreSmoke",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "EchoServer",
            dependencies: ["WebSockets", "WebSocketLogging", .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Examples/EchoServer",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "LoggingConfiguration",
            dependencies: ["WebSockets", "WebSocketCore", "WebSocketLogging", .product(name: "Logging", package: "swift-log"), .product(name: "NIOHTTP1", package: "swift-nio")],
            path: "Examples/LoggingConfiguration",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "BehindProxy",
            dependencies: ["WebSockets", .product(name: "NIOCore", package: "swift-nio"), "WebSocketCore", "WebSocketLogging", .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Examples/BehindProxy",
            exclude: ["README.md", "nginx.conf"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Chat",
            dependencies: ["WebSockets", .product(name: "NIOHTTP1", package: "swift-nio"), "WebSocketCore", "WebSocketLogging", .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Examples/Chat",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ReconnectingClient",
            dependencies: ["WebSockets", "WebSocketCore", "WebSocketLogging", .product(name: "Logging", package: "swift-log")],
            path: "Examples/ReconnectingClient",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ShipToSyslog",
            dependencies: ["WebSockets", "WebSocketLogging", .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Examples/ShipToSyslog",
            exclude: ["README.md", "rsyslog.conf"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "AutobahnClient",
            dependencies: ["WebSockets", "WebSocketCore", "WebSocketLogging", .product(name: "Logging", package: "swift-log")],
            path: "Conformance/AutobahnClient",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebSocketCoreTests",
            dependencies: [
                "WebSocketTestSupport",
                "WebSocketCore",
                "WebSocketCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "WebSocketTestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebSocketLoggingTests",
            dependencies: [
                "WebSocketTestSupport",
                "WebSocketLogging",
                "WebSocketCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebSocketsTests",
            dependencies: [
                "WebSocketTestSupport",
                "WebSockets",
                "WebSocketCompression",
                "WebSocketCore",
                "WebSocketLogging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ExamplesTests",
            dependencies: [
                "WebSocketTestSupport",
                "WebSockets",
                "WebSocketCore",
                "WebSocketLogging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
