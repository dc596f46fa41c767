# The hub's image: one image, one process per container, chosen by the command
# (`connect <config.yaml>`, `worker`, `api`); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY eventlog ./eventlog
COPY schemas ./schemas
COPY connectors ./connectors
COPY streams ./streams
COPY projections ./projections
COPY ops ./ops
# A regular (non-editable) install: the sources are not needed at run time.
RUN pip install . && rm -rf /src

# Never root: the hub only needs its state dir (Faust table stores for the worker).
RUN useradd --system --uid 10001 --home-dir /var/lib/mpphub --create-home mpphub
USER mpphub
WORKDIR /var/lib/mpphub

ENTRYPOINT ["mpphub"]
CMD ["--help"]
