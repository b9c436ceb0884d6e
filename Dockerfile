# One image for the API, the workers and the UI (docker-compose.yml picks the command).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 OMP_THREAD_LIMIT=1

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd libmagic1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The CPU build of torch first: any later plain `torch` requirement would pull the CUDA one (7 GB).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY requirements.lock pyproject.toml README.md ./
COPY core core
COPY ingest ingest
COPY retrieval retrieval
COPY api api
COPY workers workers
COPY ui ui
COPY eval eval
COPY bench bench
COPY sourcebook sourcebook
RUN pip install -c requirements.lock .

RUN useradd --create-home --uid 10001 sourcebook && mkdir /data && chown sourcebook /data
USER sourcebook
ENV SOURCEBOOK_HOME=/data
EXPOSE 8000 8501
CMD ["sourcebook", "serve", "--host", "0.0.0.0", "--port", "8000"]
