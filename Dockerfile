# syntax=docker/dockerfile:1
# The SFTJob operator image: kopf + kubernetes_asyncio, no torch.
#   docker build -t ghcr.io/sftjob/operator:0.1.0 .
#   docker run --rm -v ~/.kube/config:/kube/config:ro -e KUBECONFIG=/kube/config \
#       ghcr.io/sftjob/operator:0.1.0 --namespace team-a
# In a cluster it uses the pod's service account (see charts/sftjob-operator).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
# The distribution also lists the trainer and devcluster packages; the operator
# image ships neither, so their source folders stay empty here.
RUN mkdir -p trainer_image devcluster \
 && pip wheel --no-cache-dir --wheel-dir /wheels ".[operator]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "sftjob-operator[operator]" \
 && python -c "import importlib.util as u; assert u.find_spec('torch') is None" \
 && useradd --uid 1000 --no-create-home --shell /usr/sbin/nologin operator
USER 1000:1000
EXPOSE 8080 8081
ENTRYPOINT ["sftjob-operator"]
CMD ["--all-namespaces", "--liveness", "http://0.0.0.0:8080/healthz", "--metrics", "http://0.0.0.0:8081/metrics"]
