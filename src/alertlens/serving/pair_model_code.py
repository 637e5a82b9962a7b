"""The served pair as MLflow builds it: ``log_pair_model`` logs this file (models from code),
and loading the model runs it. A registered version therefore holds no pickle of a Python object,
which would run whatever code a tampered artifact store put in it as the server starts."""

from mlflow.models import set_model

from alertlens.serving.pair_model import PairModel

set_model(PairModel())
