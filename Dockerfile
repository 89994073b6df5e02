# syntax=docker/dockerfile:1
# One image for the three pbxops processes; docker-compose.yml picks the command:
#   python worker.py                                      the Temporal worker (the default)
#   python -m simulator serve --host 0.0.0.0 --seed ...   the simulated PBX platform/helpdesk
#   pbxops ...                                            the operator CLI
# Health checks are per role, so they live in docker-compose.yml, not here.
FROM python:3.11-slim

LABEL org.opencontainers.image.title="pbxops" \
      org.opencontainers.image.description="Temporal workflows automating a Cloud PBX provider's procedures: worker, operator CLI and platform simulator" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Proprietary"

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

# Dependencies first, from pyproject.toml alone, so editing the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The sources (the packages pyproject.toml installs, and the top-level worker module).
COPY worker.py ./
COPY contracts/ contracts/
COPY workflows/ workflows/
COPY activities/ activities/
COPY starter/ starter/
COPY simulator/ simulator/
COPY runtime/ runtime/
RUN pip install --no-cache-dir . \
 && rm -rf build ./*.egg-info \
 && python -m compileall -q /app

USER pbxops

# simulator HTTP, worker callback receiver, worker Prometheus metrics
EXPOSE 8080 8099 9464

CMD ["python", "worker.py"]
