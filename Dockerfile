# syntax=docker/dockerfile:1
# One image for every Python process of the stack (gateway, services, workers, migrations,
# demo seed); docker-compose.yml chooses the command. Configuration is by environment only.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies first, in their own layer, so that a source change does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The source tree stays in the working directory: the migrations, templates and demo bundles
# are read from it, and each service is started as `python -m services.common.serve ...`.
COPY . .
RUN pip install --no-deps -c constraints.txt . \
 && rm -rf build *.egg-info \
 && python -m compileall -q services gateway contracts launcher

# An unprivileged user; /data (PHR_VAR_DIR) holds the gateway's signing key and the demo
# credentials and is owned by that user so that a named volume mounted there inherits it
# (docker-compose.yml mounts one for the gateway and the seed; no VOLUME here, so that the
# other services do not each leave an anonymous volume behind). /data/metrics too: each
# service's HTTP process and worker share a volume there (services/common/multiprocess.py).
# /webhook-key likewise: the exchange's worker makes its webhook signing key there, and writes
# its public part to /webhook-public-key, which the gateway reads (PHR_WEBHOOK_KEY_FILE and
# PHR_WEBHOOK_PUBLIC_KEY_FILE in docker-compose.yml).
RUN groupadd --system --gid 10001 phr \
 && useradd --system --uid 10001 --gid phr --home-dir /home/phr --create-home --shell /usr/sbin/nologin phr \
 && mkdir -p /data/metrics /webhook-key /webhook-public-key /service-secrets \
 && chown -R phr:phr /data /webhook-key /webhook-public-key /service-secrets \
 && chmod -R 0700 /data /webhook-key /webhook-public-key /service-secrets
USER phr

# BIND_HOST: the Procfile's HTTP lines listen on every interface of the container.
ENV PHR_VAR_DIR=/data BIND_HOST=0.0.0.0
EXPOSE 8080 8081 8082 8083

CMD ["python", "-m", "launcher.run", "gateway"]
