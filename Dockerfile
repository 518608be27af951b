# Build a wheel in one stage, run it as a non-root user in a slim one.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /wheels

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CRM_ENV=prod CRM_DOCUMENT_DIR=/app/data/documents
RUN groupadd --system crm && useradd --system --gid crm --home-dir /app crm \
    && mkdir -p /app/data/documents && chown -R crm:crm /app/data
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# `crm db upgrade` finds alembic.ini and migrations/ in the working directory.
COPY alembic.ini ./
COPY migrations ./migrations
USER crm
# Uploaded documents: mount a volume shared by every API process.
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live')"
# Run `crm db upgrade` once per release (a job), then start the workers; the scheduler runs as its own `crm scheduler`.
CMD ["crm", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
