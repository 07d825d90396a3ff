#!/usr/bin/env python3
"""Lists public declarations in Sources/ (and Integrations/*/Sources/) that have no doc comment (///) above them.

Members that implement a protocol requirement inherit the protocol's documentation in DocC and
are not listed (description, makeAsyncIterator, next, Element, hash/==, LogHandler/LogSink
conformances, rawValue init). Exit status 1 if anything is listed.
"""
import pathlib, re, sys

INHERITED = re.compile(r"\b(var description|var debugDescription|func makeAsyncIterator|func next\(|typealias Element|"
                       r"typealias AsyncIterator|func hash\(into|static func ==|static func <|subscript\(metadataKey|"
                       r"func log\(event|var metadata\b|var logLevel\b|var metadataProvider\b|init\(rawValue|var rawValue|"
                       r"func write\(_ line|func run\(\) async throws|func encode\(to|init\(from decoder|init\(stringLiteral|"
                       r"func writeDropReport|func flush\(\)|func takeDroppedCount|func format\(_ record)")
missing = []
for path in sorted(list(pathlib.Path("Sources").rglob("*.swift")) + list(pathlib.Path("Integrations").glob("*/Sources/**/*.swift"))):
    if "WebSocketsCLI" in path.parts:
        continue
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not re.match(r"(@\w+(\(.*?\))?\s+)*(public|open)\s", stripped):
            continue
        if re.match(r"(public|open)\s+(import|extension)\b", stripped) or INHERITED.search(stripped):
            continue
        j = i - 1
        while j >= 0 and (lines[j].strip().startswith("@") or lines[j].strip() == "" and False):
            j -= 1
        prev = lines[j].strip() if j >= 0 else ""
        if not (prev.startswith("///") or prev.endswith("*/")):
            missing.append(f"{path}:{i + 1}: {stripped[:100]}")
print("\n".join(missing))
print(f"{len(missing)} public declarations without a doc comment", file=sys.stderr)
sys.exit(1 if missing else 0)
