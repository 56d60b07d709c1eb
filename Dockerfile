# MentorHub image: the web app, the pipelines and the Prefect worker share it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml constraints.txt README.md ./
COPY api api
COPY serving serving
COPY models models
COPY features features
COPY pipelines pipelines
COPY experiments experiments
COPY dashboards dashboards
COPY deploy deploy
RUN pip install -c constraints.txt .
EXPOSE 8000
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "api.wsgi:app"]
