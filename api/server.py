"""The production-style entry point: Flask-SocketIO's eventlet server (`mentorhub serve`)."""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")  # the product owner's choice; see DESIGN.md

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything else imports the standard library's socket, threading and time

import argparse  # noqa: E402
import socket  # noqa: E402

from api import create_app  # noqa: E402
from api.addresses import served_url  # noqa: E402
from api.extensions import socketio  # noqa: E402
from api.process import tune_garbage_collector  # noqa: E402
from api.scheduler import start_scheduler  # noqa: E402
from api.schema import SchemaNotReady, require_current_schema  # noqa: E402
from api.settings import get_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve MentorHub with eventlet")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    _refuse_a_busy_port(args.host, args.port)

    try:
        require_current_schema(get_settings().sqlalchemy_database_uri)
    except SchemaNotReady as error:
        raise SystemExit(f"Error: {error}") from None
    if get_settings().sqlalchemy_database_uri.startswith("postgresql"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()  # a slow query yields to the other green threads

    # links made outside a request (jobs, e-mails) point here unless PUBLIC_BASE_URL is set
    app = create_app(config={"SERVED_URL": served_url(args.host, args.port)})
    tune_garbage_collector()
    start_scheduler(app)  # the periodic jobs, in a green thread of this server
    print(f"MentorHub is serving on http://{args.host}:{args.port}", flush=True)
    socketio.run(app, host=args.host, port=args.port)


def _refuse_a_busy_port(host: str, port: int) -> None:
    """Stop when something listens on the port already: eventlet binds with SO_REUSEPORT, so a second server
    would start silently and share the first one's connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SystemExit(f"Error: cannot serve on {host}:{port}: {error.strerror}. Is MentorHub already running "
                             "there? Stop it, or choose another port (`make run PORT=5001`).") from None


if __name__ == "__main__":
    main()
