# Intentcast processors, CLI and example vendors (the broker itself is apache/kafka).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE MANIFEST.in ./
COPY schemas ./schemas
COPY broker ./broker
COPY agents ./agents
# intentcast/ links broker, agents, schemas, examples and bench: installed as intentcast.*
COPY intentcast ./intentcast
COPY examples ./examples
COPY bench ./bench
RUN pip install --no-cache-dir . && useradd --create-home intentcast
USER intentcast
ENV PYTHONPATH=/app INTENTCAST_DATADIR=/home/intentcast/processors
ENTRYPOINT ["intentcast"]
CMD ["--help"]
