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
import os
import shutil
import subprocess
import sys
import tempfile

import websockets

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


async def drive(endpoint, url, protocols):
    async with websockets.connect(endpoint, max_size=None) as cdp:
        ids = iter(range(1, 1_000_000))

        async def call(method, params=None, session=None):
            msg_id = next(ids)
            msg = {"id": msg_id, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            await cdp.send(json.dumps(msg))
            while True:
                reply = json.loads(await cdp.recv())
                if reply.get("id") == msg_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]

        target = (await call("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        script = f"const URL = {json.dumps(url)}; const PROTOCOLS = {json.dumps(protocols)};" + PAGE_SCRIPT
        evaluated = await call("Runtime.evaluate",
                               {"expression": script, "awaitPromise": True, "returnByValue": True}, session)
        if "exceptionDetails" in evaluated:
            details = evaluated["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            return {"error": text}
        return evaluated["result"]["value"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--subprotocol", action="append", default=[])
    parser.add_argument("--ignore-certificate-errors", action="store_true")
    parser.add_argument("--ca-cert", help="a test CA the browser trusts (through its own NSS database)")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print(json.dumps({"error": "chromium not installed"}))
        return 2
    profile = tempfile.mkdtemp(prefix="ws-chromium-")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}"]
    if args.ignore_certificate_errors:
        flags.append("--ignore-certificate-errors")
    env = dict(os.environ)
    if args.ca_cert:
        # Chromium on Linux trusts what $HOME/.pki/nssdb trusts: a home of its own, with the CA in it.
        env["HOME"] = os.path.join(profile, "home")
        nssdb = os.path.join(env["HOME"], ".pki", "nssdb")
        os.makedirs(nssdb)
        for command in (["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"],
                        ["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "test CA", "-i", args.ca_cert]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(json.dumps({"error": f"{' '.join(command)}: {done.stderr.strip()}"}))
                return 2
    browser = subprocess.Popen([chromium, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):  # at most 30 s for the browser to start
            if os.path.exists(port_file) and len(open(port_file).read().splitlines()) >= 2:
                break
            if browser.poll() is not None:
                print(json.dumps({"error": f"chromium exited with {browser.returncode}"}))
                return 2
            asyncio.run(asyncio.sleep(0.1))
        else:
            print(json.dumps({"error": "chromium did not open its DevTools port in 30 s"}))
            return 2
        port, path = open(port_file).read().splitlines()[:2]
        endpoint = f"ws://127.0.0.1:{port}{path}"
        result = asyncio.run(asyncio.wait_for(drive(endpoint, args.url, args.subprotocol), 90))
        print(json.dumps(result))
        return 0 if "error" not in result else 1
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
