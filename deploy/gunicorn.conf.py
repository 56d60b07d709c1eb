"""gunicorn for MentorHub: eventlet workers (WebSockets); one worker per container, scale with containers."""
bind = "0.0.0.0:8000"
worker_class = "eventlet"
workers = 1
worker_connections = 1000
timeout = 60
graceful_timeout = 30
accesslog = "-"
errorlog = "-"


def post_worker_init(worker):
    """Each worker runs the periodic jobs' scheduler (a database lease lets one worker at a time run them;
    JOBS_INTERVAL_SECONDS=0 leaves them to a dedicated `mentorhub jobs --loop`)."""
    if not hasattr(worker.wsgi, "config"):  # the app failed to load: gunicorn serves its error page
        return
    from api.scheduler import start_scheduler

    try:
        worker.mentorhub_scheduler = start_scheduler(worker.wsgi)
    except Exception:  # noqa: BLE001  (no jobs is better than no web server)
        worker.log.exception("periodic jobs: the scheduler did not start")


def worker_exit(server, worker):
    """Hand the lease over at once instead of letting it expire."""
    scheduler = getattr(worker, "mentorhub_scheduler", None)
    if scheduler is not None:
        scheduler.stop(timeout=5)
