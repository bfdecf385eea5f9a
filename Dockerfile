# The gateway, production image. Build: docker build -t sa-gateway .
# Run (SQLite in a volume):  docker run -p 8000:8000 -v gw-data:/data -e GATEWAY_API_KEYS=... sa-gateway
# Run (PostgreSQL):          add -e GATEWAY_DATABASE_URL=postgresql+psycopg://user:pass@host/db
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY mappings ./mappings
COPY outbox ./outbox
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install -c constraints.txt .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GATEWAY_DATABASE_URL=sqlite:////data/gateway.db \
    GATEWAY_BLOB_DIR=/data/blobs \
    GATEWAY_LOG_FORMAT=json
RUN groupadd --system gateway && useradd --system --gid gateway --home-dir /data --shell /usr/sbin/nologin gateway \
    && mkdir -p /data && chown gateway:gateway /data
COPY --from=build /opt/venv /opt/venv
USER gateway
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live').status != 200)"
# Migrations on start (idempotent), then serve; exec so that signals reach the server.
CMD ["sh", "-c", "gateway migrate && exec gateway serve --host 0.0.0.0 --port 8000"]
