"""The typed shape of every ``conf/`` group: which keys exist and what type each value has.

These are OmegaConf structured configs. ``ConfigSchema`` sits first in the defaults list of
``conf/config.yaml``, so Hydra merges every group file and experiment into it: an unknown key or a
value of the wrong type fails composition, in ``dvc exp run`` as in :func:`alertlens.config.compose`.
Hydra finds it through the ``hydra_plugins.alertlens_schemas`` plugin, which stores it in the
ConfigStore when Hydra scans its plugins (DVC's own composition included).

Defaults live in the YAML, not here: a field is ``MISSING`` (every option must state it) unless a
data export format makes it optional (``source_value``, ``keep``, ``label.unlabeled``, matching
``DataMapping``'s defaults) or a study kind does not use it (``threads``, ``select``, ``pruner``).
OmegaConf allows only plain types, ``X | None``, nested schemas, lists and dicts of them: a key
holding one of several shapes (a path or a list of paths) is ``Any`` and checked by its reader.
"""

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

SCHEMA_NAME = "alertlens_schema"  # the ConfigStore name conf/config.yaml's defaults list uses


@dataclass
class LabelSchema:
    path: Any = MISSING  # a dotted path or a list of them
    false_positive: Any = MISSING  # a list of values, or "*" for any other value
    true_positive: Any = MISSING
    unlabeled: list[Any] = field(default_factory=lambda: [None, ""])


@dataclass
class VerdictsSchema:
    files: str = MISSING  # glob inside the input directory (alertlens.alerts.verdicts)
    id: Any = MISSING
    label: LabelSchema = MISSING
    format: str = "csv"


@dataclass
class TruthSchema:
    cause: Any = MISSING  # dotted path(s) of the cause's name (the synthetic scenario)
    evidence: Any = MISSING  # dotted path(s) of the list of fields carrying its evidence


@dataclass
class KeepSchema:
    path: Any = MISSING
    values: list[Any] = MISSING


@dataclass
class SplitSchema:
    strategy: str = MISSING
    validation: float = MISSING
    test: float = MISSING
    seed: int = MISSING
    held_out_groups: int = MISSING


@dataclass
class GoldenSchema:
    path: str | None = None  # relative to the project root; None: no golden set
    data_config: str | None = None  # name under conf/data/ or a path; None: the data config


@dataclass
class DataSchema:
    name: str = MISSING
    format: str = MISSING
    files: str = MISSING
    id: Any = MISSING
    timestamp: Any = MISSING
    source: Any = MISSING
    source_value: str = "alert"
    group: Any = MISSING
    keep: KeepSchema | None = None
    label: LabelSchema | None = MISSING
    fields: dict[str, Any] = MISSING  # name -> path, list of paths, or {path, type}
    text_fields: list[str] = MISSING
    max_field_chars: int = MISSING
    # field -> address | number: rendered for the teacher as what it means (alerts.render)
    text_identifiers: dict[str, str] = field(default_factory=dict)
    max_reject_ratio: float = MISSING
    golden: GoldenSchema = field(default_factory=GoldenSchema)  # scored on by every pair
    # Named CIDR lists the ip features test addresses against (conf/features: ${data.networks}).
    networks: dict[str, list[str]] = field(
        default_factory=lambda: {
            "vuln_scanners": [],
            "internal": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        }
    )
    dedupe: str = "content"  # content | none (alertlens.alerts.mapping.DataMapping)
    max_record_bytes: int = 1048576  # larger records are rejected as record_too_large
    verdicts: VerdictsSchema | None = None  # case-system verdicts joined on the alert id
    truth: TruthSchema | None = None  # generation ground truth, for evaluation only
    split: SplitSchema = field(default_factory=SplitSchema)


@dataclass
class FeaturesSchema:
    networks: dict[str, list[str]] = MISSING
    features: list[dict[str, Any]] = MISSING  # entries checked by FeatureSpec.from_config


@dataclass
class TfidfSchema:
    word_ngrams: list[int] = MISSING
    char_ngrams: list[int] | None = MISSING
    min_df: int = MISSING
    max_features: int | None = MISSING
    sublinear_tf: bool = MISSING
    C: float = MISSING
    max_iter: int = MISSING


