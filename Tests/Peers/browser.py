#!/usr/bin/env python3
"""A real browser as the peer: headless Chromium (Debian's `chromium`) driven over the DevTools
protocol, running a page script that uses the browser's own WebSocket against URL.

    browser.py URL [--subprotocol chat] [--ignore-certificate-errors | --ca-cert CA.pem]

The page offers the subprotocol, sends UTF-8 text, a 200 KB text, a 64 KB binary and a burst
of 1,000 messages, checks every echo, then closes with 4000 "bye". Prints one JSON object: what
the page saw (protocol, extensions, each check, the close event). Exit status 0 when the page
ran to the end (the caller judges the result), 2 when the browser could not be driven.
"""
import argparse
import asyncio
import json
import sys

from chromium import Chromium, ChromiumError

PAGE_SCRIPT = r"""
(async () => {
  const deadline = new Promise((_, reject) => setTimeout(() => reject(new Error('page timed out')), 45000));
  const run = async () => {
    const ws = new WebSocket(URL, PROTOCOLS);
    ws.binaryType = 'arraybuffer';
    const inbox = [];
    let waiter = null;
    ws.onmessage = (e) => { inbox.push(e.data); if (waiter) { const w = waiter; waiter = null; w(); } };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket error before open'));
    });
    const next = () => inbox.length ? Promise.resolve(inbox.shift())
                                     : new Promise((r) => { waiter = () => r(inbox.shift()); });
    const result = { protocol: ws.protocol, extensions: ws.extensions };

    const utf8 = 'héllo wörld ✓ 🎉 Привет 你好';
    ws.send(utf8);
    result.utf8 = (await next()) === utf8;

    let big = '';
    for (let i = 0; i < 200 * 1024; i++) big += String.fromCharCode(97 + (i * 7) % 26);
    ws.send(big);
    result.bigText = (await next()) === big;

    const binary = new Uint8Array(64 * 1024);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 31 + 7) & 255;
    ws.send(binary);
    const back = new Uint8Array(await next());
    result.binary = back.length === binary.length && back.every((v, i) => v === binary[i]);

    for (let i = 0; i < 1000; i++) ws.send('m' + i);
    let inOrder = 0;
    for (let i = 0; i < 1000; i++) if ((await next()) === 'm' + i) inOrder++;
    result.burst = inOrder;

    const closed = new Promise((r) => { ws.onclose = (e) => r({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
    ws.close(4000, 'bye');
    result.close = await closed;
    return result;
  };
  return await Promise.race([run(), deadline]);
})()
"""


async def run_page(call, url, protocols):
    script = f"const URL = {json.dumps(url)}; const PROTOCOLS = {json.dumps(protocols)};" + PAGE_SCRIPT
    evaluated = await call("Runtime.evaluate", {"expression": script, "awaitPromise": True, "returnByValue": True})
    if "exceptionDetails" in evaluated:
        details = evaluated["exceptionDetails"]
        return {"error": details.get("exception", {}).get("description") or details.get("text")}
    return evaluated["result"]["value"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--subprotocol", action="append", default=[])
    parser.add_argument("--ignore-certificate-errors", action="store_true")
    parser.add_argument("--ca-cert", help="a test CA the browser trusts (through its own NSS database)")
    args = parser.parse_args()
    try:
        with Chromium(ca_cert=args.ca_cert, ignore_certificate_errors=args.ignore_certificate_errors) as browser:
            result = asyncio.run(asyncio.wait_for(
                browser.drive(lambda call, _events: run_page(call, args.url, args.subprotocol)), 90))
    except ChromiumError as error:
        print(json.dumps({"error": str(error)}))
        return 2
    print(json.dumps(result))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
