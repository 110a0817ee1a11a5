"""The ceiling: a bare Flask endpoint, served as the services are (and under gunicorn, for reference)."""
from flask import Flask


def create_app() -> Flask:
    """Return an app with one JSON endpoint and nothing else."""
    app = Flask(__name__)

    @app.get("/ping")
    def ping():
        return {"ok": True}

    return app
