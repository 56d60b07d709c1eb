"""gunicorn for the recommendation endpoint (`GET /api/v1/recommendations`, routed here by nginx).

gthread workers of one thread each: threads of one process only take turns on the interpreter lock
(`mentorhub bench serving` measured 405 requests/s with one thread against 260 with four). Each worker
loads the models, the catalogue, "free this week" per learner zone and the cards before it takes a
request. No sticky sessions: nothing here keeps per-client state, exposures get ids from the
PostgreSQL sequence.
"""
bind = "0.0.0.0:8000"
worker_class = "gthread"
workers = 2
threads = 1
keepalive = 30
timeout = 120
graceful_timeout = 30
accesslog = "-"
errorlog = "-"


def post_worker_init(worker):
    from api.recommendations.engine import warm_up

    warm_up(worker.wsgi, timeout=60)


def worker_exit(server, worker):
    from api.recommendations import exposures

    exposures.flush_all(timeout=30)  # queued exposures are written before the worker goes
