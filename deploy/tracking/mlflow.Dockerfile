# The MLflow server with the PostgreSQL driver SQLAlchemy uses for postgresql:// (psycopg 3) and
# boto3 for the S3 artifact store. Keep the MLflow version in step with the clients' (pyproject).
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir "psycopg[binary]>=3.1" "boto3>=1.34"
