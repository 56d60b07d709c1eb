"""The production-style entry point: Flask-SocketIO's eventlet server (`mentorhub serve`)."""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")  # the product owner's choice; see DESIGN.md

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402


def tune_garbage_collector() -> None:
    """Keep the collector off the startup heap and run it less often: with hundreds of sockets per worker its
    default pace (a young collection every 700 allocations, full ones over everything imported) stalled every
    green thread for up to a second at a time (see the chat benchmark in README.md)."""
    import gc

    gc.collect()
    gc.freeze()  # what exists now (modules, the app) lives as long as the process: never scan it again
    gc.set_threshold(50_000, 20, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve MentorHub with eventlet")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

    from api.settings import get_settings

    if get_settings().sqlalchemy_database_uri.startswith("postgresql"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()  # a slow query yields to the other green threads

    from api import create_app
    from api.extensions import socketio

    app = create_app()
    tune_garbage_collector()
    print(f"MentorHub is serving on http://{args.host}:{args.port}", flush=True)
    socketio.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
