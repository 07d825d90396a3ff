// swift-tools-version: 6.1
//
// libFuzzer harnesses for swift-websockets (a separate package so the main build is not
// affected). Build and run with scripts/fuzz.sh; see Fuzz/README.md.
import PackageDescription

let harness = { (name: String, dependencies: [Target.Dependency]) -> Target in
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies)
}

let package = Package(
    name: "swift-websockets-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-websockets", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        harness("FuzzEngine", [.product(name: "WebSocketCore", package: "swift-websockets"),
                               .product(name: "WebSocketCompression", package: "swift-websockets"),
                               .product(name: "NIOCore", package: "swift-nio")]),
        harness("FuzzHTTPHead", [.product(name: "WebSocketCore", package: "swift-websockets"),
                                 .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]),
        harness("FuzzInflater", [.product(name: "WebSocketCore", package: "swift-websockets"),
                                 .product(name: "WebSocketCompression", package: "swift-websockets"),
                                 .product(name: "NIOCore", package: "swift-nio")]),
        harness("FuzzTrustedProxies", [.product(name: "WebSocketCore", package: "swift-websockets"),
                                       .product(name: "NIOHTTP1", package: "swift-nio")]),
        harness("FuzzFormatters", [.product(name: "WebSocketCore", package: "swift-websockets"),
                                   .product(name: "WebSocketLogging", package: "swift-websockets"),
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "NIOHTTP1", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
