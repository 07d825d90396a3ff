"""An OTLP/HTTP logs receiver that decodes every request with the official protobuf definitions
(PyPI opentelemetry-proto) and writes each log record as one JSON line to OUT, with every
attribute's protobuf type kept (`{"int": 5}`, `{"string": "x"}`). Unknown fields, a wrong
content type or a body that does not parse are errors: the request is answered 400 and the
error written as a line `{"error": ...}`.

usage: otlp_receiver.py OUT [FAIL_FIRST [CERT KEY]]   (FAIL_FIRST: answer the first N requests 503;
CERT KEY: serve https with that certificate)
Environment: OTLP_MODE=retry429:N:SECONDS (the first N requests 429 with Retry-After),
partial:N:MESSAGE (accept, reporting N records rejected in partial_success), hang (read the
request, never answer).
Prints `listening PORT` once it accepts requests.
"""
import json
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import unknown_fields
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

OUT = sys.argv[1]
FAIL_FIRST = int(sys.argv[2]) if len(sys.argv) > 2 else 0
MODE = os.environ.get("OTLP_MODE", "").split(":")
requests = 0


def value(v):
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return {"string": v.string_value}
    if kind == "int_value":
        return {"int": v.int_value}
    if kind == "double_value":
        return {"double": v.double_value}
    if kind == "bool_value":
        return {"bool": v.bool_value}
    if kind == "array_value":
        return {"array": [value(x) for x in v.array_value.values]}
    if kind == "kvlist_value":
        return {"kvlist": {kv.key: value(kv.value) for kv in v.kvlist_value.values}}
    if kind == "bytes_value":
        return {"bytes": v.bytes_value.hex()}
    return {"empty": None}


def write(line):
    with open(OUT, "a") as f:
        f.write(json.dumps(line) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        global requests
        requests += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        write({"request": requests})
        if MODE[0] == "hang":
            time.sleep(3600)
            return
        if MODE[0] == "retry429" and requests <= int(MODE[1]):
            self.send_response(429)
            self.send_header("Retry-After", MODE[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
            write({"refused": requests})
            return
        if requests <= FAIL_FIRST:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            write({"refused": requests})
            return
        try:
            assert self.path == "/v1/logs", self.path
            assert self.headers.get("Content-Type") == "application/x-protobuf", self.headers.get("Content-Type")
            request = logs_service_pb2.ExportLogsServiceRequest()
            request.ParseFromString(body)

            def known_only(message):  # a field number we got wrong would land here
                assert len(unknown_fields.UnknownFieldSet(message)) == 0, f"unknown fields in {type(message).__name__}"

            known_only(request)
            for rl in request.resource_logs:
                known_only(rl)
                known_only(rl.resource)
                resource = {kv.key: value(kv.value) for kv in rl.resource.attributes}
                for sl in rl.scope_logs:
                    known_only(sl)
                    known_only(sl.scope)
                    for r in sl.log_records:
                        known_only(r)
                        known_only(r.body)
                        for kv in r.attributes:
                            known_only(kv)
                            known_only(kv.value)
                        write({
                            "resource": resource, "scope": sl.scope.name,
                            "time_unix_nano": r.time_unix_nano, "observed_time_unix_nano": r.observed_time_unix_nano,
                            "severity_number": r.severity_number, "severity_text": r.severity_text,
                            "body": value(r.body), "event_name": r.event_name,
                            "attributes": {kv.key: value(kv.value) for kv in r.attributes},
                            "attribute_count": len(r.attributes),
                            "trace_id": r.trace_id.hex(), "span_id": r.span_id.hex(), "flags": r.flags,
                            "api_key": self.headers.get("X-Api-Key"),
                        })
            answer = logs_service_pb2.ExportLogsServiceResponse()
            if MODE[0] == "partial":
                answer.partial_success.rejected_log_records = int(MODE[1])
                answer.partial_success.error_message = MODE[2]
            response = answer.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)
        except Exception as e:  # noqa: BLE001 - reported to the test as a line
            write({"error": repr(e)})
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) > 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
