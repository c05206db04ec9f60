# CI only: PostgreSQL, Redis and nginx from Debian's packages, in one image from which
# each service of .ci/compose-local.yml runs its own program.
FROM newsroom-ci/apt
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-15 redis-server nginx-light gettext-base \
    && rm -rf /var/lib/apt/lists/*
COPY postgres-entrypoint /usr/local/bin/postgres-entrypoint
