"""The ceiling: a bare Flask endpoint, served by gunicorn with the services' settings."""
from flask import Flask


def create_app() -> Flask:
    """Return an app with one JSON endpoint and nothing else."""
    app = Flask(__name__)

    @app.get("/ping")
    def ping():
        return {"ok": True}

    return app
