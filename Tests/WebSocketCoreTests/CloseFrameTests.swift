import NIOCore
import Testing
@testable import WebSocketCore

/// RFC 6455 §5.5.1 (close payload) and §7.4 (status codes).
@Suite("CloseFrame and CloseCode: RFC 6455 §5.5.1, §7.4")
struct CloseFrameTests {
    @Test("codes allowed on the wire", arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] as [UInt16])
    func validCodes(code: UInt16) throws {
        #expect(CloseCode(code).isValidOnWire)
        #expect(try CloseFrame(parsing: buffer(closePayload(code, "ok"))) == CloseFrame(code: CloseCode(code), reason: "ok"))
    }

    @Test("codes refused on the wire", arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535] as [UInt16])
    func invalidCodes(code: UInt16) {
        #expect(!CloseCode(code).isValidOnWire)
        #expect(throws: ProtocolViolation.invalidCloseCode(code)) { try CloseFrame(parsing: buffer(closePayload(code))) }
    }

    @Test("empty payload means 1005, a 1-byte payload is an error, a non-UTF-8 reason is an error")
    func payloadShapes() throws {
        #expect(try CloseFrame(parsing: ByteBuffer()).code == .noStatusReceived)
        #expect(throws: ProtocolViolation.closePayloadTooShort) { try CloseFrame(parsing: buffer([0x03])) }
        #expect(throws: ProtocolViolation.invalidUTF8) { try CloseFrame(parsing: buffer([0x03, 0xE8, 0xC0, 0x80])) }
    }

    @Test("serialising truncates the reason to 123 bytes on a scalar boundary")
    func truncation() throws {
        let reason = String(repeating: "é", count: 100)  // 200 bytes
        let bytes = CloseFrame(code: .goingAway, reason: reason).serialized()
        #expect(bytes.readableBytes <= 125)
        let back = try CloseFrame(parsing: bytes)
        #expect(back.reason == String(repeating: "é", count: 61))
        #expect(CloseFrame(code: .noStatusReceived).serialized().readableBytes == 0)
    }
}
