"""`sourcebook serve`'s app and server, plus one route that fails the way a bug fails.

Run as ``python -m tests.integration.faulty_api --host H --port P``; the tests use it to see what
a client gets from an unexpected exception on a real server process.
"""

from __future__ import annotations

import argparse

from core.settings import Settings
from sourcebook import server
from sourcebook.wiring import create_api


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = Settings()
    app = create_api(settings)

    def fail() -> None:
        raise RuntimeError("a bug no handler knows")

    app.add_api_route("/v1/fault", fail, methods=["GET"])
    server.run(app, settings, args.host, args.port)


if __name__ == "__main__":
    main()
