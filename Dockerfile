# One image for every Newsroom process: web, worker, beat, migrate, mail catcher.
# BASE: python:3.11-slim, or any Debian-like image with Python 3.11 and its venv module,
# for a host that reaches no image registry (docs/operations.md: Building without a
# registry).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PATH=/opt/newsroom/bin:$PATH
WORKDIR /app
RUN useradd --create-home --uid 10001 newsroom

# The dependencies in a layer of their own, rebuilt only when pyproject.toml changes, in
# a virtual environment: the same on a base whose Python is Debian's (which pip may not
# change) as on python:3.11-slim.
COPY pyproject.toml ./
RUN python3 -m venv /opt/newsroom \
    && pip install --upgrade pip \
    && python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md alembic.ini ./
COPY config ./config
COPY workflow ./workflow
COPY tasks ./tasks
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# var/media is made here, owned by the app, so that a new volume mounted on it is too.
RUN pip install --no-deps -e . \
    && mkdir -p /app/var/media && chown -R newsroom /app/var

USER newsroom
EXPOSE 8000
CMD ["newsroom", "web", "--host", "0.0.0.0", "--port", "8000"]
