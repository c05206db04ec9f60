# CI only: the project Dockerfile's BASE in place of python:3.11-slim, with Debian's
# Python 3.11.
FROM newsroom-ci/apt
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