@dataclass
class FieldsBoosterSchema:
    num_leaves: int = MISSING
    learning_rate: float = MISSING
    n_estimators: int = MISSING
    min_data_in_leaf: int = MISSING
    early_stopping_rounds: int = MISSING
    num_threads: int = MISSING
    seed: int = MISSING


@dataclass
class BaselinesSchema:
    tfidf: TfidfSchema = field(default_factory=TfidfSchema)
    lightgbm: FieldsBoosterSchema = field(default_factory=FieldsBoosterSchema)


@dataclass
class DistributedSchema:
    nproc_per_node: int = MISSING
    backend: str = MISSING


@dataclass
class TeacherSchema:
    encoder: str = MISSING
    max_length: int = MISSING
    prior: str = MISSING
    prior_folds: int = MISSING
    precision: str = MISSING
    runtime: str = MISSING
    runtime_agreement_floor: float = MISSING
    device: str = MISSING
    epochs: int = MISSING
    batch_size: int = MISSING
    eval_batch_size: int = MISSING
    learning_rate: float = MISSING
    weight_decay: float = MISSING
    warmup_ratio: float = MISSING
    max_grad_norm: float = MISSING
    eval_every: int = MISSING
    patience: int = MISSING
    class_weight: str = MISSING
    seed: int = MISSING
    recall_target: float = MISSING
    threshold_rule: str = MISSING
    unknown_token_warn: float = MISSING
    train_subsample: int | None = MISSING
    validation_subsample: int | None = MISSING
    test_subsample: int | None = MISSING
    distributed: DistributedSchema = field(default_factory=DistributedSchema)  # harden's too


@dataclass
class EmbeddingSchema:
    method: str = MISSING
    epsilon: float = MISSING
    steps: int = MISSING
    step_size: float | None = MISSING
    weight: float = MISSING


@dataclass
class EvasionSchema:
    transforms: list[str] = MISSING
    variants_per_true_positive: int = MISSING
    max_compose: int = MISSING
    false_positive_share: float = MISSING


@dataclass
class AugmentSchema(EvasionSchema):
    false_positive_transforms: list[str] = MISSING


@dataclass
class AttackSchema:
    alerts: int = MISSING
    query_budget: int = MISSING
    candidates_per_step: int = MISSING
    max_steps: int = MISSING
    random_tries: int = MISSING


@dataclass
class ConfidenceSchema:
    alerts: int = MISSING
    passes: int = MISSING
    stable: float = MISSING
    seed: int = MISSING


@dataclass
class HardenSchema:
    enabled: bool = MISSING
    embedding: EmbeddingSchema = field(default_factory=EmbeddingSchema)
    augment: AugmentSchema = field(default_factory=AugmentSchema)
    epochs: int = MISSING
    batch_size: int = MISSING
    learning_rate: float = MISSING
    warmup_ratio: float = MISSING
    eval_every: int = MISSING
    patience: int = MISSING
    keep_best: bool = MISSING
    seed: int = MISSING
    train_subsample: int | None = MISSING
    attack: AttackSchema = field(default_factory=AttackSchema)
    confidence: ConfidenceSchema = field(default_factory=ConfidenceSchema)


@dataclass
class GuidedSchema:
    alerts: int = MISSING
    per_field: int = MISSING
    min_count: int = MISSING


@dataclass
class TransferSchema:
    dropout_share: float = MISSING
    dropout_rate: float = MISSING
    swap_share: float = MISSING
    evasion: EvasionSchema | None = field(default_factory=EvasionSchema)  # null: no variants


@dataclass
class SurrogateSchema:
    objective: str = MISSING
    temperature: float = MISSING
    label_centre: str = MISSING
    num_leaves: int = MISSING
    max_depth: int = MISSING
    learning_rate: float = MISSING
    n_estimators: int = MISSING
    min_data_in_leaf: int = MISSING
    feature_fraction: float = MISSING
    bagging_fraction: float = MISSING
    lambda_l2: float = MISSING
    cat_smooth: float = MISSING
    early_stopping_rounds: int = MISSING
    num_threads: int = MISSING
    seed: int = MISSING
    train_subsample: int | None = MISSING
    treeshap_engine: str = MISSING
    detection_gain: float = MISSING
    similar_alerts: int = MISSING
    text_evidence: bool = MISSING
    guided: GuidedSchema = field(default_factory=GuidedSchema)
    transfer: TransferSchema = field(default_factory=TransferSchema)


