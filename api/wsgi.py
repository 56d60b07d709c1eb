"""WSGI entry for gunicorn with eventlet workers: `gunicorn -k eventlet -w 1 api.wsgi:app`."""
from api.settings import get_settings

if get_settings().sqlalchemy_database_uri.startswith("postgresql") and get_settings().socketio_async_mode == "eventlet":
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()

from api import create_app  # noqa: E402

app = create_app()
