import Foundation
import Logging
import Testing
@testable import WebSocketLogging

@Suite("StreamSink: files, overflow, reopen", .serialized)
struct StreamSinkTests {
    func tempPath(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "ws-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        unlink(path)
        return path
    }

    func lines(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    }

    @Test("lines from many threads all arrive, whole and in per-thread order")
    func concurrentWriters() async throws {
        let path = tempPath("concurrent")
        let sink = try #require(StreamSink(path: path, bufferSize: 8192))
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for i in 0..<2500 { pipeline.log(record(nil, message: "t\(t) #\(i)", metadata: ["t": .stringConvertible(t), "i": .stringConvertible(i)])) }
                }
            }
        }
        sink.close()
        let all = try lines(path)
        #expect(all.count == 10_000)
        var next = [0, 0, 0, 0]
        for line in all {
            let meta = try #require(try parseJSON(String(line))["metadata"] as? [String: Int])
            let t = meta["t"]!
            #expect(meta["i"] == next[t])
            next[t] += 1
        }
    }

    @Test("with the drop policy a full buffer drops and counts, and the count is logged")
    func dropPolicy() throws {
        // A pipe that nobody reads yet: the writer thread blocks once the pipe's buffer fills.
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let sink = try #require(StreamSink(path: "/proc/self/fd/\(fds[1])", bufferSize: 4096, overflowPolicy: .drop))
        close(fds[1])
        let pipeline = LogPipeline(formatter: JSONFormatter(), sink: sink)
        let big = String(repeating: "x", count: 1500)
        for _ in 0..<2000 { pipeline.log(record(nil, message: big)) }
        // Now drain the pipe on another thread until the sink closes it.
        let collected = MemorySink()
        let readFD = fds[0]
        let reader = Thread {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(readFD, &chunk, chunk.count)
                if n <= 0 { break }
                chunk[0..<n].withUnsafeBytes { collected.write($0) }
            }
        }
        reader.start()
        sink.flush()
        pipeline.log(record(nil, message: "after"))
        sink.close()
        for _ in 0..<500 where !reader.isFinished { usleep(10_000) }  // bounded: 5 s
        close(fds[0])
        let all = collected.lines.joined().split(separator: "\n")
        let dropped = all.compactMap { line -> Int? in
            guard let p = try? parseJSON(String(line)), p["event"] as? String == "log_records_dropped" else { return nil }
            return (p["fields"] as? [String: Any])?["dropped"] as? Int
        }
        let written = all.filter { $0.contains(big) }.count
        #expect(written < 2000)
        #expect(dropped.reduce(0, +) == 2000 - written, "every dropped record is accounted for")
        #expect(all.last?.contains("\"after\"") == true)
    }

    @Test("reopen() (what SIGHUP triggers) moves writing to a new file after logrotate renamed the old one")
    func reopenAfterRotation() throws {
        let path = tempPath("rotate")
        let sink = try #require(StreamSink(path: path))
        StreamSink.reopenFilesOnHangup()  // installs the SIGHUP handler (idempotent); its delivery is not timed here
        StreamSink.reopenFilesOnHangup()
        let pipeline = LogPipeline(formatter: PlainFormatter(), sink: sink)
        pipeline.log(record(nil, message: "before rotation"))
        sink.flush()
        #expect(rename(path, path + ".1") == 0)
        pipeline.log(record(nil, message: "still to the renamed file"))
        sink.flush()
        sink.reopen()
        pipeline.log(record(nil, message: "after rotation"))
        sink.close()
        let rotated = try lines(path + ".1")
        #expect(rotated.first?.contains("before rotation") == true)
        #expect(rotated.last?.contains("still to the renamed file") == true)
        #expect(try lines(path).map { $0.contains("after rotation") } == [true])
        unlink(path + ".1")
        unlink(path)
    }

    @Test("flush returns only when every accepted line is written")
    func flush() throws {
        let path = tempPath("flush")
        let sink = try #require(StreamSink(path: path))
        let pipeline = LogPipeline(formatter: PlainFormatter(), sink: sink)
        for i in 0..<500 { pipeline.log(record(nil, message: "line \(i)")) }
        pipeline.flush()
        #expect(try lines(path).count == 500)
        sink.close()
    }
}
