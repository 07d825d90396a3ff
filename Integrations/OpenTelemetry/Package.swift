// swift-tools-version: 6.1
//
// swift-websockets' log records exported over OTLP/HTTP (protobuf) as OpenTelemetry log
// records: typed attributes with semantic-convention names, severity numbers, the event name
// and the connection's trace context. Its own package, so that the main build stays free of
// it; it depends on the main package by path.
import PackageDescription

let package = Package(
    name: "swift-websockets-opentelemetry",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WebSocketsOpenTelemetry", targets: ["WebSocketsOpenTelemetry"]),
    ],
    dependencies: [
        .package(name: "swift-websockets", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
    ],
    targets: [
        .target(
            name: "WebSocketsOpenTelemetry",
            dependencies: [
                .product(name: "WebSocketLogging", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        // The main package's test support (scripts, peers), reached through the symbolic link Tests/TestSupport.
        .target(name: "WebSocketTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(
            name: "WebSocketsOpenTelemetryTests",
            dependencies: [
                "WebSocketsOpenTelemetry", "WebSocketTestSupport",
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "WebSocketLogging", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
