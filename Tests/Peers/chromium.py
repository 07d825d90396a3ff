"""Headless Chromium (Debian's `chromium`) for the peers that drive it over the DevTools protocol:
`browser.py` (a page using the browser's WebSocket) and `render_page.py` (a report page rendered).

    with Chromium(ca_cert=None, ignore_certificate_errors=False) as browser:
        result = asyncio.run(browser.drive(coroutine_taking_call))

Raises ChromiumError with a sentence when the browser cannot be started or driven."""
import asyncio
import json
import os
import shutil
import subprocess
import tempfile

import websockets


class ChromiumError(Exception):
    pass


class Chromium:
    def __init__(self, ca_cert=None, ignore_certificate_errors=False):
        self.ca_cert = ca_cert
        self.ignore_certificate_errors = ignore_certificate_errors
        self.process = None
        self.profile = None
        self.endpoint = None

    def __enter__(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            raise ChromiumError("chromium not installed")
        self.profile = tempfile.mkdtemp(prefix="ws-chromium-")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                 "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self.profile}"]
        if self.ignore_certificate_errors:
            flags.append("--ignore-certificate-errors")
        env = dict(os.environ)
        if self.ca_cert:
            # Chromium on Linux trusts what $HOME/.pki/nssdb trusts: a home of its own, with the CA in it.
            env["HOME"] = os.path.join(self.profile, "home")
            nssdb = os.path.join(env["HOME"], ".pki", "nssdb")
            os.makedirs(nssdb)
            for command in (["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"],
                            ["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "test CA", "-i", self.ca_cert]):
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    self.__exit__(None, None, None)
                    raise ChromiumError(f"{' '.join(command)}: {done.stderr.strip()}")
        self.process = subprocess.Popen([chromium, *flags, "about:blank"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, env=env)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(300):  # at most 30 s for the browser to start
            if os.path.exists(port_file) and len(open(port_file).read().splitlines()) >= 2:
                break
            if self.process.poll() is not None:
                code = self.process.returncode
                self.__exit__(None, None, None)
                raise ChromiumError(f"chromium exited with {code}")
            asyncio.run(asyncio.sleep(0.1))
        else:
            self.__exit__(None, None, None)
            raise ChromiumError("chromium did not open its DevTools port in 30 s")
        port, path = open(port_file).read().splitlines()[:2]
        self.endpoint = f"ws://127.0.0.1:{port}{path}"
        return self

    def __exit__(self, *exc):
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None
        return False

    async def drive(self, body):
        """Runs `body(call, events)` on a new page's session: `call(method, params)` returns the
        result (raising on a protocol error); `events` collects every event the session received."""
        async with websockets.connect(self.endpoint, max_size=None) as cdp:
            ids = iter(range(1, 1_000_000))
            events = []
            session = None

            async def call(method, params=None):
                msg_id = next(ids)
                msg = {"id": msg_id, "method": method, "params": params or {}}
                if session:
                    msg["sessionId"] = session
                await cdp.send(json.dumps(msg))
                while True:
                    reply = json.loads(await cdp.recv())
                    if reply.get("id") == msg_id:
                        if "error" in reply:
                            raise ChromiumError(f"{method}: {reply['error']}")
                        return reply["result"]
                    if "method" in reply:
                        events.append(reply)

            target = (await call("Target.createTarget", {"url": "about:blank"}))["targetId"]
            session = (await call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
            return await body(call, events)
