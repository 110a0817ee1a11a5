"""Gunicorn settings shared by every HTTP process (override with WEB_CONCURRENCY, WEB_THREADS)."""
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 2))
threads = int(os.environ.get("WEB_THREADS", 4))
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("ACCESS_LOG") or None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Several gunicorn masters run side by side; gunicorn's shared default control socket
# ($HOME/.gunicorn/gunicorn.ctl) would make them fight over one path.
control_socket_disable = True
