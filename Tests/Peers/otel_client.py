#!/usr/bin/env python3
"""A client instrumented with the OpenTelemetry SDK: opens a span (whose parent carries a
tracestate), injects the W3C trace context into the opening handshake with OpenTelemetry's own
propagator, echoes one message and closes with 1000. Prints the ids it sent as JSON.

    otel_client.py URL            the span's context, through opentelemetry.propagate.inject
    otel_client.py URL invalid    a malformed traceparent instead (the server must ignore it)
"""
import asyncio
import json
import sys

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from websockets.asyncio.client import connect

URL = sys.argv[1]
INVALID = len(sys.argv) > 2 and sys.argv[2] == "invalid"

trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("otel-client-test")


async def call(headers):
    async with connect(URL, additional_headers=headers, compression="deflate") as ws:
        await ws.send("hello from a traced span")
        reply = await ws.recv()
        assert reply == "hello from a traced span", reply
        await ws.close(1000, "done")


def main():
    if INVALID:
        headers = {"traceparent": "00-ZZZZ-not-a-trace-context-raw-secret-0123456789abcdef0-01"}
        asyncio.run(call(headers))
        print(json.dumps({"headers": headers}))
        return
    # An upstream caller's context with vendor state: the span below inherits its trace state.
    upstream = TraceContextTextMapPropagator().extract(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"})
    with tracer.start_as_current_span("websocket call", context=upstream) as span:
        headers = {}
        propagate.inject(headers)
        asyncio.run(call(headers))
        ctx = span.get_span_context()
        print(json.dumps({"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x"),
                          "trace_flags": format(int(ctx.trace_flags), "02x"), "headers": headers}))


main()
