"""An async crawler on asyncio (or trio: pass "trio"); the event loop is never blocked."""

import os
import sys

import anyio

import livebar

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "0.05"))


async def main() -> None:
    urls = [f"https://example.com/{i}" for i in range(60)]
    async with livebar.live_activity("Crawl example.com", total=len(urls)) as act:
        for url in urls:
            await anyio.sleep(PAUSE)  # fetch(url)
            act.advance()
            act.update(subtitle=url.rsplit("/", 1)[-1])


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
