FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY integrity integrity
COPY service service
COPY projections projections
COPY api api
COPY cli cli
COPY migrations migrations
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["dualtrack", "serve", "--host", "0.0.0.0", "--no-migrate"]