@dataclass
class EvaluateSchema:
    test_subsample: int | None = MISSING
    faithfulness_alerts: int = MISSING
    ig_alerts: int = MISSING
    ks: list[int] = MISSING
    robustness_alerts: int = MISSING
    query_budget: int = MISSING
    explained_alerts: int = MISSING
    seed: int = MISSING


@dataclass
class BaselineGateSchema:
    metrics: list[str] = MISSING
    tolerance: float = MISSING


@dataclass
class GatesSchema:
    # metric -> {min|max: bound} and {max_drop|max_increase: change}, checked by the gates.
    # Any, not float: OmegaConf refuses an int such as {min: 1} inside a dict of dicts.
    floors: dict[str, dict[str, Any]] = MISSING
    relative: dict[str, dict[str, Any]] = MISSING
    baselines: BaselineGateSchema = field(default_factory=lambda: BaselineGateSchema())


@dataclass
class TrackingSchema:
    uri: str = MISSING
    experiment: str = MISSING
    artifacts: str = MISSING


@dataclass
class DriftSchema:
    feature_psi: float = MISSING
    min_drifted_features: int = MISSING
    max_feature_psi: float | None = MISSING
    score_psi: float = MISSING
    escalation_rate_change: float | None = MISSING
    disagreement_increase: float = MISSING
    recall_drop: float | None = MISSING
    f1_drop: float | None = MISSING
    min_labeled: int = MISSING
    min_labeled_positives: int = MISSING
    bins: int = MISSING
    max_levels: int = MISSING
    smoothing: float = MISSING
    min_alerts: int = MISSING
    max_scored_alerts: int = MISSING
    max_reference_alerts: int = MISSING
    max_feature_alerts: int = MISSING
    top_features: int = MISSING
    ignore_features: list[str] = MISSING
    max_reject_ratio: float = MISSING
    seed: int = MISSING


@dataclass
class SelectSchema:
    max_leaves: int | None = MISSING


@dataclass
class TuneSchema:
    n_trials: int = MISSING
    enqueue_current: bool = MISSING
    threads: int | None = None  # surrogate studies: LightGBM threads per trial
    sampler: dict[str, Any] = MISSING  # Optuna TPESampler arguments
    select: SelectSchema | None = None  # surrogate studies: which trial --write-config takes
    pruner: dict[str, Any] | None = None  # teacher studies: {name, ...the pruner's arguments}
    space: dict[str, Any] = MISSING  # nested like the composed config; checked by SearchSpace


@dataclass
class ConfigSchema:
    """The composed configuration (conf/config.yaml): one schema per group it selects."""

    data: DataSchema = field(default_factory=DataSchema)
    features: FeaturesSchema = field(default_factory=FeaturesSchema)
    baselines: BaselinesSchema = field(default_factory=BaselinesSchema)
    teacher: TeacherSchema = field(default_factory=TeacherSchema)
    harden: HardenSchema = field(default_factory=HardenSchema)
    surrogate: SurrogateSchema = field(default_factory=SurrogateSchema)
    evaluate: EvaluateSchema = field(default_factory=EvaluateSchema)
    gates: GatesSchema = field(default_factory=GatesSchema)
    tracking: TrackingSchema = field(default_factory=TrackingSchema)
    drift: DriftSchema = field(default_factory=DriftSchema)


# Every group under conf/, including those read on their own (`tune`, by `alertlens tune`).
GROUP_SCHEMAS: dict[str, type] = {
    "data": DataSchema,
    "features": FeaturesSchema,
    "baselines": BaselinesSchema,
    "teacher": TeacherSchema,
    "harden": HardenSchema,
    "surrogate": SurrogateSchema,
    "evaluate": EvaluateSchema,
    "gates": GatesSchema,
    "tracking": TrackingSchema,
    "drift": DriftSchema,
    "tune": TuneSchema,
}


def register() -> None:
    """Store the root schema in Hydra's ConfigStore under :data:`SCHEMA_NAME`."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA_NAME, node=ConfigSchema)
