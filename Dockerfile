# One image for every Newsroom process: web, worker, beat, migrate, mail catcher.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 newsroom

COPY pyproject.toml README.md alembic.ini ./
COPY config ./config
COPY workflow ./workflow
COPY tasks ./tasks
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install --upgrade pip && pip install -e . && mkdir -p /app/var && chown newsroom /app/var

USER newsroom
EXPOSE 8000
CMD ["newsroom", "web", "--host", "0.0.0.0", "--port", "8000"]
