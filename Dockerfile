# Embedding Explorer's image: one Streamlit process on $PORT (8501 unless set), as a non-root user.
#   docker build -t embedding-explorer .
#   docker run --rm -p 8501:8501 -e STREAMLIT_SERVER_COOKIE_SECRET="$(openssl rand -hex 32)" embedding-explorer
# Several of them behind a sticky proxy: deploy/compose.yaml (one machine) or deploy/k8s/ (a cluster); README,
# "For a course".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8501

WORKDIR /app

# The pinned runtime requirements; their --extra-index-url line fetches torch's CPU-only wheel from PyTorch's
# index (PyPI's Linux torch pulls several GB of CUDA libraries). A layer of its own: code edits do not reinstall.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The app's code and its production .streamlit/config.toml (.dockerignore lets nothing else in), owned by root and
# read-only to the user that runs it.
COPY . .
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin explorer
USER explorer

EXPOSE 8501
# The container is healthy while Streamlit answers its own health endpoint (a proxy or Kubernetes checks the same).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/_stcore/health\", timeout=2)"]

# Shell form so $PORT expands; exec so Streamlit is PID 1 and gets the stop signal. The cookie secret comes from the
# environment (STREAMLIT_SERVER_COOKIE_SECRET): every replica behind one proxy must share it.
CMD exec streamlit run app.py --server.port "$PORT" --server.address 0.0.0.0
