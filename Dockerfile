# syntax=docker/dockerfile:1
# Two images from one file; docker-compose.yml builds each by its target:
#   product    (pbxops:local)      the worker (the default command) and the operator CLI:
#                                    pbxops worker · pbxops <command> ...
#   simulator  (pbxsim:local)      the simulated PBX platform, helpdesk and mailbox, for dev stacks:
#                                    pbxsim serve --host 0.0.0.0 --seed ...
# The product image holds no simulator code and none of its dependencies (SQLAlchemy, aiosmtpd).
# Health checks are per role, so they live in docker-compose.yml, not here.
FROM python:3.11-slim AS base

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user; /data (the simulator's SQLite file) is theirs, so an empty named volume
# mounted there inherits that ownership.
RUN groupadd --system --gid 10001 pbxops \
 && useradd --system --uid 10001 --gid pbxops --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin pbxops \
 && install -d -o pbxops -g pbxops /data

WORKDIR /app

# The product's dependencies first, from pyproject.toml alone, so editing code does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY src/ src/
RUN pip install --no-cache-dir --no-deps . \
 && rm -rf build src/*.egg-info

# --- the simulator: the product's contracts (its lifecycle table) plus its own project ---------
FROM base AS simulator

LABEL org.opencontainers.image.title="pbxops-simulator" \
      org.opencontainers.image.description="Simulated Cloud PBX platform, helpdesk and mailbox for pbxops dev stacks" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Proprietary"

COPY sim/ sim/
RUN pip install --no-cache-dir ./sim \
 && rm -rf sim \
 && python -m compileall -q /usr/local/lib/python3.11/site-packages/pbxsim

USER pbxops
EXPOSE 8080 1025
CMD ["pbxsim", "serve", "--host", "0.0.0.0"]

# --- the product: worker and CLI (the last stage, so a plain `docker build .` gives it) ---------
FROM base AS product

LABEL org.opencontainers.image.title="pbxops" \
      org.opencontainers.image.description="Temporal workflows automating a Cloud PBX provider's procedures: worker and operator CLI" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Proprietary"

RUN rm -rf src \
 && python -m compileall -q /usr/local/lib/python3.11/site-packages/pbxops

USER pbxops

# worker callback receiver, worker Prometheus metrics
EXPOSE 8099 9464

CMD ["pbxops", "worker"]
