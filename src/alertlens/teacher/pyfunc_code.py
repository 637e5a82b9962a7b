"""The teacher's MLflow model as MLflow builds it: ``log_teacher_model`` logs this file (models
from code), so a registered version holds no pickle of a Python object."""

from mlflow.models import set_model

from alertlens.teacher.pyfunc import TeacherPyfunc

set_model(TeacherPyfunc())
