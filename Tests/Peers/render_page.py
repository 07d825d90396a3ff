#!/usr/bin/env python3
"""A page rendered in headless Chromium (Debian's `chromium`, over the DevTools protocol), as a
user opening it would see it: `websockets logs --html` reports.

    render_page.py PAGE.html --screenshot OUT.png [--width 1200] [--height 900 --clip] [--scale 1]

Prints one JSON object: `charts` (each `svg[data-chart]` of the page: its name and how many
`.mark` elements it drew), `console` (console messages and uncaught exceptions), `blocked` (requests
the page tried: it must need none), `title`. Exit status 0 when the page was rendered (the caller
judges the result), 2 when the browser could not be driven."""
import argparse
import asyncio
import base64
import json
import os
import pathlib
import sys

from chromium import Chromium, ChromiumError

MEASURE = r"""
JSON.stringify({
  title: document.title,
  charts: [...document.querySelectorAll('svg[data-chart]')].map(svg => ({
    name: svg.dataset.chart,
    marks: svg.querySelectorAll('.mark').length,
    drawn: [...svg.querySelectorAll('.mark')].filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length,
  })),
  scripts: document.scripts.length,
})
"""


async def render(call, events, url, args):
    await call("Runtime.enable")
    await call("Log.enable")
    await call("Network.enable")
    await call("Page.enable")
    await call("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": args.height,
                                                      "deviceScaleFactor": args.scale, "mobile": False})
    await call("Page.navigate", {"url": url})
    for _ in range(100):  # at most 10 s for the load event
        if any(e.get("method") == "Page.loadEventFired" for e in events):
            break
        await asyncio.sleep(0.1)
        await call("Runtime.evaluate", {"expression": "1"})  # collects pending events
    measured = await call("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True})
    result = json.loads(measured["result"]["value"])
    shot = await call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": not args.clip})
    pathlib.Path(args.screenshot).write_bytes(base64.b64decode(shot["data"]))
    result["console"] = [e["params"] for e in events
                         if e.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")]
    result["requests"] = [e["params"]["request"]["url"] for e in events
                          if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] != url]
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--clip", action="store_true", help="the viewport only, not the whole page")
    args = parser.parse_args()
    url = pathlib.Path(os.path.abspath(args.page)).as_uri()
    try:
        with Chromium() as browser:
            result = asyncio.run(asyncio.wait_for(browser.drive(lambda call, events: render(call, events, url, args)), 60))
    except ChromiumError as error:
        print(json.dumps({"error": str(error)}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
