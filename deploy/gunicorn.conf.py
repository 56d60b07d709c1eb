"""gunicorn for MentorHub: eventlet workers (WebSockets); one worker per container, scale with containers."""
bind = "0.0.0.0:8000"
worker_class = "eventlet"
workers = 1
worker_connections = 1000
timeout = 60
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
