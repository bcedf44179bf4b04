# dropviz in a container: one replica. Several replicas go behind deploy/nginx.conf (sticky sessions).
# Build: docker build --build-arg TORCH_INDEX=<PyTorch's CPU wheel index> -t dropviz .
# Run:   docker run -p 8501:8501 dropviz
FROM python:3.11-slim

WORKDIR /app
# NUMBA_CACHE_DIR: the compiled training kernel is kept outside the code, where the runtime user may write.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    OPENBLAS_NUM_THREADS=1 \
    NUMBA_CACHE_DIR=/var/cache/dropviz/numba
# torch's CPU build: without PyTorch's CPU index, pip would pull the multi-GB CUDA build.
ARG TORCH_INDEX
RUN test -n "$TORCH_INDEX" && pip install torch==2.13.0 --index-url "$TORCH_INDEX"
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app.py server.py ./
COPY dropviz/ dropviz/
COPY .streamlit/ .streamlit/
COPY static/ static/
# Compile the training kernel once at build time, into NUMBA_CACHE_DIR; put plotly.js where the page loads it: the
# plotly package's full bundle, as the image has no npm to install package.json's basic one (dropviz/web/plotly_js.py).
RUN python -c "from dropviz.core.kernel import warm_up; warm_up()" && \
    python -c "from pathlib import Path; from dropviz.web import plotly_js; plotly_js.serve(Path('/app'))"

# The code stays root's and read-only, so a flaw in the app cannot rewrite it; the runtime user writes only the kernel
# cache and its home (Streamlit's settings directory).
RUN useradd --create-home dropviz && chown -R dropviz /var/cache/dropviz && chmod -R a-w /app
USER dropviz
EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["streamlit", "run", "server.py", "--server.port=8501", "--server.address=0.0.0.0"]
