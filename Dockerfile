# Multi-stage build: Node builds the front-end assets, a slim Python image runs the service.
# (No Docker engine runs on the development machines; this file is kept simple and is not CI-tested.)

FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts ./scripts
COPY app/assets ./app/assets
RUN npm run build

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MARKETPLACE_ENVIRONMENT=production
RUN useradd --create-home --uid 10001 marketplace
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
RUN pip install --no-cache-dir . \
 && pybabel compile --statistics --directory app/translations --domain messages
COPY --from=assets /src/app/static/dist ./app/static/dist
USER marketplace
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
# Run `marketplace migrate` once per release (for example as a separate job) before starting new workers.
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--proxy-headers"]
